"""Input a person or a machine gets wrong: edit values, batch names, refusing disks, and two
renders of one episode at once."""

from __future__ import annotations

import errno
import os
import subprocess
import sys
import time
from pathlib import Path

import pytest
from typer.testing import CliRunner

from dramaforge.cli.app import app
from dramaforge.errors import EditError
from dramaforge.graph import edits
from dramaforge.graph.batch import collect, episode_names
from dramaforge.media.probe import probe
from dramaforge.schema import Line, Shot, ShotPlan
from tests.helpers import FIXTURES


def _plan() -> ShotPlan:
    shot = Shot(
        id="s01-01",
        index=1,
        scene_index=1,
        scene_heading="教室",
        duration=3.0,
        framing="medium",
        camera="static",
        visual_prompt="教室",
        lines=[Line(speaker="林小雨", text="你好。")],
    )
    return ShotPlan(title="t", language="zh", shots=[shot])


@pytest.mark.parametrize("value", ["nan", "inf", "-inf", "-1", "0", "1e9", float("nan"), "abc"])
def test_an_edited_duration_must_be_finite_and_in_range(value: object) -> None:
    with pytest.raises(EditError, match="duration"):
        edits.edit_shot(_plan(), 1, "duration", value)


def test_sane_edits_pass_and_huge_text_is_refused() -> None:
    plan = edits.edit_shot(_plan(), 1, "duration", "4.5")
    assert plan.shots[0].duration == 4.5
    with pytest.raises(EditError, match="at most"):
        edits.edit_shot(plan, 1, "prompt", "x" * 5000)
    with pytest.raises(EditError, match="at most"):
        edits.edit_shot(plan, 1, "line 1", "话" * 5000)


def test_batch_names_are_distinct_and_duplicates_collapse(tmp_path: Path) -> None:
    for season in ("s1", "s2"):
        (tmp_path / season).mkdir()
        (tmp_path / season / "ep01.txt").write_text("x", encoding="utf-8")
    a, b = tmp_path / "s1" / "ep01.txt", tmp_path / "s2" / "ep01.txt"
    again = tmp_path / "s1" / ".." / "s1" / "ep01.txt"
    scripts = collect([a, b, again, tmp_path / "s1"])
    assert scripts == [a, b]
    assert episode_names(scripts) == {a: "s1_ep01", b: "s2_ep01"}
    assert episode_names([a]) == {a: "ep01"}


def test_a_full_disk_is_one_line_with_exit_3_and_no_temp_files(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    real_replace = os.replace

    def full(src: object, dst: object) -> None:
        if str(dst).endswith((".json", ".srt", ".html", ".mp4")):
            raise OSError(errno.ENOSPC, "No space left on device", str(dst))
        real_replace(src, dst)  # type: ignore[arg-type]

    monkeypatch.setattr(os, "replace", full)
    out = tmp_path / "out"
    result = CliRunner().invoke(
        app, ["render", str(FIXTURES / "short.zh.txt"), "--out", str(out), "--resolution", "360p"]
    )
    assert result.exit_code == 3, result.output
    message = result.output.strip().splitlines()
    assert len(message) == 1 and "No space left on device" in message[0]
    assert "Traceback" not in result.output
    leftovers = [p for p in out.rglob("*") if p.name.endswith((".tmp", ".part"))]
    assert leftovers == []


def test_an_output_path_that_is_a_file_is_one_line(tmp_path: Path) -> None:
    blocker = tmp_path / "out"
    blocker.write_text("not a folder", encoding="utf-8")
    result = CliRunner().invoke(
        app, ["render", str(FIXTURES / "short.zh.txt"), "--out", str(blocker)]
    )
    assert result.exit_code == 3, result.output
    assert "Traceback" not in result.output and len(result.output.strip().splitlines()) == 1


@pytest.mark.slow
def test_a_missing_ffmpeg_is_one_line_with_exit_3(tmp_path: Path) -> None:
    env = {**os.environ, "IMAGEIO_FFMPEG_EXE": str(tmp_path / "no-ffmpeg")}
    result = subprocess.run(
        [sys.executable, "-m", "dramaforge", "render", str(FIXTURES / "short.zh.txt"),
         "--out", str(tmp_path / "out"), "--resolution", "360p"],
        capture_output=True, text=True, env=env, timeout=300,
    )  # fmt: skip
    assert result.returncode == 3, result.stderr
    assert "ffmpeg is missing" in result.stderr and "Traceback" not in result.stderr


@pytest.mark.slow
def test_two_processes_rendering_one_episode_take_turns(tmp_path: Path) -> None:
    out = tmp_path / "out"
    cmd = [sys.executable, "-m", "dramaforge", "render", str(FIXTURES / "short.zh.txt"),
           "--out", str(out), "--resolution", "360p"]  # fmt: skip
    first = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    time.sleep(1.0)
    second = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    results = [p.communicate(timeout=600) for p in (first, second)]
    assert first.returncode == 0 and second.returncode == 0, results
    waited = [err for _, err in results if "another render of this episode is running" in err]
    assert len(waited) == 1  # the later one said it waited
    info = probe(out / "short" / "episode.mp4")
    assert info.has_video and info.has_audio and info.duration > 5
