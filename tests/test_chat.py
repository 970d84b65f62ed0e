"""`dramaforge chat` driven through stdin, offline: the command language end to end."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from typer.testing import CliRunner

from dramaforge.cli.app import app
from dramaforge.media.probe import probe
from dramaforge.schema import Manifest
from tests.helpers import FIXTURES

pytestmark = pytest.mark.slow
runner = CliRunner()
SCRIPT = str(FIXTURES / "short.zh.txt")


def _chat(out: Path, *lines: str, resume: bool = False) -> str:
    args = ["chat", SCRIPT, "--out", str(out), "--resolution", "360p"]
    result = runner.invoke(app, [*args, "--resume"] if resume else args, input="\n".join(lines))
    assert result.exit_code == 0, result.output
    assert "Traceback" not in result.output
    return result.output


def _manifest(out: Path) -> Manifest:
    return Manifest.model_validate_json((out / "short" / "manifest.json").read_text("utf-8"))


def _made(out: Path, stage: str, ext: str) -> int:
    return sum(1 for _ in (out / ".dramaforge" / "assets" / stage).rglob(f"*.{ext}"))


def test_chat_edits_approves_and_rerenders_only_the_edited_shot(tmp_path: Path) -> None:
    said = _chat(
        tmp_path,
        "/plan",
        "/edit 2 framing close_up",
        "/edit 9 camera zoom_in",
        "/approve",
        "/quit",
        "/plan",  # never read: the person left
    )
    assert "there is no shot 9" in said
    assert "s01-02 edited" in said
    first = _manifest(tmp_path)
    assert first.plan.shots[1].framing == "close_up"
    assert all(len(r.takes) == 1 for r in first.shots)
    keyframes, clips = _made(tmp_path, "keyframe", "png"), _made(tmp_path, "motion", "mp4")

    # Leave, come back, keep directing the same episode.
    said = _chat(tmp_path, "/edit 3 prompt 夜晚，窗外下雨", "/cost", "/approve", resume=True)
    assert "next render: 1 shot(s)" in said
    second = _manifest(tmp_path)
    assert _made(tmp_path, "keyframe", "png") == keyframes + 1
    assert _made(tmp_path, "motion", "mp4") == clips + 1
    for before, after in zip(first.shots, second.shots, strict=True):
        if before.shot_id == "s01-03":
            assert [t.number for t in after.takes] == [1, 2] and after.take.number == 2
        else:
            assert after.take.motion.key == before.take.motion.key
    info = probe(Path(second.episode.path))
    assert info.has_video and info.has_audio and (info.width, info.height) == (360, 640)

    # An earlier take comes back without generating anything.
    said = _chat(tmp_path, "/take 3 1", "/approve", resume=True)
    assert "take 1 restored" in said and "rendered 0 shot(s)" in said
    assert _manifest(tmp_path).shots[2].take.number == 1
    assert _made(tmp_path, "motion", "mp4") == clips + 1


def test_chat_without_a_model_explains_and_lists_commands(tmp_path: Path) -> None:
    said = _chat(tmp_path, "把第4个镜头改成夜景特写", "/help", "/frobnicate", "/edit 1")
    assert "no chat model is configured" in said
    assert "/redo N" in said
    assert "unknown command /frobnicate" in said
    assert "usage: /edit N FIELD VALUE" in said
    assert not (tmp_path / "short" / "episode.mp4").exists()  # nothing approved, nothing made


def test_rerender_command_redoes_one_shot_and_restores_a_take(tmp_path: Path) -> None:
    made = runner.invoke(app, ["render", SCRIPT, "--out", str(tmp_path), "--resolution", "360p"])
    assert made.exit_code == 0, made.output
    episode = str(tmp_path / "short")
    redo = runner.invoke(app, ["rerender", episode, "--shot", "2", "--json"])
    assert redo.exit_code == 0, redo.output
    assert json.loads(redo.output) | {"cost": 0} == {
        "episode": str(tmp_path / "short" / "episode.mp4"),
        "shot": "s01-02",
        "take": 2,
        "takes": 2,
        "cost": 0,
    }
    back = runner.invoke(app, ["rerender", episode, "--shot", "s01-02", "--take", "1", "--json"])
    assert json.loads(back.output)["take"] == 1
    bad = runner.invoke(app, ["rerender", episode, "--shot", "99"])
    assert bad.exit_code == 2 and "no shot 99" in bad.output and "Traceback" not in bad.output
    missing = runner.invoke(app, ["rerender", str(tmp_path / "nope"), "--shot", "1"])
    assert missing.exit_code == 1 and "render the episode first" in missing.output


def test_draft_pass_then_full_quality_render(tmp_path: Path) -> None:
    args = ["chat", SCRIPT, "--out", str(tmp_path), "--resolution", "480p"]
    said = runner.invoke(
        app, args, input="/draft\n/edit 2 camera zoom_in\n/draft\n/approve\n"
    ).output
    assert "Traceback" not in said and "renders it at full quality" in said
    draft = Manifest.model_validate_json(
        (tmp_path / "short" / "draft" / "manifest.json").read_text("utf-8")
    )
    final = _manifest(tmp_path)
    small = probe(Path(draft.episode.path))
    big = probe(Path(final.episode.path))
    assert (small.width, small.height) == (360, 640)
    assert (big.width, big.height) == (480, 854)
    # The second draft redid only the edited shot; the final render used the edited plan.
    assert [len(r.takes) for r in draft.shots] == [1, 2, 1, 1, 1]
    assert draft.plan.shots[1].camera == final.plan.shots[1].camera == "zoom_in"
    assert [len(r.takes) for r in final.shots] == [1, 1, 1, 1, 1]
    assert final.passes == {"draft": draft.total_cost, "final": final.total_cost}
    assert list(draft.passes) == ["draft"]
