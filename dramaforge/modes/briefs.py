"""The brief shapes people actually write, folded into the one shape ``script/brief.py`` reads.

Producers write ``versions:`` as often as ``channels:``, ``duration_s: 15`` or ``seconds: 15``
or ``duration: 15s``, ``ratio: 9:16``, a version that is only ``"15s 9:16"``, and scenes that
are a sentence rather than a mapping. Marketers name a version by its ``channel:`` or
``platform:`` (``平台:``, ``渠道:``) rather than ``name:``, and write keys in Chinese (``时长``,
``比例``, ``画幅``, ``画面``, ``旁白``). Keys are read by what they mean; a key that means
nothing known is dropped with one warning; a misspelt field (``voicover``) and a value that
cannot be read are refused, naming the line.
"""

from __future__ import annotations

import difflib
import re
from collections.abc import Callable
from typing import Any

VERSION_LISTS = ("channels", "versions", "cuts", "deliverables")
DURATION_KEYS = ("duration", "duration_s", "seconds", "length", "secs")
ASPECT_KEYS = ("aspect", "ratio", "aspect_ratio", "format")
SCRIPT_KEYS = ("script", "text")
_SHORT = re.compile(r"(?P<num>\d+(?:\.\d+)?)\s*s(?:ec(?:onds?)?)?\b|(?P<ratio>\d+\s*[:x]\s*\d+)")

Warn = Callable[[str], None]

TOP_KEYS: dict[str, str] = {
    "标题": "title", "片名": "title", "名称": "title", "产品": "product", "产品名": "product",
    "商品": "product", "语言": "language", "简介": "logline", "一句话": "logline",
    "风格": "style", "画风": "style", "视觉风格": "style", "信息": "message",
    "核心信息": "message", "主题": "message", "卖点": "points", "要点": "points",
    "产品卖点": "selling_points", "音乐": "music", "背景音乐": "music", "bgm": "music",
    "配乐": "music", "角色": "characters", "人物": "characters", "cast": "characters",
    "版本": "versions", "渠道": "versions", "平台": "versions", "投放": "versions",
    "platforms": "versions", "场景": "scenes", "分镜": "scenes", "镜头": "scenes",
}  # fmt: skip
"""Top-level keys by meaning: zh and en spellings of the brief's own fields."""
TOP_KNOWN = {
    "title", "product", "language", "logline", "style", "message", "points", "selling_points",
    "music", "characters", "channels", "scenes", *VERSION_LISTS,
    "audience", "tone", "brand", "client", "campaign", "cta", "call_to_action", "notes",
    "target", "objective", "goal", "deadline", "date", "budget", "受众", "目标人群", "调性",
    "品牌", "客户", "备注", "行动号召", "目标", "预算", "日期",
}  # fmt: skip
"""What a brief may hold: its fields, and notes for people (audience, tone) read past quietly."""
VERSION_KEYS: dict[str, str] = {
    "channel": "name", "platform": "name", "平台": "name", "渠道": "name", "名称": "name",
    "版本": "name", "版本名": "name", "label": "name", "title": "name",
    "时长": "duration", "秒数": "duration", "长度": "duration", "duration_s": "duration",
    "seconds": "duration", "length": "duration", "secs": "duration",
    "比例": "aspect", "画幅": "aspect", "画面比例": "aspect", "尺寸": "aspect", "屏幕": "aspect",
    "ratio": "aspect", "aspect_ratio": "aspect", "format": "aspect",
    "text": "script", "文案": "script", "脚本": "script",
}  # fmt: skip
VERSION_FIELDS = {"name", "aspect", "duration", "script"}
SCENE_KEYS: dict[str, str] = {
    "场景": "heading", "地点": "heading", "标题": "heading", "place": "heading",
    "location": "heading", "画面": "visual", "镜头": "visual", "visuals": "visual",
    "动作": "action", "旁白": "voiceover", "画外音": "voiceover", "口播": "voiceover",
    "配音": "voiceover", "vo": "voiceover", "台词": "lines", "对白": "lines",
    "dialogue": "lines", "音效": "sfx", "sound": "sfx", "音乐": "music", "背景音乐": "music",
    "bgm": "music",
}  # fmt: skip
SCENE_FIELDS = {"heading", "visual", "action", "voiceover", "narration", "lines", "sfx", "music"}
CHARACTER_KEYS: dict[str, str] = {
    "名字": "name", "姓名": "name", "角色": "name", "描述": "description", "外貌": "description",
    "形象": "description", "look": "description", "appearance": "description",
}  # fmt: skip
ASPECT_WORDS: dict[str, str] = {
    "竖屏": "9:16", "竖版": "9:16", "竖": "9:16", "vertical": "9:16", "portrait": "9:16",
    "横屏": "16:9", "横版": "16:9", "横": "16:9", "horizontal": "16:9", "landscape": "16:9",
    "方形": "1:1", "方屏": "1:1", "正方形": "1:1", "square": "1:1",
}  # fmt: skip


