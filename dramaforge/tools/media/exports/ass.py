"""``episode.ass`` for editors and players that keep styles: the very script that was burned.

Same cues as ``episode.srt`` (times, line breaks) and the same style (font, size, outline,
margins, widened Latin word spacing) because it is written by the same function,
``subtitles.ass_script``, with each line's speaker in the event's Name field; the script
resolution is the frame size, so it looks the same in Aegisub, mpv or an NLE.
"""

from __future__ import annotations

from pathlib import Path

from dramaforge.schema import Cue
from dramaforge.tools.media.store import atomic_write
from dramaforge.tools.media.subtitles import ass_script


def write_ass(cues: list[Cue], dest: Path, width: int, height: int, title: str = "") -> Path:
    """Write the ``.ass`` file atomically (UTF-8 with BOM, which Windows tools expect)."""
    atomic_write(dest, "\ufeff" + ass_script(cues, width, height, title))
    return dest
