"""A model's inconsistent plan is repaired in code, one rule at a time; a scene beyond repair is
planned by rule; the episode is rendered either way, and the manifest and the CLI say so."""

from __future__ import annotations

import json
import math
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from typer.testing import CliRunner

from dramaforge.agents.plan_repair import (
    NARRATOR,
    SceneDraft,
    SceneFacts,
    ShotDraft,
    repair_scene,
    resolve_name,
)
from dramaforge.cli.app import app
from dramaforge.config import Settings
from dramaforge.media.probe import probe
from dramaforge.schema import Beat, Manifest, Scene
from dramaforge.script import load_script
from dramaforge.serve.workspace import Workspace
from tests.fakes.openai_server import (
    FakeOpenAI,
    Request,
    fake_openai,
    json_reply,
    line_count,
    plan_for,
    scene_number,
)

EXAMPLE = Path(__file__).resolve().parent.parent / "examples" / "campus_ep01.zh.txt"
KEY = "sk-repair-test-0123456789"
runner = CliRunner()
GHOST = "[red]Ghost[/red]"  # printed as written: names reach the terminal escaped


def scene() -> Scene:
    """Three spoken lines: Mia, narration, Leo; an action line names a waiter."""
    return Scene(
        index=1,
        heading="CAFE - DAY",
        beats=[
            Beat(kind="action", text="A waiter pours coffee."),
            Beat(kind="dialogue", speaker="Mia", text="You came."),
            Beat(kind="narration", text="She had waited an hour."),
            Beat(kind="dialogue", speaker="Leo", text="I always do."),
        ],
    )


def facts() -> SceneFacts:
    return SceneFacts.of(scene(), ["Mia", "Leo"], min_shot=2.0, max_shot=8.0)


def shot(lines: list[int], **fields: Any) -> ShotDraft:
    return ShotDraft(
        framing=fields.pop("framing", "close_up"), camera="static", lines=lines, **fields
    )


def plan(*shots: ShotDraft) -> SceneDraft:
    return SceneDraft(shots=list(shots))


def lines_of(draft: SceneDraft | None) -> list[list[int]]:
    assert draft is not None
    return [s.lines for s in draft.shots]


def test_a_clean_plan_is_left_alone() -> None:
    draft = plan(shot([], framing="wide"), shot([1], focus="Mia"), shot([2, 3]))
    fixed = repair_scene(draft, facts())
    assert fixed.repairs == [] and fixed.draft is not None
    assert fixed.draft.model_dump(exclude={"shots": {"__all__": {"scene"}}}) == draft.model_dump(
        exclude={"shots": {"__all__": {"scene"}}}
    )


def test_a_line_in_two_shots_keeps_its_first() -> None:
    fixed = repair_scene(plan(shot([1, 2]), shot([2, 3])), facts())
    assert lines_of(fixed.draft) == [[1, 2], [3]]
    [repair] = fixed.repairs
    assert (repair.kind, repair.shot) == ("repeated_line", "s01-02")
    assert "line 2" in repair.detail and "s01-01" in repair.detail


def test_a_missing_line_gets_its_own_shot_in_order() -> None:
    fixed = repair_scene(plan(shot([], framing="wide"), shot([1]), shot([3])), facts())
    assert lines_of(fixed.draft) == [[], [1], [2], [3]]
    assert fixed.draft is not None
    added = fixed.draft.shots[2]
    assert added.framing == "wide" and added.characters == []  # line 2 is narration
    [repair] = fixed.repairs
    assert (repair.kind, repair.shot) == ("missing_line", "s01-03")

    first = repair_scene(plan(shot([], framing="wide"), shot([2, 3])), facts())
    assert lines_of(first.draft) == [[], [1], [2, 3]]
    assert first.draft is not None and first.draft.shots[1].focus == "Mia"


def test_lines_out_of_order_are_put_back_in_order() -> None:
    fixed = repair_scene(plan(shot([1]), shot([3]), shot([2])), facts())
    assert lines_of(fixed.draft) == [[1], [2], [3], []]
    assert [(r.kind, r.shot) for r in fixed.repairs] == [("line_order", "s01-02")]
    assert "after line 3" in fixed.repairs[0].detail


