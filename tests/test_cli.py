"""The command line as a user meets it: exit codes, one-line errors, JSON output."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from typer.testing import CliRunner

from dramaforge.cli.app import app
from tests.helpers import FIXTURES

runner = CliRunner()


def test_bad_script_is_one_clear_line_and_exit_code_2(tmp_path: Path) -> None:
    empty = tmp_path / "empty.txt"
    empty.write_text("", encoding="utf-8")
    result = runner.invoke(app, ["render", str(empty), "--out", str(tmp_path / "out")])
    assert result.exit_code == 2
    assert "empty.txt" in result.output
    assert "Traceback" not in result.output
    assert not (tmp_path / "out" / "empty").exists()


def test_missing_file(tmp_path: Path) -> None:
    result = runner.invoke(app, ["render", str(tmp_path / "nope.txt")])
    assert result.exit_code != 0
    assert "nope.txt" in result.output and "Traceback" not in result.output


def test_plan_prints_the_shot_list_without_rendering(tmp_path: Path) -> None:
    result = runner.invoke(app, ["plan", str(FIXTURES / "short.zh.txt"), "--json"])
    assert result.exit_code == 0, result.output
    plan = json.loads(result.output)
    assert plan["shots"][0]["id"] == "s01-01"
    spoken = [ln["text"] for s in plan["shots"] for ln in s["lines"]]
    assert spoken == ["早上好。", "你来晚了。", "对不起。", "放学后，两人一起走回家。", "明天见。"]
    table = runner.invoke(app, ["plan", str(FIXTURES / "short.zh.txt")])
    assert table.exit_code == 0 and "s02-01" in table.output


def test_doctor_reports_every_part() -> None:
    result = runner.invoke(app, ["doctor", "--json"])
    checks = {c["name"]: c for c in json.loads(result.output)}
    assert {"ffmpeg", "probing", "CJK font", "voice zh", "voice en"} <= set(checks)
    assert all(c["ok"] for c in checks.values()), checks
    assert result.exit_code == 0


@pytest.mark.slow
def test_render_json(tmp_path: Path) -> None:
    result = runner.invoke(
        app,
        [
            "render",
            str(FIXTURES / "short.zh.txt"),
            "--out",
            str(tmp_path),
            "--resolution",
            "360p",
            "--aspect",
            "1:1",
            "--json",
        ],
    )
    assert result.exit_code == 0, result.output
    data = json.loads(result.output)
    assert (data["width"], data["height"]) == (360, 360)
    assert Path(data["episode"]).is_file() and Path(data["storyboard"]).is_file()


def test_doctor_shows_where_settings_come_from_and_masks_keys(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    monkeypatch.chdir(tmp_path)
    (tmp_path / "dramaforge.toml").write_text('[backends]\nvideo = "local:motion"\n')
    monkeypatch.setenv("DASHSCOPE_API_KEY", "sk-super-secret-value-42")
    monkeypatch.setenv("DRAMAFORGE_BACKENDS__IMAGE", "local:storyboard")
    result = runner.invoke(app, ["doctor"])
    assert "super-secret" not in result.output
    assert "dashscope key: set" in result.output and "env DASHSCOPE_API_KEY" in result.output
    assert "image backend: local:storyboard (env DRAMAFORGE_BACKENDS__IMAGE)" in result.output
    assert "video backend: local:motion (dramaforge.toml)" in result.output
    assert "director backend: local:rules (default)" in result.output
