"""How wide a subtitle is drawn, and breaking cues into at most two lines that fit.

Widths are measured with Pillow on the font and at the size libass burns them with (the em
from ``subtitles.Layout``; Latin word spaces widened as ``write_ass`` widens them). Measured
against libass on burned frames, widths agree within a pixel or two (a test burns a line and
compares).
"""

from __future__ import annotations

import re
import unicodedata
from functools import cache

from PIL import ImageFont
from pydantic import BaseModel

from dramaforge.media.fonts import FONT_NAME, font_path
from dramaforge.media.subtitles import (
    BREAK_AFTER,
    MAX_LINES,
    WORD_SPACE_EXTRA,
    Layout,
    _tokens,
    _units,
)
from dramaforge.schema import Cue

MEASURE_SIZE = 1000  # measure at a large size, then scale: no hinting or rounding errors
# A run libass cannot break: anything but whitespace and wide (CJK) characters, which it
# may break between.
UNBREAKABLE = re.compile(r"[^\s\u1100-\u115f\u2e80-\ua4cf\uac00-\ud7a3\uf900-\ufaff\uff00-\uff60]+")
# A break after punctuation reads better: it may leave its line this much (share of the safe
# width) longer than the most even break.
PUNCTUATION_BONUS = 0.15


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


def font_px(height: int, width: int | None = None) -> float:
    """The em in frame pixels of subtitles burned into a frame ``height`` tall (portrait
    when ``width`` is given and smaller than the height)."""
    return Layout(width if width is not None else height * 16 // 9, height).em


def text_width(text: str, height: int, width: int | None = None) -> float:
    """Advance width in pixels of one line of ``text`` as burned into the frame."""
    em = font_px(height, width)
    drawn = " ".join(text.split())
    return float(_font().getlength(drawn)) * em / MEASURE_SIZE + drawn.count(" ") * (
        round(em * WORD_SPACE_EXTRA, 1)
    )


def _width(text: str, layout: Layout) -> float:
    return text_width(text, layout.height, layout.width)


def break_lines(text: str, layout: Layout) -> list[str]:
    """``text`` as lines that fit the safe width: one if it fits, else the most even two
    (preferring a break after punctuation), else as many as it takes (greedy)."""
    tokens = _tokens(" ".join(text.split()))
    if not tokens:
        return []
    whole = "".join(tokens).rstrip()
    limit = layout.max_width
    if _width(whole, layout) <= limit:
        return [whole]
    best: tuple[float, list[str]] | None = None
    for i in range(1, len(tokens)):
        a, b = "".join(tokens[:i]).rstrip(), "".join(tokens[i:]).rstrip()
        wa, wb = _width(a, layout), _width(b, layout)
        if max(wa, wb) > limit:
            continue
        cost = max(wa, wb) - (PUNCTUATION_BONUS * limit if a[-1:] in BREAK_AFTER else 0.0)
        if best is None or cost < best[0]:
            best = (cost, [a, b])
    if best is not None:
        return best[1]
    lines: list[str] = []
    current: list[str] = []
    for token in tokens:
        if current and _width("".join([*current, token]).rstrip(), layout) > limit:
            lines.append("".join(current).rstrip())
            current = []
        current.append(token)
    lines.append("".join(current).rstrip())
    return [ln for ln in lines if ln]


def join_text(a: str, b: str) -> str:
    """Two pieces of cue text as one: CJK text runs on, Latin words keep a space between."""
    a, b = " ".join(a.split()), " ".join(b.split())
    if not a or not b:
        return a or b
    wide = unicodedata.east_asian_width(a[-1]) in "WF" or unicodedata.east_asian_width(b[0]) in "WF"
    return f"{a}{'' if wide else ' '}{b}"


def _chunks(text: str, layout: Layout) -> list[str]:
    """``text`` in pieces of at most two lines each, cut after punctuation where possible."""
    clauses, current = [], ""
    for token in _tokens(" ".join(text.split())):
        current += token
        if token.rstrip()[-1:] in BREAK_AFTER:
            clauses.append(current)
            current = ""
    if current:
        clauses.append(current)
    chunks: list[str] = []
    for clause in clauses:
        joined = join_text(chunks[-1], clause) if chunks else clause
        if chunks and len(break_lines(joined, layout)) <= MAX_LINES:
            chunks[-1] = joined
            continue
        lines = break_lines(clause, layout)  # a clause longer than two lines: two at a time
        for i in range(0, len(lines), MAX_LINES):
            part = lines[i]
            for more in lines[i + 1 : i + MAX_LINES]:
                part = join_text(part, more)
            chunks.append(part)
    return chunks


def split_cue(cue: Cue, layout: Layout) -> list[Cue]:
    """``cue`` as one or more cues of at most two lines each, its time shared by length.

    A line too long for two lines on screen is shown in parts, one after the other (cut at
    punctuation where it can be), rather than as a third line over the picture.
    """
    lines = break_lines(cue.text, layout)
    if len(lines) <= MAX_LINES:
        return [cue.model_copy(update={"text": "\n".join(lines)})]
    chunks = _chunks(cue.text, layout)
    weights = [max(1, _units(c)) for c in chunks]
    out, t = [], cue.start
    for chunk, weight in zip(chunks, weights, strict=True):
        end = t + (cue.end - cue.start) * weight / sum(weights)
        text = "\n".join(break_lines(chunk, layout))
        out.append(
            cue.model_copy(update={"start": round(t, 3), "end": round(end, 3), "text": text})
        )
        t = end
    return out


def overflows(text: str, width: int, height: int) -> list[Overflow]:
    """The parts of a cue that will be drawn wider than the safe area.

    Lines are drawn as broken (``break_lines``); what can still overflow is a run that cannot
    be broken (a long word, a URL, a number with units). Each such run wider than the safe
    area is returned.
    """
    layout = Layout(width, height)
    safe = layout.max_width
    found = []
    for line in text.splitlines():
        for run in UNBREAKABLE.findall(line):
            drawn = _width(run, layout)
            if drawn > safe:
                found.append(Overflow(text=run, width=round(drawn, 1), safe=round(safe, 1)))
    return found
