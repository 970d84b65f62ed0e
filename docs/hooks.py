"""mkdocs hooks: a nav that lists the pages this checkout has.

Guides and design pages arrive from several branches; ``mkdocs.yml`` lists each where it
belongs, and this hook drops the entries whose file is not here yet (mkdocs --strict would
fail on them) and appends a page of ``guides/``, ``design/`` or ``reference/`` that the nav
does not list to the end of its section, so no page is left out of the nav.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

SECTIONS = {"Guides": "guides", "Reference": "reference", "Design": "design"}


def on_config(config: Any) -> Any:
    docs = Path(config["docs_dir"])
    nav = _present(config["nav"], docs)
    listed = set(_files(nav))
    for section in nav:
        if not isinstance(section, dict):
            continue
        ((title, pages),) = section.items()
        folder = SECTIONS.get(title)
        if folder is None or not isinstance(pages, list):
            continue
        unlisted = sorted(
            path.relative_to(docs).as_posix()
            for path in (docs / folder).glob("*.md")
            if path.relative_to(docs).as_posix() not in listed
        )
        section[title] = [*pages, *unlisted]
    config["nav"] = nav
    return config


def _present(items: list[Any], docs: Path) -> list[Any]:
    kept: list[Any] = []
    for item in items:
        if isinstance(item, str):
            if (docs / item).is_file():
                kept.append(item)
        elif isinstance(item, dict):
            ((title, value),) = item.items()
            if isinstance(value, list):
                kept.append({title: _present(value, docs)})
            elif (docs / value).is_file() or "://" in value:
                kept.append(item)
    return kept


def _files(items: list[Any]) -> list[str]:
    found: list[str] = []
    for item in items:
        value = next(iter(item.values())) if isinstance(item, dict) else item
        found += _files(value) if isinstance(value, list) else [value]
    return found