def test_a_line_that_does_not_exist_is_dropped() -> None:
    fixed = repair_scene(plan(shot([1]), shot([2, 9]), shot([3])), facts())
    assert lines_of(fixed.draft) == [[1], [2], [3]]
    assert [(r.kind, r.shot) for r in fixed.repairs] == [("unknown_line", "s01-02")]


@pytest.mark.parametrize(
    ("name", "expected"),
    [
        ("Narator", NARRATOR),
        ("narrator", NARRATOR),
        ("旁白", NARRATOR),
        ("V.O.", NARRATOR),
        ("小雨", "林小雨"),
        ("林小雨同学", "林小雨"),
        ("陈 默", "陈默"),
        ("jonh", "John"),
        ("JOHN", "John"),
        ("Bob", None),
        ("", None),
    ],
)
def test_names_resolve_to_the_cast_or_the_narrator(name: str, expected: str | None) -> None:
    assert resolve_name(name, ["林小雨", "陈默", "John"]) == expected


def test_unknown_speakers_become_cast_names_or_leave_the_frame() -> None:
    draft = plan(
        shot([1], characters=["mia", "Narator", "waiter", "Bob"], focus="mia"),
        shot([2, 3], characters=["Leoo"], focus="Narrator"),
    )
    fixed = repair_scene(draft, facts())
    assert fixed.draft is not None
    first, second = fixed.draft.shots
    assert first.characters == ["Mia", "waiter"]  # the script names the waiter: kept
    assert first.focus == "Mia"
    assert second.characters == ["Leo"] and second.focus is None
    details = [(r.shot, r.detail) for r in fixed.repairs if r.kind == "speaker"]
    assert ("s01-01", "'mia' is 'Mia'") in details
    assert ("s01-01", "'Narator' is the narrator: not in frame") in details
    assert ("s01-01", "'Bob' is not in the script: left out") in details
    assert ("s01-02", "'Leoo' is 'Leo'") in details
    assert len(details) == 5  # each name once per shot, focus included


@pytest.mark.parametrize(
    ("duration", "fixed_to"), [(999.0, 8.0), (-3.0, 2.0), (0.5, 2.0), (math.inf, 2.0), (5.0, 5.0)]
)
def test_impossible_durations_are_clamped(duration: float, fixed_to: float) -> None:
    fixed = repair_scene(
        plan(shot([], framing="wide", duration=duration), shot([1, 2, 3])), facts()
    )
    assert fixed.draft is not None and fixed.draft.shots[0].duration == fixed_to
    kinds = [r.kind for r in fixed.repairs]
    assert kinds == ([] if duration == fixed_to else ["duration"])


def test_another_scenes_number_is_corrected() -> None:
    fixed = repair_scene(plan(shot([1], scene=1), shot([2, 3], scene=7)), facts())
    assert fixed.draft is not None and [s.scene for s in fixed.draft.shots] == [1, 1]
    assert [(r.kind, r.shot) for r in fixed.repairs] == [("scene", "s01-02")]
    assert "scene 7" in fixed.repairs[0].detail


@pytest.mark.parametrize(
    "draft",
    [plan(), plan(shot([7, 8, 9])), plan(shot([3]), shot([2]), shot([1]))],
    ids=["no shots", "no real lines", "reversed"],
)
def test_a_plan_with_too_little_right_is_declined(draft: SceneDraft) -> None:
    fixed = repair_scene(draft, facts())
    assert fixed.draft is None and fixed.repairs == [] and fixed.reason


# -- through the real director, graph and CLI --------------------------------------------------


def inconsistent(request: Request) -> dict[str, Any]:
    """Scene 1 of the campus example (6 lines) wrong in every repairable way, every time;
    scene 2 hopeless (only lines that do not exist)."""
    if scene_number(request) != 1:
        return {"shots": [{"framing": "close_up", "camera": "static", "lines": [7, 8, 9]}]}
    assert line_count(request) == 6
    shots = plan_for(6)["shots"]
    shots[0] |= {"duration": 999, "characters": ["小雨", "Narator", GHOST], "scene": 1}
    shots[3]["lines"] = [2, 3]  # line 2 twice (also shot 3)
    shots[3]["focus"] = "小雨"
    del shots[4]  # line 4 in no shot
    shots[4]["scene"] = 3
    return {"shots": shots}


@pytest.fixture
def director_env(monkeypatch: pytest.MonkeyPatch) -> Iterator[FakeOpenAI]:
    with fake_openai(json_reply(inconsistent)) as server:
        monkeypatch.setenv("OPENAI_BASE_URL", server.base_url)
        monkeypatch.setenv("OPENAI_API_KEY", KEY)
        yield server


