"""Guessing the format and the language of a script, so users need not say either.

The file suffix wins when it is specific (``.fountain``, ``.yaml``); otherwise the text is
sniffed, most distinctive format first. Prose is what is left: any text at all renders.
"""

from __future__ import annotations

import re
from typing import Any

import yaml

from dramaforge.schema import Language, ScriptFormat

FOUNTAIN_SUFFIXES = (".fountain", ".spmd")
YAML_SUFFIXES = (".yaml", ".yml")
BRIEF_KEYS = frozenset(
    {"product", "channels", "brief", "scenes", "message", "points", "selling_points", "logline"}
)

_MARKER_WORDS = r"场景|画面|镜头|对白|台词|旁白|画外音|音效|背景音乐|音乐|BGM"
MARKER = re.compile(
    rf"^\s*(?:[【\[]\s*(?:{_MARKER_WORDS}|第\s*\S{{1,4}}\s*场)"
    rf"|(?:{_MARKER_WORDS})\s*[\d一二三四五六七八九十]*\s*[：:]"
    r"|第\s*[\d一二三四五六七八九十百]+\s*场)",
    re.IGNORECASE,
)
NUMBERED_SCENE = re.compile(  # 1-1 教室 日 内: the numbered heading of many Chinese scripts
    r"^\s*\d+(?:-\d+)?[.、]?\s+\S.{0,28}[\s/](?:[日夜][内外]?|白天|夜晚|傍晚|清晨|内|外)\s*$",
    re.MULTILINE,
)
EN_MARKER = re.compile(
    r"^\s*\[\s*(?:scene|narration|narrator|voiceover|sfx|sound|music|visual|dialogue)\b",
    re.IGNORECASE | re.MULTILINE,
)
SPEECH = re.compile(r"^\s*[^\s：:，。！？,.!?;；]{1,10}(?:（[^）]*）|\([^)]*\))?\s*[：:]\s*\S")
FOUNTAIN_HEADING = re.compile(r"^\s*(?:INT|EXT|EST|INT\.?/EXT|I/E)[.\s]", re.MULTILINE)
YAML_KEY_LINE = re.compile(r"^([a-z_]+)\s*:", re.MULTILINE)


def _is_cjk(ch: str) -> bool:
    return "\u4e00" <= ch <= "\u9fff" or "\u3400" <= ch <= "\u4dbf" or "\uf900" <= ch <= "\ufaff"


def detect_language(text: str) -> Language:
    """ "zh" when Chinese characters outweigh Latin letters, else "en".

    One Chinese character carries about as much as a short English word, so each counts as
    three letters; a Chinese script with an English render command in its header stays "zh".
    """
    cjk = sum(1 for ch in text if _is_cjk(ch))
    latin = sum(1 for ch in text if ch.isascii() and ch.isalpha())
    return "zh" if cjk and cjk * 3 >= latin else "en"


def _looks_like_brief(text: str) -> bool:
    """A YAML mapping with brief keys; falls back to counting key lines when the YAML is broken,
    so a brief with a syntax error still reaches the YAML parser and its line-numbered error."""
    try:
        data: Any = yaml.safe_load(text)
    except yaml.YAMLError:
        return len(set(YAML_KEY_LINE.findall(text)) & (BRIEF_KEYS | {"title"})) >= 2
    return isinstance(data, dict) and bool(BRIEF_KEYS & {str(k).lower() for k in data})


def detect_format(text: str, suffix: str = "") -> ScriptFormat:
    """The format of ``text``; ``suffix`` is the file's (".txt", ".fountain", ...) or ""."""
    suffix = suffix.lower()
    if suffix in FOUNTAIN_SUFFIXES:
        return "fountain"
    if suffix in YAML_SUFFIXES or _looks_like_brief(text):
        return "yaml"
    lines = text.split("\n")
    if any(MARKER.match(line) for line in lines) or EN_MARKER.search(text):
        return "marker"
    if NUMBERED_SCENE.search(text):
        return "marker"
    if FOUNTAIN_HEADING.search(text):
        return "fountain"
    if sum(1 for line in lines if SPEECH.match(line)) >= 2:
        return "marker"
    return "prose"
