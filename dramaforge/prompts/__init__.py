"""Prompt templates live here as files (``NAME.LANG.md``), rendered with ``str.format``."""

from __future__ import annotations

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
