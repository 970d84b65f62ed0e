"""Briefs as marketers write them: keys read by meaning in zh and en, an unknown key warned
about once and read past, only what cannot be understood refused."""

from __future__ import annotations

import logging

import pytest

from dramaforge.errors import ScriptError
from dramaforge.script import parse_text

ZH = """\
标题: 清茶上新
产品: 山间清茶
卖点:
  - 高山茶园，手工采摘
  - 冷泡三分钟即可饮用
受众: 25-35岁白领
心情: 放松
版本:
  - 平台: 抖音
    时长: 15秒
    比例: 竖屏
    心情: 轻快
  - 渠道: B站
    时长: 30
    画幅: "16:9"
  - channel: Instagram
    画幅: 1:1
"""

EN = """\
title: Cold Brew
product: Mountain Tea
points: [Hand-picked, Ready in three minutes]
versions:
  - platform: TikTok
    ratio: 9 x 16
    length: 15 seconds
    vibe: chill
  - platform: YouTube
    aspect: landscape
    duration: 30s
    vibe: chill
scenes:
  - 画面: a glass of iced tea on a wooden table
    旁白: Cold brew, in three minutes.
    音效: ice clinking
"""


def test_a_chinese_brief_reads_by_meaning(caplog: pytest.LogCaptureFixture) -> None:
    with caplog.at_level(logging.WARNING):
        script = parse_text(ZH, source="tea.yaml")
    assert script.title == "清茶上新"
    assert [(c.name, c.aspect, c.duration) for c in script.channels] == [
        ("抖音", "9:16", 15.0),
        ("B站", "16:9", 30.0),
        ("Instagram", "1:1", None),
    ]
    assert [b.text for s in script.scenes for b in s.beats if b.kind == "narration"] == [
        "高山茶园，手工采摘",
        "冷泡三分钟即可饮用",
    ]
    warned = [r.getMessage() for r in caplog.records]
    assert warned == ["tea.yaml: unknown key '心情' in the brief ignored"]  # once; 受众 is known


def test_an_english_brief_with_platforms_and_chinese_scene_keys(
    caplog: pytest.LogCaptureFixture,
) -> None:
    with caplog.at_level(logging.WARNING):
        script = parse_text(EN, source="brew.yaml")
    assert [(c.name, c.aspect, c.duration) for c in script.channels] == [
        ("TikTok", "9:16", 15.0),
        ("YouTube", "16:9", 30.0),
    ]
    (scene,) = script.scenes
    assert [(b.kind, b.text) for b in scene.beats] == [
        ("action", "a glass of iced tea on a wooden table"),
        ("narration", "Cold brew, in three minutes."),
        ("sfx", "ice clinking"),
    ]
    assert [r.getMessage() for r in caplog.records] == [
        "brew.yaml: unknown key 'vibe' in a version ignored"
    ]


def test_what_cannot_be_understood_is_still_refused() -> None:
    bad = "title: x\nproduct: y\nversions:\n  - 平台: 抖音\n    比例: banana\n"
    with pytest.raises(ScriptError, match=r"channels\.0\.aspect") as err:
        parse_text(bad, source="bad.yaml")
    assert "bad.yaml:5" in str(err.value)
