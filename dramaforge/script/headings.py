"""Scene headings in the shapes writers use, read into a place, inside or outside, and a time.

Writers head scenes in many ways: ``## 场景二 走廊 傍晚``, ``第二场``, ``场景2：走廊（傍晚）``,
``【场景2】教室 白天``, ``1. 内景 教室 日``, ``1-1 教室 日 内``, ``INT. HALLWAY - NIGHT``,
``Scene 2 – Hallway, dusk`` or a numbered Markdown heading. They all say the same three things,
and the keyframes and prompts need all three, so one reader serves every parser.

Every pattern here is anchored and bounded, or done with string methods: headings are matched
against every line of any file, so none may backtrack on a long line.
"""

from __future__ import annotations

import re
from dataclasses import dataclass


def _words(text: str) -> list[str]:
    return text.split()


CN_DIGITS = "零〇一二两三四五六七八九十百"
EN_NUMBERS = _words(
    "one two three four five six seven eight nine ten eleven twelve thirteen fourteen fifteen "
    "sixteen seventeen eighteen nineteen twenty"
)
_NUM = rf"(?:\d{{1,4}}(?:[-.]\d{{1,4}})?[A-Za-z]?|[{CN_DIGITS}]{{1,6}})"

TIMES = frozenset(
    _words(
        """清晨 早晨 早上 上午 中午 正午 午后 下午 傍晚 黄昏 日落 白天 白日 日间 晚上 夜晚 夜间 深夜
    午夜 半夜 凌晨 黎明 拂晓 日出 日 夜 晨 晚 雨夜 雪夜 月夜 寒夜 夜里 当晚 当夜 晚间
    day daytime night nighttime dusk dawn morning noon
    midday afternoon evening sunset sunrise twilight midnight continuous later"""
    )
)
INSIDE = frozenset({"内", "内景", "室内", "int", "int.", "interior", "inside"})
OUTSIDE = frozenset({"外", "外景", "室外", "ext", "ext.", "exterior", "outside"})
BOTH = frozenset({"内外", "内/外", "内外景", "int./ext.", "int/ext", "ext./int.", "ext/int", "i/e"})

# Scene labels: 场景2 / 场景二 / 场次3 / 第二场 / Scene 2 / Sc. 2 / SCENE TWO
_ZH_LABEL = re.compile(
    rf"^(?:场景|场次)\s*(?:(?P<n1>{_NUM})|(?=[：:\s.、]|$))|^第\s*(?P<n2>{_NUM})\s*场(?:戏)?"
)
_EN_LABEL = re.compile(rf"^(?:scene|sc\.)\s*(?P<n>{_NUM}|{'|'.join(EN_NUMBERS)})?\b", re.IGNORECASE)


def slugline(*, strict: bool) -> re.Pattern[str]:
    """A screenplay slugline at the start of a line: an optional scene number, then ``INT``,
    ``EXT``, ``EST``, ``INT./EXT.`` or ``I/E`` (group ``ie``), then a full stop or a space.

    ``strict`` is the form only Fountain writes, for telling a Fountain file apart (format
    detection): upper case, a bare scene number, the words as Fountain spells them. Otherwise
    any case, ``12.`` numbers, ``EXT./INT.`` and ``INT. / EXT.``, or the words alone on a line,
    as people head scenes in every other format.
    """
    if strict:
        return re.compile(r"^\s*(?:\d{1,4}[A-Z]?\s+)?(?P<ie>INT|EXT|EST|INT\.?/EXT|I/E)[.\s]")
    return re.compile(
        r"^(?:\d{1,4}[A-Z]?\.?\s+)?(?P<ie>INT\.?\s?/\s?EXT|EXT\.?\s?/\s?INT|I/E|INT|EXT|EST)"
        r"(?:\.|\s|$)",
        re.IGNORECASE,
    )


_SLUG = slugline(strict=False)
_ZH_SLUG = re.compile(
    rf"^(?:{_NUM}[.、．)]?\s*)?(?P<ie>内外景|内景|外景|室内|室外)(?=[\s。.、，,：:]|$)"
)
_NUMBERED = re.compile(rf"^{_NUM}(?:[.、．)]|(?=\s))")
_MARKDOWN = re.compile(r"^(?P<hashes>#{1,6})\s*")
_SPLIT = re.compile(r"\s+[-–—|]\s+|[-–—|]{2,}|[,，、·|/。；;]|(?<=\S)[–—](?=\S)|(?<=[^\x00-\x7f])-")
_JOIN = "\u2060"  # a word joiner: not white space, so split() keeps the two words as one
_EARLY_LATE = re.compile(
    r"\b(late|early|mid)\s+(morning|afternoon|evening|night|day)\b", re.IGNORECASE
)
_SENTENCE_END = re.compile(r"[。！？!?]\s*$")


_STARTS = frozenset("【[场第内外室SsIiEe0123456789" + CN_DIGITS)
"""Every heading starts with one of these once Markdown is stripped: a cheap first test."""


@dataclass(frozen=True)
class Heading:
    """What a heading line says. ``text`` is the heading without its scene label or number."""

    text: str
    location: str = ""
    time_of_day: str = ""
    interior: bool | None = None


def strip_markup(line: str) -> str:
    """Markdown emphasis and quoting that writers put around headings and names."""
    line = line.strip()
    while line.startswith(">"):
        line = line[1:].lstrip()
    return line.replace("**", "").replace("__", "").strip()


def markdown_level(line: str) -> int:
    """1 for ``# x``, 2 for ``## x``..., 0 for a line that is not a Markdown heading."""
    m = _MARKDOWN.match(line)
    return len(m.group("hashes")) if m and not line.startswith("#!") else 0


