"""How wide a subtitle is drawn: Pillow, with the font and the size libass burns it in.

libass sizes a font so that its ascender plus descender (not its em) equals the style's
``FontSize``; Noto Sans CJK's are 1160 + 288 per 1000 em, so the em is 0.69 of the size.
Measured against libass on burned frames, widths agree within a pixel or two (the test
burns a line and compares).
"""

from __future__ import annotations

import re
from functools import cache

from PIL import ImageFont
from pydantic import BaseModel

from dramaforge.tools.media.fonts import FONT_NAME, font_path
from dramaforge.tools.media.subtitles import (
    ASS_HEIGHT,
    FONT_FRACTION,
    SAFE_WIDTH,
    line_units,
    wrap_text,
)

MEASURE_SIZE = 1000  # measure at a large size, then scale: no hinting or rounding errors
# A run libass cannot break: anything but whitespace and wide (CJK) characters, which it
# may break between.
UNBREAKABLE = re.compile(r"[^\s\u1100-\u115f\u2e80-\ua4cf\uac00-\ud7a3\uf900-\ufaff\uff00-\uff60]+")


class Overflow(BaseModel):
    """A piece of a cue drawn wider than the safe area."""

    text: str
    width: float  # pixels, as burned
    safe: float  # pixels available


@cache
def _font() -> ImageFont.FreeTypeFont:
    for index in range(10):
        try:
            font = ImageFont.truetype(str(font_path()), MEASURE_SIZE, index=index)
        except OSError:
            break
        if font.getname()[0] == FONT_NAME:
            return font
    return ImageFont.truetype(str(font_path()), MEASURE_SIZE)


def font_px(height: int) -> float:
    """The libass font size in frame pixels (as ``subtitle_filter`` sets it)."""
    return height * round(ASS_HEIGHT * FONT_FRACTION) / ASS_HEIGHT


def text_width(text: str, height: int) -> float:
    """Advance width in pixels of one line of ``text`` burned into a frame ``height`` tall."""
    font = _font()
    ascent, descent = font.getmetrics()
    em = font_px(height) * MEASURE_SIZE / (ascent + descent)
    return float(font.getlength(text)) * em / MEASURE_SIZE


def overflows(text: str, width: int, height: int) -> list[Overflow]:
    """The parts of a cue that will be drawn wider than the safe area.

    The cue is wrapped exactly as ``assemble`` wraps it, and libass wraps again at spaces
    and between CJK characters; what can still overflow is a run it cannot break (a long
    word, a URL, a number with units). Each such run wider than the safe area is returned.
    """
    safe = width * SAFE_WIDTH
    found = []
    for line in wrap_text(text, line_units(width, height)).splitlines():
        for run in UNBREAKABLE.findall(line):
            drawn = text_width(run, height)
            if drawn > safe:
                found.append(Overflow(text=run, width=round(drawn, 1), safe=round(safe, 1)))
    return found