EXPECTED = {
    ("duration", "s01-01"),
    ("speaker", "s01-01"),  # 小雨 -> 林小雨, Narator -> narrator
    ("repeated_line", "s01-04"),
    ("speaker", "s01-04"),  # focus 小雨
    ("missing_line", "s01-05"),
    ("scene", "s01-06"),
    ("fallback", None),
}


@pytest.mark.slow
def test_render_survives_an_inconsistent_director(tmp_path: Path, director_env: FakeOpenAI) -> None:
    args = ["render", str(EXAMPLE), "--out", str(tmp_path), "--resolution", "360p"]
    result = runner.invoke(app, [*args, "--director", "openai:fake-chat"])
    assert result.exit_code == 0, result.output
    assert len(director_env.requests) == 6  # each scene told twice what was wrong, then repaired

    manifest_path = next(tmp_path.glob("*/manifest.json"))
    manifest = Manifest.model_validate_json(manifest_path.read_text(encoding="utf-8"))
    assert {(r.kind, r.shot) for r in manifest.repairs} == EXPECTED
    assert manifest.repairs == manifest.plan.repairs
    assert [r.scene for r in manifest.repairs if r.kind == "fallback"] == [2]
    speakers = {r.detail for r in manifest.repairs if r.kind == "speaker"}
    assert speakers == {
        "'小雨' is '林小雨'",
        "'Narator' is the narrator: not in frame",
        f"'{GHOST}' is not in the script: left out",
    }

    script = load_script(EXAMPLE)
    spoken = [b.text for b in script.spoken_lines()]
    assert [ln.text for s in manifest.plan.shots for ln in s.lines] == spoken
    assert all(2.0 <= s.duration <= 8.0 for s in manifest.plan.shots)
    assert manifest.plan.shots[0].characters == ["林小雨"]
    assert set(manifest.bible.characters) == {"林小雨", "陈默"}
    scene2 = [s for s in manifest.plan.shots if s.scene_index == 2]
    assert scene2[0].id == "s02-01" and scene2[0].framing == "wide"  # the rule director's

    video = probe(Path(manifest.episode.path))
    assert video.has_video and video.has_audio and (video.width, video.height) == (360, 640)
    assert video.duration == pytest.approx(sum(r.duration for r in manifest.shots), abs=0.5)

    said = " ".join(result.output.split())
    assert said.count("repaired (scene 1, s01-") == 8
    assert "planned by rule (scene 2): openai:fake-chat: the model placed only 0" in said
    assert f"'{GHOST}' is not in the script" in said


def test_plan_command_shows_repairs(director_env: FakeOpenAI) -> None:
    base = ["plan", str(EXAMPLE), "--director", "openai:fake-chat"]
    table = runner.invoke(app, base)
    assert table.exit_code == 0, table.output
    text = " ".join(table.output.split())
    assert "repaired (scene 1, s01-05): line 4 was in no shot; given this shot" in text
    assert "planned by rule (scene 2)" in text

    data = json.loads(runner.invoke(app, [*base, "--json"]).stdout)
    assert {(r["kind"], r["shot"]) for r in data["repairs"]} == EXPECTED


def test_chat_shows_repairs_when_it_opens(tmp_path: Path, director_env: FakeOpenAI) -> None:
    args = ["chat", str(EXAMPLE), "--out", str(tmp_path), "--director", "openai:fake-chat"]
    result = runner.invoke(app, args, input="/quit\n")
    assert result.exit_code == 0, result.output
    said = " ".join(result.output.split())
    assert said.count("repaired (scene 1, s01-") == 8
    assert "planned by rule (scene 2)" in said


def test_tools_for_other_agents_report_repairs(tmp_path: Path, director_env: FakeOpenAI) -> None:
    (tmp_path / "ep.txt").write_text(EXAMPLE.read_text(encoding="utf-8"), encoding="utf-8")
    base = Settings()
    settings = base.model_copy(
        update={"backends": base.backends.model_copy(update={"director": "openai:fake-chat"})}
    )
    planned = Workspace(tmp_path, settings).plan_episode(script="ep.txt")
    assert len(planned["repairs"]) == 9
    assert planned["repairs"][-1].startswith("planned by rule (scene 2)")
