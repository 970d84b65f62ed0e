"""Shot lists as other tools and LLMs write them (JSON, CSV, Excel) plan to the shots they list.

The three files in tests/shotlists (the Excel one is written here with openpyxl, as a
production team's sheet: a title block above a Chinese header row) list the same five shots
under different headers, in Chinese and English. Each must plan to exactly those shots: their
order, framing, camera move and length as listed, the speaker of a bare line found from the
frame (and said in the repairs), and the line a sound-effect cell repeats voiced once.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from openpyxl import Workbook
from typer.testing import CliRunner

from dramaforge.agents.director import RuleDirector
from dramaforge.cli.app import app
from dramaforge.errors import ScriptError
from dramaforge.graph.verbs import render_episode
from dramaforge.media.probe import probe
from dramaforge.schema import ShotPlan
from dramaforge.script import load_script, parse_text
from dramaforge.script.shotlist import camera_of, field_of, framing_of, seconds_of
from tests.helpers import settings_for

LISTS = Path(__file__).resolve().parent / "shotlists"
EXPECTED = [  # framing, camera, seconds, lines (speaker or None for narration), sound effects
    ("wide", "zoom_in", 4.0, [], ["鸟鸣，远处的上课铃"]),
    ("close_up", "static", 3.0, [("林晓", "对不起，我来晚了！")], []),
    ("close_up", "zoom_out", 2.5, [("陈默", "又是你。")], []),
    ("medium", "pan_right", 5.0, [(None, "那一天，是他们故事的开始。")], ["脚步声"]),
    ("close_up", "static", 3.0, [("林晓", "明天见。")], ["风声"]),
]


def excel_list(dest: Path) -> Path:
    """The sheet a production team passes around: a title block, a blank row, the header."""
    book = Workbook()
    sheet = book.active
    sheet.title = "分镜表"
    sheet.append(["剧名：迟到"])
    sheet.append(["角色", "林晓（短发女生，蓝白校服）、陈默（高个男生，戴黑框眼镜）"])
    sheet.append([])
    sheet.append(
        ["镜号", "景别", "时长（秒）", "画面内容", "台词", "旁白", "音效", "运镜", "背景音乐"]
    )
    sheet.append([1, "远景", 4, "清晨的校园门口，林晓背着书包一路小跑过来", None, None,
                  "鸟鸣，远处的上课铃", "推镜", "轻快的钢琴"])  # fmt: skip
    sheet.append([2, "近景", 3, "林晓气喘吁吁地停下，抬头看向门口的陈默", "对不起，我来晚了！",
                  None, "对不起，我来晚了！", "固定", None])  # fmt: skip
    sheet.append([3, "特写", 2.5, "陈默看了看手表，无奈地笑了", "陈默：又是你。", None, None,
                  "拉", None])  # fmt: skip
    sheet.append([4, "中景", 5, "两人并肩走进教学楼", None, "那一天，是他们故事的开始。",
                  "脚步声", "跟拍", None])  # fmt: skip
    sheet.append([5, "特写", 3, "林晓回头一笑", "林晓：明天见。", None, "风声", "固定", None])
    book.save(dest)
    return dest


def _plan(path: Path) -> ShotPlan:
    return RuleDirector().direct(load_script(path))


def _shape(plan: ShotPlan) -> list[tuple[Any, ...]]:
    return [
        (
            s.framing,
            s.camera,
            s.duration,
            [(ln.speaker, ln.text) for ln in s.lines],
            s.sfx,
        )
        for s in plan.shots
    ]


@pytest.fixture(params=["late.llm.json", "late.tool.csv", "late.team.xlsx"])
def listed(request: pytest.FixtureRequest, tmp_path: Path) -> Path:
    name = str(request.param)
    return excel_list(tmp_path / name) if name.endswith(".xlsx") else LISTS / name


def test_each_shot_list_plans_to_the_shots_it_lists(listed: Path) -> None:
    script = load_script(listed)
    assert script.format == "shotlist" and script.language == "zh"
    assert {c.name for c in script.characters} == {"林晓", "陈默"}
    plan = RuleDirector().direct(script)
    assert _shape(plan) == EXPECTED
    assert [s.hold for s in plan.shots] == [4.0, 3.0, 2.5, 5.0, 3.0]  # speech may not shorten
    found = [r for r in plan.repairs if r.kind == "speaker"]
    assert any("林晓" in r.detail and "frame" in r.detail for r in found)  # said, not silent
    assert "林晓" in plan.shots[1].characters and "陈默" in plan.shots[1].characters


def test_the_three_tools_lists_plan_alike(tmp_path: Path) -> None:
    json_plan = _plan(LISTS / "late.llm.json")
    assert json_plan.title == "迟到"
    assert _shape(json_plan) == _shape(_plan(LISTS / "late.tool.csv"))
    assert _shape(json_plan) == _shape(_plan(excel_list(tmp_path / "team.xlsx")))


def test_the_cast_keeps_its_looks() -> None:
    script = load_script(LISTS / "late.llm.json")
    looks = {c.name: c.description for c in script.characters}
    assert "短发" in looks["林晓"] and "眼镜" in looks["陈默"]
    assert script.style.startswith("日系清新")


def test_plan_command_reads_a_json_shot_list() -> None:
    result = CliRunner().invoke(app, ["plan", str(LISTS / "late.llm.json"), "--json"])
    assert result.exit_code == 0, result.output
    plan = json.loads(result.output)
    assert [s["duration"] for s in plan["shots"]] == [4.0, 3.0, 2.5, 5.0, 3.0]


def test_a_dialogue_list_of_entries_and_a_bare_list() -> None:
    text = json.dumps(
        [
            {"镜号": "1-1", "景别": "中景", "画面": "阿强和小美在咖啡馆对坐",
             "对白": [{"角色": "阿强", "台词": "你终于来了。"}, {"角色": "小美", "台词": "嗯。"}]},
            {"镜号": "1-2", "景别": "特写", "画面": "小美低头搅动咖啡", "台词": "我有话想说。",
             "时长": "3-5秒"},
        ],
        ensure_ascii=False,
    )  # fmt: skip
    plan = RuleDirector().direct(parse_text(text, source="cafe.json"))
    assert [(ln.speaker, ln.text) for ln in plan.shots[0].lines] == [
        ("阿强", "你终于来了。"),
        ("小美", "嗯。"),
    ]
    assert [(ln.speaker, ln.text) for ln in plan.shots[1].lines] == [("小美", "我有话想说。")]
    assert plan.shots[1].duration == 4.0 and plan.shots[0].framing == "medium"


def test_a_yaml_brief_is_still_a_brief() -> None:
    brief = "title: Ad\nproduct: Tea\nscenes:\n  - visual: a cup\n    voiceover: Hot tea.\n"
    assert parse_text(brief, source="ad.yaml").format == "yaml"
    listed = "title: 迟到\nshots:\n  - 镜号: 1\n    画面: 校门口\n    台词: 林晓：早。\n"
    assert parse_text(listed, source="late.yaml").format == "shotlist"
    bare = "title: 迟到\n分镜:\n  - 画面: 校门口\n    台词: 林晓：早。\n"  # no shot-only field
    assert parse_text(bare, source="late.yaml").format == "shotlist"


def test_json_that_is_no_shot_list_is_one_clear_error() -> None:
    with pytest.raises(ScriptError, match="no list of shots found"):
        parse_text('{"name": "x", "version": 2}', source="package.json")
    with pytest.raises(ScriptError, match="not valid JSON"):
        parse_text('{"shots": [', source="broken.json")


@pytest.mark.parametrize(
    ("header", "field"),
    [("镜号", "id"), ("Shot No.", "id"), ("时长（秒）", "duration"), ("Camera Movement", "camera"),
     ("画面描述（中文）", "visual"), ("frame_content", "visual"), ("BGM", "music"),
     ("sound_effect", "sfx"), ("台词", "line"), ("Voiceover", "narration"), ("景别", "framing")],
)  # fmt: skip
def test_headers_read_by_meaning(header: str, field: str) -> None:
    assert field_of(header) == field


def test_values_read_by_meaning() -> None:
    assert [framing_of(v) for v in ("远景", "Extreme close-up", "MS", "过肩", "细节")] == [
        "wide", "close_up", "medium", "medium", "insert",
    ]  # fmt: skip
    assert [camera_of(v) for v in ("缓慢推镜", "Pull out", "左摇", "Static", "环绕")] == [
        "zoom_in", "zoom_out", "pan_left", "static", "pan_right",
    ]  # fmt: skip
    assert [seconds_of(v) for v in (3, "2.5s", "4秒", "00:06", "3-5秒", "", "很长")] == [
        3.0, 2.5, 4.0, 6.0, 4.0, None, None,
    ]  # fmt: skip


@pytest.mark.slow
def test_an_excel_shot_list_renders_at_its_listed_lengths(tmp_path: Path) -> None:
    manifest = render_episode(excel_list(tmp_path / "late.xlsx"), tmp_path / "out", settings_for())
    lengths = [r.duration for r in manifest.shots]
    assert all(
        got >= listed - 0.05 for got, listed in zip(lengths, [4.0, 3.0, 2.5, 5.0, 3.0], strict=True)
    )
    assert probe(Path(manifest.episode.path)).duration >= 17.4
    voiced = [ln.text for s in manifest.plan.shots for ln in s.lines]
    assert voiced.count("对不起，我来晚了！") == 1


def test_an_edit_of_a_listed_shots_length_is_kept() -> None:
    from dramaforge.graph.edits import edit_shot

    plan = _plan(LISTS / "late.llm.json")
    edited = edit_shot(plan, 4, "duration", "2")
    assert (edited.shots[3].duration, edited.shots[3].hold) == (2.0, 2.0)


def test_a_markdown_storyboard_table_keeps_its_shots() -> None:
    """``| 镜号 | 景别 | 画面 | 台词 | 音效 | 时长 |``: a 分镜表 in a script lists shots too."""
    plan = _plan(Path(__file__).resolve().parent / "scripts_corpus" / "zh_storyboard_table.md")
    assert [(s.framing, s.duration) for s in plan.shots] == [
        ("wide", 3.0), ("close_up", 2.0), ("close_up", 2.0), ("medium", 3.0),
    ]  # fmt: skip
    assert [ln.speaker for s in plan.shots for ln in s.lines] == ["王总", "苏晴", None]


def test_a_scene_with_beats_beside_its_table_is_cut_by_the_director() -> None:
    text = (
        "【场景1】会议室\n【旁白】那天下午。\n\n| 镜号 | 画面 | 台词 | 时长 |\n|---|---|---|---|\n"
        "| 1 | 王总拍桌而起。 | 王总：谁做的？ | 2s |\n"
    )
    script = parse_text(text, source="mixed.txt")
    assert script.scenes[0].shots == []  # the 旁白 would be lost from listed shots
    assert "那天下午。" in [ln.text for s in RuleDirector().direct(script).shots for ln in s.lines]


def test_a_chat_model_director_keeps_the_listed_shots_without_asking() -> None:
    from dramaforge.agents.plugin import openai_director
    from dramaforge.config import ProviderSettings, Settings
    from tests.fakes.openai_server import fake_openai

    with fake_openai() as server:
        provider = ProviderSettings(api_key="sk-t", base_url=server.base_url, max_retries=0)
        director = openai_director("fake-chat", Settings().model_copy(update={"openai": provider}))
        plan = director.direct(load_script(LISTS / "late.llm.json"))
        assert server.requests == []  # nothing to re-plan
    assert _shape(plan) == EXPECTED
    assert any(r.kind == "speaker" for r in plan.repairs)
