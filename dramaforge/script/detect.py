"""Guessing the format and the language of a script, so users need not say either.

The file suffix wins when it is specific (``.fountain``, ``.yaml``); otherwise the text is
sniffed, most distinctive format first. Prose is what is left: any text at all renders.
"""

from __future__ import annotations

import re

from dramaforge.schema import Language, ScriptFormat
from dramaforge.script.headings import parse_heading, slugline, strip_markup
from dramaforge.script.labels import keyed, label_of
from dramaforge.script.transcripts import is_chat_log, is_subtitles

FOUNTAIN_SUFFIXES = (".fountain", ".spmd")
YAML_SUFFIXES = (".yaml", ".yml")
BRIEF_KEYS = frozenset(
    {"product", "channels", "brief", "scenes", "message", "points", "selling_points", "logline"}
)

_MARKER_WORDS = r"场景|画面|镜头|对白|台词|旁白|画外音|音效|背景音乐|音乐|BGM"
MARKER = re.compile(
    rf"^\s*(?:[【\[]\s*(?:{_MARKER_WORDS}|第\s*\S{{1,4}}\s*场)"
    rf"|(?:{_MARKER_WORDS})\s*[\d一二三四五六七八九十]{{0,4}}\s*[：:]"
    r"|第\s*[\d一二三四五六七八九十百]{1,6}\s*场)",
    re.IGNORECASE,
)
EN_MARKER = re.compile(
    r"^\s*\[\s*(?:scene|narration|narrator|voiceover|sfx|sound|music|visual|dialogue)\b",
    re.IGNORECASE,
)
SPEECH = re.compile(
    r"^\s*[^\s：:，。！？,.!?;；]{1,10}(?:（[^）]{0,80}）|\([^)]{0,80}\))?[：:]\s*\S"
)
FOUNTAIN_HEADING = slugline(strict=True)
YAML_KEY_LINE = re.compile(r"^(?P<key>[a-z_][a-z0-9_\-]{0,30})\s*:(?:\s|$)")
YAML_OTHER = re.compile(r"^(?:\s|-\s|-$|#|---|\.\.\.|$)")


_CJK = re.compile(r"[\u4e00-\u9fff\u3400-\u4dbf\uf900-\ufaff]")
_LATIN = re.compile(r"[A-Za-z]")


def detect_language(text: str) -> Language:
    """ "zh" when Chinese characters outweigh Latin letters, else "en".

    One Chinese character carries about as much as a short English word, so each counts as
    three letters; a Chinese script with an English render command in its header stays "zh".
    """
    cjk = len(_CJK.findall(text))
    latin = len(_LATIN.findall(text))
    return "zh" if cjk and cjk * 3 >= latin else "en"


def _looks_like_brief(text: str) -> bool:
    """A YAML mapping with brief keys, told from its shape alone: every line at the margin is a
    ``key:`` (or a comment, list item or document marker), and two are brief keys. No YAML is
    loaded here, so a hostile .txt costs one scan; a brief with a syntax error still reaches
    the YAML parser and its line-numbered error."""
    keys: set[str] = set()
    for line in text.split("\n")[:2000]:
        if m := YAML_KEY_LINE.match(line):
            keys.add(m.group("key"))
        elif not YAML_OTHER.match(line):
            return False
    return len(keys & (BRIEF_KEYS | {"title"})) >= 2 or bool(keys & (BRIEF_KEYS - {"logline"}))


def detect_format(text: str, suffix: str = "") -> ScriptFormat:
    """The format of ``text``; ``suffix`` is the file's (".txt", ".fountain", ...) or ""."""
    suffix = suffix.lower()
    if suffix in FOUNTAIN_SUFFIXES:
        return "fountain"
    if suffix in YAML_SUFFIXES or _looks_like_brief(text):
        return "yaml"
    lines = text.split("\n")
    if any(MARKER.match(line) or EN_MARKER.match(line) for line in lines):
        return "marker"
    slugs = sum(1 for line in lines if FOUNTAIN_HEADING.match(line))
    others = sum(
        1
        for line in lines
        if line.strip() and not FOUNTAIN_HEADING.match(line) and parse_heading(line) is not None
    )
    if others and others >= slugs:
        return "marker"
    if slugs:
        return "fountain"
    if is_subtitles(lines) or is_chat_log(lines):
        return "marker"
    if sum(1 for line in lines if SPEECH.match(line)) >= 2 or _has_header(lines):
        return "marker"
    return "prose"


def _has_header(lines: list[str]) -> bool:
    """Two metadata lines (``风格：``, ``角色：``, ``Title:``) in the first twenty."""
    found = 0
    for line in lines[:20]:
        pair = keyed(strip_markup(line.lstrip("#").strip()))
        if pair and label_of(pair[0], in_header=True) in ("title", "style", "cast", "logline"):
            found += 1
    return found >= 2
