"""SRT files and the libass filter that burns them in with the bundled CJK font."""

from __future__ import annotations

import os
import re
import unicodedata
import uuid
from pathlib import Path

from dramaforge.errors import AssemblyError
from dramaforge.schema import Cue
from dramaforge.tools.media.fonts import FONT_NAME, font_dir

# --- SRT -------------------------------------------------------------------------------------


def _stamp(t: float) -> str:
    ms = max(0, round(t * 1000))
    h, rem = divmod(ms, 3_600_000)
    m, rem = divmod(rem, 60_000)
    s, ms = divmod(rem, 1000)
    return f"{h:02d}:{m:02d}:{s:02d},{ms:03d}"


def write_srt(cues: list[Cue], dest: Path) -> None:
    """Write ``cues`` as UTF-8 SRT (atomically: readers never see half a file)."""
    blocks = [
        f"{i}\n{_stamp(c.start)} --> {_stamp(c.end)}\n{c.text.strip()}\n"
        for i, c in enumerate(cues, start=1)
    ]
    tmp = dest.with_name(f".{dest.name}.{uuid.uuid4().hex[:8]}.tmp")
    tmp.write_text("\n".join(blocks), encoding="utf-8")
    os.replace(tmp, dest)


STAMP = re.compile(r"(\d+):(\d+):(\d+)[,.](\d+)\s*-->\s*(\d+):(\d+):(\d+)[,.](\d+)")


def _seconds(h: str, m: str, s: str, frac: str) -> float:
    return int(h) * 3600 + int(m) * 60 + int(s) + float(f"0.{frac}")


def read_srt(path: Path) -> list[Cue]:
    """Parse an SRT file (BOM, CRLF and ``.`` millisecond separators tolerated)."""
    text = path.read_text(encoding="utf-8-sig").replace("\r\n", "\n")
    cues = []
    for block in re.split(r"\n\s*\n", text.strip()):
        lines = block.strip().splitlines()
        at = next((i for i, ln in enumerate(lines) if STAMP.search(ln)), None)
        if at is None:
            continue
        g = STAMP.search(lines[at]).groups()  # type: ignore[union-attr]
        cues.append(
            Cue(start=_seconds(*g[:4]), end=_seconds(*g[4:]), text="\n".join(lines[at + 1 :]))
        )
    return cues


# --- line breaking ---------------------------------------------------------------------------

# A CJK line may break anywhere, but reads better just after punctuation.
BREAK_AFTER = set("，。！？；：、…—）》」』,.!?;:)")


def _wide(ch: str) -> bool:
    return unicodedata.east_asian_width(ch) in ("W", "F")


def _units(text: str) -> int:
    return sum(2 if _wide(c) else 1 for c in text)


def _tokens(text: str) -> list[str]:
    """Unbreakable pieces: a Latin word (with its punctuation) or one CJK character.

    Trailing spaces stay on their token; CJK punctuation sticks to the character before it,
    so no line ever starts with a comma or a full stop.
    """
    tokens: list[str] = []
    for ch in text:
        if ch.isspace():
            if tokens:
                tokens[-1] += " "
        elif tokens and (
            (ch in BREAK_AFTER and not tokens[-1].endswith(" "))
            or (not _wide(ch) and not tokens[-1].endswith(" ") and not _wide(tokens[-1][-1]))
        ):
            tokens[-1] += ch
        else:
            tokens.append(ch)
    return tokens


