"""Guessing the format and the language of a script."""

from __future__ import annotations

import re

from dramaforge.schema import Language, ScriptFormat

MARKER = re.compile(r"^\s*[【\[]?\s*(场景|第.{1,4}场|画面|镜头|对白|旁白|画外音|音效|背景音乐|BGM)")
SPEECH = re.compile(r"^\s*[^\s：:，。！？,.!?]{1,8}(（[^）]*）|\([^)]*\))?\s*[：:]\s*\S")
FOUNTAIN_HEADING = re.compile(r"^\s*(INT|EXT|EST|INT\./EXT|I/E)[\s.]", re.IGNORECASE | re.MULTILINE)
YAML_KEYS = re.compile(r"^(title|product|brief|channels|scenes|message|logline)\s*:", re.MULTILINE)
EN_MARKER = re.compile(r"^\s*\[(scene|narration|sfx|music|visual|dialogue)\b", re.IGNORECASE | re.MULTILINE)


def detect_language(text: str) -> Language:
    cjk = sum(1 for ch in text if "\u4e00" <= ch <= "\u9fff")
    latin = sum(1 for ch in text if ch.isascii() and ch.isalpha())
    return "zh" if cjk * 3 >= latin else "en"


def detect_format(text: str, suffix: str = "") -> ScriptFormat:
    suffix = suffix.lower()
    if suffix == ".fountain":
        return "fountain"
    if suffix in (".yaml", ".yml") or len(YAML_KEYS.findall(text)) >= 2:
        return "yaml"
    lines = text.splitlines()
    if sum(1 for ln in lines if MARKER.match(ln)) >= 1 or EN_MARKER.search(text):
        return "marker"
    if FOUNTAIN_HEADING.search(text):
        return "fountain"
    if sum(1 for ln in lines if SPEECH.match(ln)) >= 2:
        return "marker"
    return "prose"
