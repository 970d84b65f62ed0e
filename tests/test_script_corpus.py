"""Scripts as writers write them: every shape in tests/scripts_corpus/ reads as its sidecar says.

Each file was written by hand in a shape found in the wild (短剧 Markdown with a header block,
场景/第N场/内景 headings, 【】 markers, WeChat lines and exports, subtitles, novel-like prose,
Fountain and plain screenplays, a YAML brief). Its ``.json`` sidecar says what a reader would:
the format, title and style, each scene's place, time of day, inside or outside and music cue,
who speaks, and what the cast list says about them. The offline keyframe and the prompts must
follow the same place and time, so the plan made from each script is checked against it too.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from dramaforge.agents.bible import build_bible
from dramaforge.agents.director import RuleDirector
from dramaforge.schema import Script, Voice
from dramaforge.script import load_script
from dramaforge.tools.local import sets
from dramaforge.tools.local.storyboard import render, time_of_day
from dramaforge.tools.protocols import ImageRequest

CORPUS = Path(__file__).resolve().parent / "scripts_corpus"
SCRIPTS = sorted(p for p in CORPUS.iterdir() if p.suffix != ".json")
LIGHT = {  # what a reader takes each written time of day to look like
    "day": {"白天", "日", "下午", "day", "afternoon", "late afternoon", "continuous"},
    "dusk": {"傍晚", "黄昏", "evening", "dusk"},
    "night": {"夜", "晚上", "深夜", "凌晨", "雨夜", "night"},
    "dawn": {"清晨", "早上", "morning", "dawn"},
}


def expected(path: Path) -> dict[str, Any]:
    data: dict[str, Any] = json.loads(Path(f"{path}.json").read_text(encoding="utf-8"))
    return data


def test_the_corpus_has_at_least_thirty_shapes_in_both_languages() -> None:
    assert len(SCRIPTS) >= 30
    languages = [expected(p)["language"] for p in SCRIPTS]
    assert languages.count("zh") >= 12 and languages.count("en") >= 12
    assert {expected(p)["format"] for p in SCRIPTS} == {"marker", "fountain", "prose", "yaml"}


@pytest.mark.parametrize("path", SCRIPTS, ids=[p.name for p in SCRIPTS])
def test_script_reads_as_its_writer_meant(path: Path) -> None:
    want = expected(path)
    script = load_script(path)
    assert (script.format, script.language, script.title) == (
        want["format"],
        want["language"],
        want["title"],
    )
    assert script.style == want["style"]
    got = [
        {
            "location": s.location,
            "time_of_day": s.time_of_day,
            "interior": s.interior,
            "music": next((b.text for b in s.beats if b.kind == "music"), None),
        }
        for s in script.scenes
    ]
    assert got == want["scenes"]
    speakers = list(dict.fromkeys(b.speaker for s in script.scenes for b in s.beats if b.speaker))
    assert speakers == want["speakers"]
    assert {c.name: c.description for c in script.characters if c.description} == want[
        "descriptions"
    ]
    assert len(script.spoken_lines()) == want["spoken_lines"]
    _no_metadata_spoken(script)


def _no_metadata_spoken(script: Script) -> None:
    """Header keys are never people, and never said aloud."""
    keys = {
        "风格",
        "画风",
        "标题",
        "简介",
        "集数",
        "角色",
        "人物",
        "类型",
        "Style",
        "Title",
        "Cast",
    }
    assert not keys & {c.name for c in script.characters}
    for beat in script.spoken_lines():
        assert not any(beat.text.startswith(f"{k}：") for k in keys), beat.text
        if script.style:
            assert script.style not in beat.text


@pytest.mark.parametrize("path", SCRIPTS, ids=[p.name for p in SCRIPTS])
def test_keyframes_and_prompts_follow_place_and_time(path: Path) -> None:
    """What the offline painter gets (the shot's heading and time) draws the right light and
    the right side of the wall, and every shot's prompt names the place and the time."""
    script = load_script(path)
    plan = RuleDirector().direct(script)
    for scene in script.scenes:
        shots = [s for s in plan.shots if s.scene_index == scene.index]
        assert shots, scene.index
        for shot in shots:
            if scene.location:
                assert scene.location in shot.visual_prompt
            if scene.time_of_day:
                assert scene.time_of_day in shot.visual_prompt
            light = time_of_day(f"{shot.time_of_day} {shot.scene_heading}")
            written = scene.time_of_day.lower()
            if written:
                assert written in LIGHT[light], (written, light)
            if scene.interior is not None:
                assert sets.is_interior(shot.scene_heading) == scene.interior, shot.scene_heading


def test_two_scenes_keep_their_own_music_and_the_style_is_the_look() -> None:
    """The report that started this: a style line drawn as a person, two scenes read as one."""
    script = load_script(CORPUS / "zh_markdown_header.md")
    plan = RuleDirector().direct(script)
    music = {s.scene_index: s.music for s in plan.shots}
    assert music == {1: "轻快的钢琴曲", 2: "舒缓的吉他"}
    voices = [Voice(id=f"v{i}") for i in range(4)]
    bible = build_bible(script, plan, voices)
    assert bible.look == "日系动漫风，清新校园，暖色调"
    assert set(bible.characters) == {"林小雨", "陈默"}
    assert bible.characters["林小雨"].description.startswith("女，16岁")
    hallway = next(s for s in plan.shots if s.scene_index == 2)
    assert (hallway.scene_heading, hallway.time_of_day) == ("走廊 傍晚", "傍晚")


def test_a_script_without_a_style_keeps_the_default_look() -> None:
    script = load_script(CORPUS / "zh_dichang.txt")
    plan = RuleDirector().direct(script)
    voices = [Voice(id="v")]
    assert build_bible(script, plan, voices).look == "分镜动态漫画，干净线条，柔和光影"


def _frame(heading: str, tod: str) -> np.ndarray:
    request = ImageRequest(
        prompt="", width=640, height=360, seed=3, framing="wide", scene_heading=heading,
        time_of_day=tod, characters={}, caption="",
    )  # fmt: skip
    return np.asarray(render(request).convert("RGB")).astype(int)


def _share(px: np.ndarray, test: Callable[[np.ndarray], np.ndarray]) -> float:
    return float(test(px).mean())


def test_the_offline_painter_draws_the_place_and_the_light_the_heading_names() -> None:
    """Corridor at dusk, classroom by day, playground at night: told apart by their pixels."""
    corridor = _frame("走廊 傍晚", "傍晚")
    classroom = _frame("教室 白天", "白天")
    playground = _frame("操场 夜", "夜")
    playground_day = _frame("Playground, day", "day")

    def board(px: np.ndarray) -> np.ndarray:  # chalkboard green
        r, g, b = px[..., 0], px[..., 1], px[..., 2]
        return (g > r + 20) & (g > b + 5) & (g < 110)

    def dusk_sky(px: np.ndarray) -> np.ndarray:  # orange light through the windows
        r, g, b = px[..., 0], px[..., 1], px[..., 2]
        return (r > 190) & (g > 100) & (g < 180) & (b < 130)

    def grass(px: np.ndarray) -> np.ndarray:
        r, g, b = px[..., 0], px[..., 1], px[..., 2]
        return (g > r + 15) & (g > b + 5)

    wall = (slice(40, 160), slice(200, 480))
    assert _share(classroom[wall], board) > 0.2  # a blackboard on the classroom wall
    assert _share(corridor[wall], board) < 0.01 and _share(playground[wall], board) < 0.01
    assert _share(corridor[:, :200], dusk_sky) > 0.05  # dusk in the corridor's windows
    assert _share(classroom, dusk_sky) < 0.01
    ground = (slice(290, 360), slice(None))
    assert _share(playground[ground], grass) > 0.5 and _share(classroom[ground], grass) < 0.05
    sky = (slice(0, 60), slice(None))
    assert playground[sky].mean() < 80 < playground_day[sky].mean()  # night is dark
    assert playground[ground].mean() < playground_day[ground].mean() - 30