def _wrap_line(text: str, max_units: int) -> list[str]:
    lines: list[str] = []
    current: list[str] = []
    for token in _tokens(" ".join(text.split())):
        if current and _units("".join([*current, token]).rstrip()) > max_units:
            # Break after the last punctuation in the second half of the line, if there is one.
            cut = len(current)
            for i in range(len(current) - 1, len(current) // 2, -1):
                if current[i].rstrip()[-1:] in BREAK_AFTER:
                    cut = i + 1
                    break
            lines.append("".join(current[:cut]).rstrip())
            current = current[cut:]
        current.append(token)
    if current:
        lines.append("".join(current).rstrip())
    return [ln for ln in lines if ln]


def wrap_text(text: str, max_units: int) -> str:
    """Break ``text`` so no line is wider than ``max_units`` (CJK characters count two).

    Latin text breaks at spaces (a single word longer than a line is kept whole); CJK text
    may break between any two characters and prefers to break after punctuation. Existing
    line breaks are kept.
    """
    return "\n".join(ln for para in text.splitlines() for ln in _wrap_line(para, max_units))


# --- burning ---------------------------------------------------------------------------------

FONT_FRACTION = 0.05  # subtitle size as a fraction of the frame height
SAFE_WIDTH = 0.84  # share of the frame width that subtitles may use
# Bottom margin (fraction of height): phone apps cover the bottom of a vertical video with
# captions and buttons, so vertical frames keep subtitles higher.
MARGIN_PORTRAIT, MARGIN_LANDSCAPE = 0.14, 0.07
ASS_HEIGHT, ASS_WIDTH = 288, 384  # libass's script resolution for converted SRT
# Width of one unit (half a CJK glyph) as a share of the libass font size, measured on Noto
# Sans CJK: a CJK glyph is ~0.70 of the size, average Latin letters ~0.33; kept a little wide.
UNIT_EM = 0.37

FONT_SELECTED = re.compile(r"fontselect: \(([^,]*), \d+, \d+\) -> ([^,\n]*)")
FONT_MISSING = re.compile(r"Glyph 0x[0-9A-Fa-f]+ not found|fontselect: failed[^\n]*")


def line_units(width: int, height: int) -> int:
    """How many half-width characters fit on one subtitle line inside the safe area."""
    font_px = height * round(ASS_HEIGHT * FONT_FRACTION) / ASS_HEIGHT  # as subtitle_filter
    return max(10, int(width * SAFE_WIDTH / (font_px * UNIT_EM)))


def filter_escape(value: str) -> str:
    """Escape ``value`` for use as an option value inside an ffmpeg ``-vf`` filtergraph.

    Two levels: the filter's option parser (``\\ ' :``), then the graph parser
    (``\\ ' [ ] , ;``). The result goes to ffmpeg as one argv item, never through a shell.
    """
    for ch in ("\\", "'", ":"):
        value = value.replace(ch, "\\" + ch)
    out = []
    for ch in value:
        out.append("\\" + ch if ch in "\\'[],;" else ch)
    return "".join(out)


def subtitle_filter(srt: Path, width: int, height: int) -> str:
    """The ``subtitles=`` filter that burns ``srt`` in with the bundled CJK font.

    Sizes are in libass's script units (288 tall), so they scale with the frame height;
    ``original_size`` stops libass stretching glyphs on frames that are not 4:3.
    """
    size = round(ASS_HEIGHT * FONT_FRACTION)
    margin_x = round(ASS_WIDTH * (1 - SAFE_WIDTH) / 2)
    bottom = MARGIN_PORTRAIT if height > width else MARGIN_LANDSCAPE
    style = (
        f"FontName={FONT_NAME},FontSize={size},PrimaryColour=&H00FFFFFF,"
        "OutlineColour=&H00000000,BorderStyle=1,Outline=1.2,Shadow=0,Alignment=2,"
        f"MarginV={round(ASS_HEIGHT * bottom)},MarginL={margin_x},MarginR={margin_x}"
    )
    return (
        f"subtitles=filename={filter_escape(str(srt.resolve()))}"
        f":fontsdir={filter_escape(str(font_dir()))}"
        f":original_size={width}x{height}:charenc=UTF-8"
        f":force_style={filter_escape(style)}"
    )


def check_font_log(log: str, what: str) -> None:
    """Raise AssemblyError if libass fell back from the CJK font (text would vanish or change).

    libass logs ``fontselect: (Name, weight, italic) -> font`` for each font it picks and
    ``Glyph 0x... not found`` when the picked font lacks a character.
    """
    problems = [m.group(0) for m in FONT_MISSING.finditer(log)]
    problems += [
        m.group(0)
        for m in FONT_SELECTED.finditer(log)
        if "notosanscjk" not in m.group(2).replace(" ", "").lower()
    ]
    if problems:
        raise AssemblyError(
            f"subtitle font fallback while {what}: {problems[0]} "
            f"(is {FONT_NAME} installed in {font_dir()}? reinstall noto-cjk-sans-otc)"
        )
