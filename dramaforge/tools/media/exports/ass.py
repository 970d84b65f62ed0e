"""ASS subtitles styled like the burned ones, for editors and players that keep styles.

Same cues as ``episode.srt`` (times, line breaks), same font, size, outline and margins as
``subtitles.subtitle_filter`` burns them; the script resolution is the frame size, so every
number is in frame pixels and the file looks the same in Aegisub, mpv or an NLE.
"""

from __future__ import annotations

from pathlib import Path

from dramaforge.schema import Cue
from dramaforge.tools.media.bilingual import sizes, split_translation
from dramaforge.tools.media.fonts import FONT_NAME
from dramaforge.tools.media.store import atomic_write
from dramaforge.tools.media.subtitles import (
    ASS_HEIGHT,
    FONT_FRACTION,
    MARGIN_LANDSCAPE,
    MARGIN_PORTRAIT,
    SAFE_WIDTH,
)

OUTLINE = 1.2  # in libass's 288-line units, as subtitle_filter burns it


def _stamp(t: float) -> str:
    cs = max(0, round(t * 100))
    h, rem = divmod(cs, 360_000)
    m, rem = divmod(rem, 6000)
    s, cs = divmod(rem, 100)
    return f"{h}:{m:02d}:{s:02d}.{cs:02d}"


def _text(text: str) -> str:
    """Cue text as an ASS event: braces would start override tags, newlines are ``\\N``."""
    escaped = text.strip().replace("\\", "\\\\").replace("{", "\\{").replace("}", "\\}")
    return "\\N".join(escaped.splitlines())


def _event(text: str, original: str | None, small: float) -> str:
    """A cue's event text; a bilingual cue (``original`` plus more) draws its translation at
    the ``small`` size, as it is burned in."""
    parts = split_translation(text.strip(), original.strip()) if original else None
    if parts is None:
        return _text(text)
    source, translation, first = parts
    marked = f"{{\\fs{small:.1f}}}{_text(translation)}{{\\r}}"
    return f"{marked}\\N{_text(source)}" if first else f"{_text(source)}\\N{marked}"


def _field(value: str) -> str:
    """A comma-separated ASS field cannot hold a comma."""
    return value.replace(",", "，").replace("\n", " ")


def ass_text(
    cues: list[Cue],
    width: int,
    height: int,
    title: str = "",
    originals: list[str] | None = None,
) -> str:
    """The whole ``.ass`` file for ``cues`` on a ``width`` x ``height`` frame; ``originals``
    (one per cue, wrapped as in the SRT) tell a bilingual cue's translation from its line."""
    scale = height / ASS_HEIGHT  # libass script units to frame pixels
    size = round(ASS_HEIGHT * FONT_FRACTION) * scale
    small = sizes()[1] * scale  # a bilingual cue's translation, as burned
    bottom = MARGIN_PORTRAIT if height > width else MARGIN_LANDSCAPE
    margin_v = round(round(ASS_HEIGHT * bottom) * scale)
    margin_x = round(width * (1 - SAFE_WIDTH) / 2)  # the safe area, in frame pixels
    head = [
        "[Script Info]",
        f"Title: {_field(title)}",
        "ScriptType: v4.00+",
        f"PlayResX: {width}",
        f"PlayResY: {height}",
        "WrapStyle: 0",
        "ScaledBorderAndShadow: yes",
        "YCbCr Matrix: TV.709",
        "",
        "[V4+ Styles]",
        "Format: Name, Fontname, Fontsize, PrimaryColour, SecondaryColour, OutlineColour, "
        "BackColour, Bold, Italic, Underline, StrikeOut, ScaleX, ScaleY, Spacing, Angle, "
        "BorderStyle, Outline, Shadow, Alignment, MarginL, MarginR, MarginV, Encoding",
        f"Style: Default,{FONT_NAME},{size:.1f},&H00FFFFFF,&H000000FF,&H00000000,&H00000000,"
        f"0,0,0,0,100,100,0,0,1,{OUTLINE * scale:.2f},0,2,{margin_x},{margin_x},{margin_v},1",
        "",
        "[Events]",
        "Format: Layer, Start, End, Style, Name, MarginL, MarginR, MarginV, Effect, Text",
    ]
    events = [
        f"Dialogue: 0,{_stamp(c.start)},{_stamp(c.end)},Default,{_field(c.speaker or '')},"
        f"0,0,0,,{_event(c.text, originals[n] if originals else None, small)}"
        for n, c in enumerate(cues)
    ]
    return "\n".join([*head, *events]) + "\n"


def write_ass(
    cues: list[Cue],
    dest: Path,
    width: int,
    height: int,
    title: str = "",
    originals: list[str] | None = None,
) -> Path:
    """Write the ``.ass`` file atomically (UTF-8 with BOM, which Windows tools expect)."""
    atomic_write(dest, "\ufeff" + ass_text(cues, width, height, title, originals))
    return dest
