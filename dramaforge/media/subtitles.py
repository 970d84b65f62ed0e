"""SRT files and the libass filter that burns them in with the bundled CJK font."""

from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass
from pathlib import Path

from dramaforge.errors import AssemblyError
from dramaforge.media.fonts import FONT_NAME, font_dir
from dramaforge.media.store import atomic_write
from dramaforge.schema import Cue

# --- SRT -------------------------------------------------------------------------------------


def clock(t: float, parts: int) -> tuple[int, int, int, int]:
    """``t`` seconds as hours, minutes, seconds and ``parts``-ths of a second, rounded to the
    nearest part (SRT counts milliseconds, ASS centiseconds); never negative."""
    n = max(0, round(t * parts))
    h, rem = divmod(n, 3600 * parts)
    m, rem = divmod(rem, 60 * parts)
    s, frac = divmod(rem, parts)
    return h, m, s, frac


def _stamp(t: float) -> str:
    h, m, s, ms = clock(t, 1000)
    return f"{h:02d}:{m:02d}:{s:02d},{ms:03d}"


def _both(cue: Cue) -> str:
    """A cue's text as the SRT carries it: with its translation's block, in reading order."""
    if not cue.translation:
        return cue.text.strip()
    blocks = [cue.text.strip(), cue.translation.strip()]
    return "\n".join(blocks[::-1] if cue.translation_first else blocks)


def write_srt(cues: list[Cue], dest: Path) -> None:
    """Write ``cues`` as UTF-8 SRT (atomically: readers never see half a file)."""
    blocks = [
        f"{i}\n{_stamp(c.start)} --> {_stamp(c.end)}\n{_both(c)}\n"
        for i, c in enumerate(cues, start=1)
    ]
    atomic_write(dest, "\n".join(blocks))


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

# Sizes follow broadcast and platform practice, as fractions of the frame height. The em is
# the font's em (CSS font-size): a CJK character is one em wide and about 0.9 em tall.
# Landscape: EBU-TT-D's default grid (15 rows, text 80 % of a row) gives 5.3 %, BBC and
# Netflix 1080p styles land at 5-6 %: 5.5 %, inside the EBU R95 title-safe area (5 % in from
# every edge). Portrait phone video is read at arm's length on a narrow screen: 4 % of the
# height keeps about 12 CJK characters (20-25 Latin letters) on a line, and the bottom 15 %
# stays clear of the captions and buttons the apps draw over it.
EM_LANDSCAPE, EM_PORTRAIT = 0.055, 0.04
MARGIN_LANDSCAPE, MARGIN_PORTRAIT = 0.065, 0.15  # bottom margin, fraction of the height
SAFE_WIDTH = 0.84  # share of the frame width that subtitles may use
MAX_LINES = 2
# Noto Sans CJK: ascender 1.160 + descender 0.288 em. libass's FontSize is that sum, so the
# em is FontSize / 1.448, and one line of text takes FontSize pixels of height.
LINE_EMS = 1.448
# Noto's own space is 0.224 em next to Latin letters ~0.58 em wide: words run together. When
# burned, each space gets this much more (an ASS ``\\fsp`` on the space alone), a third of an
# em in all: the usual word spacing of Latin text. (The font has no U+2004 for libass.)
WORD_SPACE_EXTRA = 0.11
# The offline camera zooms up to 1.25x into a keyframe (tools/local/motion.py ZOOM): whatever
# the painter draws must sit this much further from the centre to stay clear once zoomed.
CAMERA_ZOOM = 1.25
ASS_HEIGHT, ASS_WIDTH = 288, 384  # libass's script resolution for converted SRT

FONT_SELECTED = re.compile(r"fontselect: \(([^,]*), \d+, \d+\) -> ([^,\n]*)")
FONT_MISSING = re.compile(r"Glyph 0x[0-9A-Fa-f]+ not found|fontselect: failed[^\n]*")


@dataclass(frozen=True)
class Layout:
    """Where and how large subtitles are burned into a ``width`` x ``height`` frame (pixels)."""

    width: int
    height: int

    @property
    def portrait(self) -> bool:
        return self.height > self.width

    @property
    def em(self) -> float:
        return self.height * (EM_PORTRAIT if self.portrait else EM_LANDSCAPE)

    @property
    def font_size(self) -> float:
        """libass's FontSize: the height of one line."""
        return self.em * LINE_EMS

    @property
    def margin_v(self) -> int:
        return round(self.height * (MARGIN_PORTRAIT if self.portrait else MARGIN_LANDSCAPE))

    @property
    def margin_x(self) -> int:
        return round(self.width * (1 - SAFE_WIDTH) / 2)

    @property
    def max_width(self) -> float:
        return self.width * SAFE_WIDTH

    def band(self, lines: int = MAX_LINES) -> tuple[float, float]:
        """Top and bottom (pixels) of a block of ``lines`` subtitle lines."""
        bottom = self.height - self.margin_v
        return bottom - lines * self.font_size, float(bottom)


def label_floor(width: int, height: int) -> float:
    """The lowest a keyframe's label or caption may reach, as a fraction of the height.

    Below it, once the camera has zoomed in, a two-line subtitle would cover it. The offline
    painter keeps name labels and cards above this line.
    """
    top = Layout(width, height).band()[0] / height
    return 0.5 + (top - 0.5) / CAMERA_ZOOM - 0.01


