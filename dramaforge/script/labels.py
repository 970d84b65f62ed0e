"""The words writers put before a colon or in brackets, and what each one means.

A script's header (``标题：``, ``风格：``, ``角色：``, ``简介：``, ``集数：``) is metadata, and the
body's markers (``画面：``, ``旁白：``, ``音效：``) are kinds of beat. Anything else before a
colon may be a speaker, so a key a writer uses for metadata must be listed here, or it is
drawn as a person and given a voice.
"""

from __future__ import annotations

import re
from typing import Literal

Label = Literal[
    "scene",
    "cast",
    "title",
    "logline",
    "style",
    "meta",
    "time",
    "place",
    "skip",
    "action",
    "dialogue",
    "narration",
    "sfx",
    "music",
]


def _keys(words: str) -> list[str]:
    return [w.strip() for w in words.split("|") if w.strip()]


_TABLE: list[tuple[Label, str]] = [
    ("scene", "场景|场|场次|scene"),
    (
        "cast",
        "人物|角色|主要人物|主要角色|出场人物|登场人物|人物表|角色表|人物介绍|角色介绍"
        "|人物小传|人物设定|角色设定|演员表|characters|character|cast|main characters|cast list",
    ),
    ("title", "标题|剧名|片名|剧集名|title"),
    (
        "logline",
        "简介|梗概|故事梗概|剧情简介|剧情梗概|本集简介|本集梗概|一句话梗概|故事简介|剧情"
        "|内容简介|logline|synopsis|summary|premise",
    ),
    (
        "style",
        "风格|画风|美术风格|视觉风格|画面风格|影像风格|风格设定|视觉|美术|色调|style|look"
        "|visual style|art style|tone",
    ),
    (
        "meta",
        "集数|第几集|本集|类型|题材|编剧|作者|原著|导演|时长|片长|总时长|备注|说明|标签|主题"
        "|平台|比例|画幅|版本|日期|字数|总集数|出品|背景|故事背景|世界观|受众|目标受众|episode|ep"
        "|genre|author|authors|writer|written by|by|director|duration|runtime|length|notes|note"
        "|tags|theme|format|aspect|draft|draft date|date|contact|copyright|credit|source|audience"
        "|setting|series|season|revision|language|lang",
    ),
    ("time", "时间|time|time of day"),
    ("place", "地点|场地|地点场景|location|place"),
    ("skip", "转场|切换|切至|黑屏|淡入|淡出|transition|cut"),
    ("action", "画面|镜头|动作|字幕|描述|visual|action|shot"),
    ("dialogue", "对白|台词|dialogue"),
    ("narration", "旁白|画外音|独白|内心独白|os|narration|narrator|voiceover|voice over|vo|v.o."),
    ("sfx", "音效|声音|sfx|sound|sound effect"),
    ("music", "背景音乐|音乐|配乐|bgm|music"),
]
LABELS: dict[str, Label] = {key: label for label, words in _TABLE for key in _keys(words)}
NARRATORS = frozenset(k for k, v in LABELS.items() if v == "narration")

HEADER_ONLY = frozenset(
    _keys(
        "导演|作者|编剧|原著|writer|author|director|by|source|contact|credit|setting|背景|视觉|美术"
        "|tone|look|剧情|说明|note|notes|备注|format|language|lang|series|season|date"
    )
)
"""Keys that are metadata in the header but may be a person (导演, the director in a drama
about a film set) or a word of the body once the scenes begin."""

_KEY = re.compile(r"^(?P<key>[^\s：:][^：:]{0,19}?)\s*[：:]\s*(?P<rest>.*)$")
_NUMBER_SUFFIX = re.compile(r"\s*[\d一二三四五六七八九十]{1,3}$")


def keyed(line: str) -> tuple[str, str] | None:
    """``风格：日系`` -> ("风格", "日系"); the key is lower-cased and stripped of Markdown."""
    m = _KEY.match(line)
    if m is None:
        return None
    key = m.group("key").strip(" *_-•>").lower()
    return _NUMBER_SUFFIX.sub("", key) or key, m.group("rest").strip()


def label_of(key: str, *, in_header: bool) -> Label | None:
    """What ``key`` means where it stands; None when it is not a known label."""
    label = LABELS.get(key)
    if label is None:
        return None
    return None if not in_header and key in HEADER_ONLY else label