def parse_heading(raw: str, *, markdown: bool = False) -> Heading | None:
    """The heading ``raw`` is, or None when the line is not a scene heading.

    ``markdown`` says the line was a ``##`` heading, which is looser: a numbered heading
    (``## 1. 教室``, ``## 一、雨夜``) is a scene even without a time.
    """
    if raw.lstrip(" \t>#*_")[:1] not in _STARTS:
        return None
    line = strip_markup(raw)
    if level := markdown_level(line):
        line, markdown = strip_markup(line[level:]), markdown or level > 1
    if not line or len(line) > 120:
        return None
    if line[0] in "【[":
        return _bracketed(line)
    if m := (_ZH_LABEL.match(line) or _EN_LABEL.match(line)):
        numbered = bool(m.group("n1") or m.group("n2")) if "n1" in m.re.groupindex else m["n"]
        rest = line[m.end() :]
        colon = rest.lstrip()[:1] in ("：", ":")
        if not (numbered or markdown or colon) or _is_sentence(rest):
            return None
        return _from_rest(rest)
    if _SLUG.match(line) or _ZH_SLUG.match(line):
        return _slug(line)
    if m := _NUMBERED.match(line):
        return _numbered(line[m.end() :].lstrip(" .、．)"), markdown)
    if markdown and not _SENTENCE_END.search(line):
        heading = _from_rest(line)
        if heading.time_of_day or heading.interior is not None:
            return heading
    return None


def _numbered(rest: str, markdown: bool) -> Heading | None:
    """What follows ``1.`` / ``一、``: a slug, or a place that says its time or inside/outside
    (any place under a Markdown heading); a sentence is not a heading."""
    if _SENTENCE_END.search(rest) or len(rest) > 40:
        return None
    if _SLUG.match(rest):
        return _slug(rest)
    heading = _from_rest(rest)
    if markdown or heading.time_of_day or heading.interior is not None:
        return heading
    return None


def _is_sentence(rest: str) -> bool:
    """``Scene two opens with rain.`` is prose that starts with a label word."""
    return bool(_SENTENCE_END.search(rest)) or (
        rest.rstrip().endswith(".") and len(rest.split()) >= 3
    )


def _bracketed(line: str) -> Heading | None:
    """``【场景2】教室 白天``, ``[Scene 2] Park``, ``【第二场：走廊 傍晚】``."""
    close = next((i for i, ch in enumerate(line[:42]) if ch in "】]"), -1)
    if close < 0:
        return None
    label, after = line[1:close].strip(), line[close + 1 :].lstrip(" ：:")
    m = _ZH_LABEL.match(label) or _EN_LABEL.match(label)
    if m is None or m.end() == 0:
        if not re.fullmatch(_NUM, label):
            return None
        return _from_rest(after)
    return _from_rest(f"{label[m.end() :]} {after}")


def _slug(line: str) -> Heading:
    """``INT. CLASSROOM - DAY`` or ``1. 内景 教室 日``: the heading keeps the slug as written."""
    line = re.sub(r"\s+\d{1,4}[A-Z]?$", "", line)  # shooting-script numbers on the right
    line = re.sub(r"^\d{1,4}[A-Z]?\.?\s+", "", line)
    m = _SLUG.match(line) or _ZH_SLUG.match(line)
    ie = m.group("ie").lower().replace(" ", "") if m else ""
    rest = line[m.end() :] if m else line
    place = split_place(rest.strip(" .。、，,：:"))
    interior = place.interior
    if ie:
        interior = None if ie in BOTH or "/" in ie or ie in ("est", "内外景") else ie in INSIDE
    return Heading(line.strip(), place.location, place.time_of_day, interior)


def _from_rest(rest: str) -> Heading:
    rest = rest.strip().lstrip("：:.、．-–— ").strip()
    if _SLUG.match(rest) or _ZH_SLUG.match(rest):
        return _slug(rest)
    place = split_place(rest)
    return Heading(rest, place.location, place.time_of_day, place.interior)


def split_place(text: str) -> Heading:
    """``走廊（傍晚）`` / ``教室 - 白天 - 内`` / ``Hallway, dusk`` -> place, time, inside."""
    text = text[:200].replace("内/外", "内外").replace("（", " / ").replace("）", " / ")
    text = text.replace("(", " / ").replace(")", " / ")
    text = _EARLY_LATE.sub(f"\\1{_JOIN}\\2", text)  # ``late afternoon`` is one time of day
    parts = [p.strip() for p in _SPLIT.split(text) if p and p.strip()]
    time, interior, places = "", None, []
    for part in parts:
        words = part.split()
        kept: list[str] = []
        for word in words:
            low = word.lower().strip(".")
            kind = _kind(word)
            if kind == "time":
                time = time or word.replace(_JOIN, " ")
            elif kind == "in" or kind == "out":
                interior = kind == "in"
            elif kind == "both":
                interior = None
            elif len(word) > 1 and word[-1] in "内外" and _kind(word[:-1]) == "time":
                time, interior = time or word[:-1], word[-1] == "内"
            elif low in ("scene", "-"):
                continue
            else:
                kept.append(word)
        if kept:
            cjk = any(not w.isascii() for w in kept)
            places.append(" ".join(kept) if cjk or len(kept) > 1 else kept[0])
    location = (" " if all(not p.isascii() for p in places) else " - ").join(places)
    return Heading(text.strip(), location, time, interior)


def _kind(word: str) -> str:
    low = word.lower().rpartition(_JOIN)[2]  # joined by _EARLY_LATE: the last word
    if low in TIMES or low.rstrip(".") in TIMES:
        return "time"
    if low in BOTH:
        return "both"
    if low in INSIDE:
        return "in"
    if low in OUTSIDE:
        return "out"
    return ""
