"""``episode.ass`` for editors and players that keep styles: the very script that was burned.

Same cues as ``episode.srt`` (times, line breaks) and the same style (font, size, outline,
margins, widened Latin word spacing) because it is written by the same function,
``subtitles.ass_script``, with each line's speaker in the event's Name field; the script
resolution is the frame size, so it looks the same in Aegisub, mpv or an NLE.
"""

from __future__ import annotations

from pathlib import Path

from dramaforge.media.bilingual import split_translation
from dramaforge.media.store import atomic_write
from dramaforge.media.subtitles import ass_script
from dramaforge.schema import Cue


def write_ass(
    cues: list[Cue],
    dest: Path,
    width: int,
    height: int,
    title: str = "",
    originals: list[str] | None = None,
) -> Path:
    """Write the ``.ass`` file atomically (UTF-8 with BOM, which Windows tools expect).

    ``originals`` are the cues' texts as spoken: a cue read back from a bilingual SRT holds
    more, its translation, which is drawn smaller as it was burned."""
    if originals is not None:
        cues = [_split(c, o) for c, o in zip(cues, originals, strict=True)]
    atomic_write(dest, "\ufeff" + ass_script(cues, width, height, title))
    return dest


def _split(cue: Cue, original: str) -> Cue:
    parts = split_translation(cue.text, original)
    if parts is None:
        return cue
    text, translation, first = parts
    return cue.model_copy(
        update={"text": text, "translation": translation, "translation_first": first}
    )
