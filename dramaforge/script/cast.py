"""Cast lists as writers write them: ``角色：林小雨（女，16岁）、陈浩``, ``- Maya - 20s``."""

from __future__ import annotations

import re

from dramaforge.schema import Character
from dramaforge.script.headings import strip_markup

BULLET = re.compile(r"^(?:[-*+•·]\s+|[△▲]\s*)")


def split_outside_parens(text: str) -> list[str]:
    """Split a cast line on ；;、，, but not inside （…）, where descriptions use commas, nor
    after a dash (``林小雨 — 温柔、略带沙哑的女声；老周``), where only ；; end the entry."""
    parts: list[str] = []
    current: list[str] = []
    depth = 0
    dashed = False
    for ch in text:
        if ch in "（(":
            depth += 1
        elif ch in "）)":
            depth = max(0, depth - 1)
        elif depth == 0 and ch in "—–":
            dashed = True
        if depth == 0 and ch in ("；;" if dashed else "；;、，,"):
            parts.append("".join(current))
            current = []
            dashed = False
        else:
            current.append(ch)
    parts.append("".join(current))
    return [p.strip() for p in parts if p.strip()]


def cast_entries(text: str) -> list[Character]:
    """``林小雨（女，16岁）`` or ``- 林小雨：女，16岁`` or ``Maya - 20s`` -> a Character."""
    text = BULLET.sub("", strip_markup(text))
    text = re.sub(r"^\d{1,3}[.、)]\s*", "", text)
    cuts = [i for i in (text.find(c) for c in "：:（(—–") if i >= 0]
    cuts += [i for i in (text.find(" - "),) if i >= 0]
    cut = min(cuts, default=len(text))
    name, rest = text[:cut].strip(" *"), text[cut:]
    if not name or len(name) > 24 or re.search(r"[。！？!?]", name):
        return []
    descriptions: list[str] = []
    if rest[:1] in "（(":
        close = next((i for i, ch in enumerate(rest) if ch in "）)"), len(rest))
        descriptions.append(rest[1:close].strip())
        rest = rest[close + 1 :]
    descriptions.append(rest.strip().lstrip("：:—–- ").strip())
    return [Character(name=name, description="，".join(d for d in descriptions if d))]
