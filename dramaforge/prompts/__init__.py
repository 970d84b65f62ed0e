"""Prompt templates live here as files (``NAME.LANG.md``), rendered with ``str.format``."""

from __future__ import annotations

import re
from functools import cache
from importlib.resources import files

from dramaforge.schema import Language


@cache
def template(name: str, language: Language) -> str:
    return (files(__package__) / f"{name}.{language}.md").read_text(encoding="utf-8").strip()


def render(name: str, language: Language, **values: str) -> str:
    """Fill template ``name`` in ``language``, collapsing runs of whitespace."""
    text = template(name, language).format(**values)
    return " ".join(text.split())


SECTION = re.compile(r"^## (\w+)\s*$", re.MULTILINE)


@cache
def sections(name: str, language: Language) -> dict[str, str]:
    """An agent's prompt file split at its ``## system``, ``## user``, ``## retry`` headings."""
    parts = SECTION.split(template(name, language))
    return {title: body.strip() for title, body in zip(parts[1::2], parts[2::2], strict=True)}
