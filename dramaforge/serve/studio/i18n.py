"""The studio's words in English and Chinese, and which one a request gets.

The ``lang`` cookie (set by the switch in the page header) wins; otherwise the browser's
``Accept-Language`` in its own order of preference; English when neither says zh or en.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path

from starlette.requests import Request

LANGS = ("en", "zh")

WORDS: dict[str, list[str]] = json.loads(
    Path(__file__).with_name("words.json").read_text(encoding="utf-8")
)
"""Each word of the pages as ``[English, Chinese]``, by key; kept as data so a translator
edits one file and no code."""


def choose(request: Request) -> str:
    cookie = request.cookies.get("lang")
    if cookie in LANGS:
        return cookie
    ranked: list[tuple[float, str]] = []
    for part in request.headers.get("accept-language", "").split(","):
        tag, _, params = part.strip().partition(";")
        q = 1.0
        if params.strip().startswith("q="):
            try:
                q = float(params.strip()[2:])
            except ValueError:
                q = 0.0
        base = tag.split("-")[0].lower()
        if base in LANGS:
            ranked.append((q, base))
    return max(ranked, key=lambda r: r[0])[1] if ranked else "en"


def words(lang: str) -> Callable[[str], str]:
    """``t(key)`` for templates; an unknown key shows itself, so a gap is visible, not fatal."""
    i = LANGS.index(lang) if lang in LANGS else 0

    def t(key: str) -> str:
        pair = WORDS.get(key)
        return pair[i] if pair else key

    return t
