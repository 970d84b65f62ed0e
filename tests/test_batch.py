"""Batch: a series of episodes, one broken, rendered unattended and resumable."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest
from typer.testing import CliRunner

from dramaforge.cli.app import app
from dramaforge.graph.batch import run_batch
from dramaforge.schema import Manifest
from tests.helpers import FIXTURES, counting_context, settings_for

pytestmark = pytest.mark.slow

EPISODE_2 = """# 小测试 第2集
【场景1】走廊 - 白天 - 内
【画面】小雪抱着书走过来。
小雪：昨天的作业你写完了吗？
老师：上课了，快进教室。
阿明：写完了。
"""


def _series(tmp_path: Path) -> Path:
    folder = tmp_path / "scripts"
    folder.mkdir()
    shutil.copy(FIXTURES / "short.zh.txt", folder / "ep01.txt")
    (folder / "ep02.txt").write_text(EPISODE_2, encoding="utf-8")
    (folder / "ep03.txt").write_bytes(b"\x00\x01\x02 not a script")
    return folder


def test_batch_isolates_failures_shares_the_bible_and_reruns_nothing(tmp_path: Path) -> None:
    folder = _series(tmp_path)
    out = tmp_path / "out"
    settings = settings_for()
    ctx, calls = counting_context(settings, out)
    report = run_batch([folder], out, settings, jobs=2, context=ctx)

    status = {Path(e.script).name: e for e in report.episodes}
    assert status["ep01.txt"].status == status["ep02.txt"].status == "done", [
        e.error for e in report.episodes
    ]
    assert status["ep03.txt"].status == "failed"
    assert "ep03.txt" in (status["ep03.txt"].error or "")
    assert "binary" in (status["ep03.txt"].error or "")
    on_disk = json.loads((out / "report.json").read_text(encoding="utf-8"))
    assert [e["status"] for e in on_disk["episodes"]] == ["done", "done", "failed"]

    m1, m2 = (
        Manifest.model_validate_json((out / ep / "manifest.json").read_text(encoding="utf-8"))
        for ep in ("ep01", "ep02")
    )
    for name in ("阿明", "小雪"):  # same look, seed and voice in both episodes
        assert m1.bible.characters[name] == m2.bible.characters[name]
    cast = {**m1.bible.characters, **m2.bible.characters}
    # Episodes ran in parallel, so who came first varies; no two characters ever share.
    assert sorted(c.slot for c in cast.values()) == [0, 1, 2]
    assert len({c.voice.model_dump_json() for c in cast.values()}) == 3

    stamps = {ep: (out / ep / "episode.mp4").stat().st_mtime_ns for ep in ("ep01", "ep02")}
    calls.clear()
    again = run_batch([folder], out, settings, jobs=2, context=ctx)
    assert sum(calls.values()) == 0
    assert {ep: (out / ep / "episode.mp4").stat().st_mtime_ns for ep in stamps} == stamps
    assert [e.status for e in again.episodes] == ["done", "done", "failed"]


def test_batch_cli_exit_code_and_table(tmp_path: Path) -> None:
    folder = tmp_path / "scripts"
    folder.mkdir()
    (folder / "bad.txt").write_text("", encoding="utf-8")
    result = CliRunner().invoke(app, ["batch", str(folder), "--out", str(tmp_path / "o")])
    assert result.exit_code == 1
    assert "failed" in result.output and "Traceback" not in result.output