def line_units(width: int, height: int) -> int:
    """How many half-width characters fit on one subtitle line inside the safe area."""
    layout = Layout(width, height)
    return max(10, int(layout.max_width / (layout.em / 2)))


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
    """The ``subtitles=`` filter that burns an SRT in with the bundled CJK font and the layout.

    Sizes are in libass's script units (288 tall), so they scale with the frame height;
    ``original_size`` stops libass stretching glyphs on frames that are not 4:3. The episode
    itself is burned from an ASS file (``write_ass``), where sizes are frame pixels.
    """
    layout = Layout(width, height)
    unit = ASS_HEIGHT / height
    style = (
        f"FontName={FONT_NAME},FontSize={layout.font_size * unit:.1f},"
        "PrimaryColour=&H00FFFFFF,OutlineColour=&H00000000,BorderStyle=1,Outline=1.2,"
        f"Shadow=0,Alignment=2,MarginV={round(layout.margin_v * unit)},"
        f"MarginL={round(ASS_WIDTH * (1 - SAFE_WIDTH) / 2)},"
        f"MarginR={round(ASS_WIDTH * (1 - SAFE_WIDTH) / 2)}"
    )
    return (
        f"subtitles=filename={filter_escape(str(srt.resolve()))}"
        f":fontsdir={filter_escape(str(font_dir()))}"
        f":original_size={width}x{height}:charenc=UTF-8"
        f":force_style={filter_escape(style)}"
    )


def _ass_time(t: float) -> str:
    h, m, s, cs = clock(t, 100)
    return f"{h}:{m:02d}:{s:02d}.{cs:02d}"


def _ass_text(text: str, em: float) -> str:
    """Cue text as an ASS event: braces and backslashes kept literal, lines joined by \\N,
    spaces between Latin words widened (CJK text has none)."""
    space = f"{{\\fsp{em * WORD_SPACE_EXTRA:.1f}}} {{\\fsp0}}"
    lines = []
    for line in text.splitlines():
        line = line.replace("\\", "\uff3c").replace("{", "\uff5b").replace("}", "\uff5d")
        lines.append(" ".join(line.split()).replace(" ", space))
    return "\\N".join(lines)


def ass_script(cues: list[Cue], width: int, height: int, title: str = "") -> str:
    """The cues as an ASS script at the frame's own resolution, styled by ``Layout``: what
    is burned, and what editors get as ``episode.ass`` (the speaker in each event's Name).

    Lines are broken by the caller (at most two, measured); libass is told not to wrap
    again (``WrapStyle: 2``), so what was measured is what is drawn.
    """
    layout = Layout(width, height)
    outline = max(1.5, layout.em * 0.07)
    head = [
        "[Script Info]",
        f"Title: {_field(title)}",
        "ScriptType: v4.00+",
        f"PlayResX: {width}",
        f"PlayResY: {height}",
        "WrapStyle: 2",
        "ScaledBorderAndShadow: yes",
        "YCbCr Matrix: TV.709",
        "",
        "[V4+ Styles]",
        "Format: Name, Fontname, Fontsize, PrimaryColour, SecondaryColour, OutlineColour, "
        "BackColour, Bold, Italic, Underline, StrikeOut, ScaleX, ScaleY, Spacing, Angle, "
        "BorderStyle, Outline, Shadow, Alignment, MarginL, MarginR, MarginV, Encoding",
        f"Style: Default,{FONT_NAME},{layout.font_size:.1f},&H00FFFFFF,&H00FFFFFF,&H00000000,"
        f"&H80000000,0,0,0,0,100,100,0,0,1,{outline:.1f},{outline * 0.5:.1f},2,"
        f"{layout.margin_x},{layout.margin_x},{layout.margin_v},1",
        "",
        "[Events]",
        "Format: Layer, Start, End, Style, Name, MarginL, MarginR, MarginV, Effect, Text",
    ]
    events = [
        f"Dialogue: 0,{_ass_time(c.start)},{_ass_time(c.end)},Default,{_field(c.speaker or '')},"
        f"0,0,0,,{_ass_event(c, layout)}"
        for c in cues
    ]
    return "\n".join([*head, *events]) + "\n"


TRANSLATION_SIZE = 0.8
"""A translation's size, as a share of the original line's."""


def _ass_event(cue: Cue, layout: Layout) -> str:
    """The event text: the line, and under (or over) it its translation, a size smaller."""
    text = _ass_text(cue.text, layout.em)
    if not cue.translation:
        return text
    small = layout.font_size * TRANSLATION_SIZE
    other = f"{{\\fs{small:.1f}}}{_ass_text(cue.translation, layout.em * TRANSLATION_SIZE)}"
    normal = f"{{\\fs{layout.font_size:.1f}}}"
    if cue.translation_first:
        return f"{other}\\N{normal}{text}"
    return f"{text}\\N{other}"


def _field(value: str) -> str:
    """A comma-separated ASS field cannot hold a comma or a line break."""
    return value.replace(",", "，").replace("\n", " ")


def write_ass(cues: list[Cue], width: int, height: int, dest: Path) -> None:
    """``ass_script`` written atomically (UTF-8 with a BOM, which Windows tools expect)."""
    atomic_write(dest, "\ufeff" + ass_script(cues, width, height))


def ass_filter(ass: Path) -> str:
    """The ``subtitles=`` filter that burns an ASS script with the bundled CJK font."""
    return (
        f"subtitles=filename={filter_escape(str(ass.resolve()))}"
        f":fontsdir={filter_escape(str(font_dir()))}:charenc=UTF-8"
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
