"""SRT files and the libass filter that burns them in with the CJK font."""

from __future__ import annotations

import re
import unicodedata
from pathlib import Path

from dramaforge.schema import Cue
from dramaforge.tools.media.fonts import FONT_NAME, font_dir


def _stamp(t: float) -> str:
    ms = max(0, round(t * 1000))
    h, rem = divmod(ms, 3_600_000)
    m, rem = divmod(rem, 60_000)
    s, ms = divmod(rem, 1000)
    return f"{h:02d}:{m:02d}:{s:02d},{ms:03d}"


def write_srt(cues: list[Cue], dest: Path) -> None:
    blocks = [
        f"{i}\n{_stamp(c.start)} --> {_stamp(c.end)}\n{c.text.strip()}\n"
        for i, c in enumerate(cues, start=1)
    ]
    dest.write_text("\n".join(blocks), encoding="utf-8")


STAMP = re.compile(r"(\d+):(\d+):(\d+)[,.](\d+)\s*-->\s*(\d+):(\d+):(\d+)[,.](\d+)")


def read_srt(path: Path) -> list[Cue]:
    cues = []
    for block in re.split(r"\n\s*\n", path.read_text(encoding="utf-8-sig").strip()):
        lines = block.strip().splitlines()
        match = next((STAMP.search(ln) for ln in lines if STAMP.search(ln)), None)
        if match is None:
            continue
        g = [int(x) for x in match.groups()]
        start = g[0] * 3600 + g[1] * 60 + g[2] + g[3] / 1000
        end = g[4] * 3600 + g[5] * 60 + g[6] + g[7] / 1000
        text_at = next(i for i, ln in enumerate(lines) if STAMP.search(ln)) + 1
        cues.append(Cue(start=start, end=end, text="\n".join(lines[text_at:])))
    return cues


def _units(ch: str) -> int:
    return 2 if unicodedata.east_asian_width(ch) in ("W", "F") else 1


def wrap_text(text: str, max_units: int) -> str:
    """Break ``text`` so no line is wider than ``max_units`` (CJK characters count two).

    Latin text breaks at spaces; CJK text may break anywhere, preferring after punctuation.
    """
    lines: list[str] = []
    current = ""
    for token in re.findall(r"[A-Za-z0-9'’\-]+[^\S\n]*|\S[^\S\n]*|\s", text.strip()):
        width = sum(_units(c) for c in (current + token).rstrip())
        if current and width > max_units:
            lines.append(current.rstrip())
            current = token.lstrip()
        else:
            current += token
    if current.strip():
        lines.append(current.rstrip())
    return "\n".join(lines)


FONT_FRACTION = 0.05  # subtitle height as a fraction of the frame height
SAFE_WIDTH = 0.84  # share of the frame width that subtitles may use
ASS_HEIGHT, ASS_WIDTH = 288, 384  # libass's script resolution for converted SRT


def line_units(width: int, height: int) -> int:
    """How many half-width characters fit on one subtitle line inside the safe area."""
    font_px = height * FONT_FRACTION
    return max(10, int(width * SAFE_WIDTH / (font_px * 0.55)))


def subtitle_filter(srt_name: str, width: int, height: int) -> str:
    """libass filter for ``srt_name`` (a bare file name: run ffmpeg in its folder).

    Sizes are in libass's script units (288 lines tall), so they scale with the frame.
    """
    size = round(ASS_HEIGHT * FONT_FRACTION)
    margin = round(ASS_WIDTH * (1 - SAFE_WIDTH) / 2)
    style = (
        f"FontName={FONT_NAME},FontSize={size},PrimaryColour=&H00FFFFFF,"
        f"OutlineColour=&H00000000,BorderStyle=1,Outline=1,Shadow=0,Alignment=2,"
        f"MarginV={round(ASS_HEIGHT * 0.07)},MarginL={margin},MarginR={margin}"
    )
    return (
        f"subtitles=filename='{srt_name}':fontsdir='{font_dir()}':"
        f"original_size={width}x{height}:force_style='{style}'"
    )