def normalize_brief(data: dict[str, Any], warn: Warn | None = None) -> dict[str, Any]:
    """``data`` with its versions under ``channels`` and every version and scene in the
    canonical keys. A key that means nothing known is dropped and ``warn``-ed about (once per
    key); a known key with a value it cannot read is left for the validator to report."""
    told: set[str] = set()

    def unknown(key: str, where: str) -> None:
        if warn is not None and key not in told:
            told.add(key)
            warn(f"unknown key '{key}' in {where} ignored")

    out: dict[str, Any] = {}
    for key, value in data.items():
        name = TOP_KEYS.get(str(key).strip().lower(), str(key).strip())
        if name not in TOP_KNOWN:
            unknown(str(key), "the brief")
        out.setdefault(name, value)
    for key in VERSION_LISTS[1:]:
        if key in out and "channels" not in out:
            out["channels"] = out.pop(key)
    channels = out.get("channels")
    if isinstance(channels, dict):  # {tiktok: {...}, youtube: {...}}
        channels = [
            {"name": k, **(v if isinstance(v, dict) else _short(v))} for k, v in channels.items()
        ]
    if isinstance(channels, list):
        out["channels"] = [_version(v, i, unknown) for i, v in enumerate(channels)]
    scenes = out.get("scenes")
    if isinstance(scenes, list):
        out["scenes"] = [
            {"visual": s} if isinstance(s, str) else _keyed(s, SCENE_KEYS, SCENE_FIELDS, unknown)
            for s in scenes
        ]
    people = out.get("characters")
    if isinstance(people, list):
        out["characters"] = [
            _keyed(p, CHARACTER_KEYS, {"name", "description"}, unknown) for p in people
        ]
    return out


def _keyed(
    value: Any, aliases: dict[str, str], fields: set[str], unknown: Callable[[str, str], None]
) -> Any:
    """A mapping with its keys read by meaning; keys that mean nothing known dropped."""
    if not isinstance(value, dict):
        return value
    out: dict[str, Any] = {}
    for key, item in value.items():
        name = aliases.get(str(key).strip().lower(), str(key).strip())
        if name in fields or misspelt(name, fields):
            out.setdefault(name, item)  # a misspelling is the validator's to name, by line
        else:
            unknown(str(key), "a scene" if "visual" in fields else "a version or character")
    return out


def misspelt(key: str, fields: set[str]) -> bool:
    """A key one slip away from a field (``voicover``): refused with its line, since reading
    past it would drop what the writer meant to say."""
    return bool(difflib.get_close_matches(key.lower(), sorted(fields), n=1, cutoff=0.8))


def _version(value: Any, i: int, unknown: Callable[[str, str], None]) -> Any:
    if isinstance(value, str):
        return {"name": f"v{i + 1}", **_short(value)}
    if not isinstance(value, dict):
        return value
    v: dict[str, Any] = {}
    for key, item in value.items():
        name = VERSION_KEYS.get(str(key).strip().lower(), str(key).strip())
        if name in VERSION_FIELDS or misspelt(name, VERSION_FIELDS):
            v.setdefault(name, item)
        else:
            unknown(str(key), "a version")
    if isinstance(v.get("aspect"), str):
        v["aspect"] = _aspect(v["aspect"])
    if isinstance(v.get("duration"), str):
        v["duration"] = re.sub(r"\s*(秒钟?|seconds?|secs?)$", "s", v["duration"].strip())
    if v.get("name") is not None:
        v["name"] = str(v["name"])
    v.setdefault("name", f"v{i + 1}")
    return v


def _aspect(text: str) -> str:
    """``9：16``, ``9x16``, ``9比16``, ``竖屏``, ``portrait`` -> ``9:16``."""
    low = text.strip().lower()
    if low in ASPECT_WORDS:
        return ASPECT_WORDS[low]
    return re.sub(r"\s*(?:[x:：×]|比)\s*", ":", low)


def _short(text: Any) -> dict[str, Any]:
    """``"15s 9:16"`` -> duration 15, aspect 9:16."""
    found: dict[str, Any] = {}
    for m in _SHORT.finditer(str(text)):
        if m.group("num"):
            found["duration"] = float(m.group("num"))
        else:
            found["aspect"] = re.sub(r"\s*[x:]\s*", ":", m.group("ratio"))
    return found


def meanings(key: str) -> set[str]:
    """Every canonical key a written key may stand for (for pointing an error at its line)."""
    low = str(key).strip().lower()
    found = {low}
    for aliases in (TOP_KEYS, VERSION_KEYS, SCENE_KEYS, CHARACTER_KEYS):
        if low in aliases:
            found.add(aliases[low])
    if found & set(VERSION_LISTS):
        found.add("channels")
    return found
