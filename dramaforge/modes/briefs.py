"""The brief shapes people actually write, folded into the one shape ``script/brief.py`` reads.

Producers write ``versions:`` as often as ``channels:``, ``duration_s: 15`` or ``seconds: 15``
or ``duration: 15s``, ``ratio: 9:16``, a version that is only ``"15s 9:16"``, and scenes that
are a sentence rather than a mapping. Normalising here keeps the brief model strict (a typo
is still an error naming its line) while accepting every spelling that means the same thing.
"""

from __future__ import annotations

import re
from typing import Any

VERSION_LISTS = ("channels", "versions", "cuts", "deliverables")
DURATION_KEYS = ("duration", "duration_s", "seconds", "length", "secs")
ASPECT_KEYS = ("aspect", "ratio", "aspect_ratio", "format")
SCRIPT_KEYS = ("script", "text")
_SHORT = re.compile(r"(?P<num>\d+(?:\.\d+)?)\s*s(?:ec(?:onds?)?)?\b|(?P<ratio>\d+\s*[:x]\s*\d+)")


def normalize_brief(data: dict[str, Any]) -> dict[str, Any]:
    """``data`` with its versions under ``channels`` and every version and scene in the
    canonical keys; anything it does not recognise is left for the validator to report."""
    out = dict(data)
    for key in VERSION_LISTS[1:]:
        if key in out and "channels" not in out:
            out["channels"] = out.pop(key)
    channels = out.get("channels")
    if isinstance(channels, dict):  # {tiktok: {...}, youtube: {...}}
        channels = [
            {"name": k, **(v if isinstance(v, dict) else _short(v))} for k, v in channels.items()
        ]
    if isinstance(channels, list):
        out["channels"] = [_version(v, i) for i, v in enumerate(channels)]
    scenes = out.get("scenes")
    if isinstance(scenes, list):
        out["scenes"] = [{"visual": s} if isinstance(s, str) else s for s in scenes]
    return out


def _version(value: Any, i: int) -> Any:
    if isinstance(value, str):
        return {"name": f"v{i + 1}", **_short(value)}
    if not isinstance(value, dict):
        return value
    v = dict(value)
    for key in DURATION_KEYS[1:]:
        if key in v and "duration" not in v:
            v["duration"] = v.pop(key)
    for key in ASPECT_KEYS[1:]:
        if key in v and "aspect" not in v:
            v["aspect"] = v.pop(key)
    if "text" in v and "script" not in v:
        v["script"] = v.pop("text")
    if isinstance(v.get("aspect"), str):
        v["aspect"] = re.sub(r"\s*[x:]\s*", ":", v["aspect"].strip())
    v.setdefault("name", f"v{i + 1}")
    return v


def _short(text: Any) -> dict[str, Any]:
    """``"15s 9:16"`` -> duration 15, aspect 9:16."""
    found: dict[str, Any] = {}
    for m in _SHORT.finditer(str(text)):
        if m.group("num"):
            found["duration"] = float(m.group("num"))
        else:
            found["aspect"] = re.sub(r"\s*[x:]\s*", ":", m.group("ratio"))
    return found
