"""Faults at scale: a three-episode batch against a fake DashScope having a bad day.

20% of submits throttled (429), 10% answered 5xx, 5% accepted with the reply lost, some tasks
failing, result URLs expiring and downloads cut short, and a task list that shows new tasks a
second late. The batch is run again, as a user
would, until every episode is done: each failure on the way is a clear one-line report, no
request is ever paid for twice unless its earlier task failed, and every episode is a valid
MP4.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from dramaforge.config import Backends, DashScopeSettings, Settings
from dramaforge.graph.batch import run_batch
from dramaforge.media.probe import probe
from dramaforge.tools.dashscope import reconcile
from tests.fakes.dashscope_server import Chaos, FakeDashScope, Fault
from tests.helpers import FIXTURES, provider_settings, settings_for

pytestmark = pytest.mark.slow

ROUNDS = 8


def scripts(folder: Path) -> list[Path]:
    """Three episodes: the fixture with each one's own lines, so their prompts differ."""
    text = (FIXTURES / "short.zh.txt").read_text(encoding="utf-8")
    made = []
    for n, (greeting, place) in enumerate([("早上好", "教室"), ("你好", "图书馆"), ("嗨", "食堂")]):
        path = folder / f"ep{n + 1:02d}.txt"
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text.replace("早上好", greeting).replace("教室", place), encoding="utf-8")
        made.append(path)
    return made


def test_three_episode_batch_under_faults_pays_once_and_delivers(
    dashscope_server: FakeDashScope, tmp_path: Path
) -> None:
    dashscope_server.chaos = Chaos(
        seed=15,
        submit={"429": 0.20, "5xx": 0.10, "drop": 0.05, "fail": 0.05},
        tts={"429": 0.20, "5xx": 0.10},
        poll={"5xx": 0.05},
        download={"expired": 0.08, "truncated": 0.08},
    )
    # Every kind of fault happens at least once whatever order the threads draw in: queued
    # first (random draws only start once a queue is empty), then chaos at the odds above.
    dashscope_server.fault(
        "submit",
        Fault("status", status=429, code="Throttling.RateQuota", retry_after=0.01),
        Fault("status", status=503, code="ServiceUnavailable"),
        Fault("fail", code="InternalError.Algo", message="the model failed"),
        Fault("drop"),
    )
    dashscope_server.fault("download", Fault("expired"), Fault("truncated"))
    dashscope_server.list_lag = 1.0  # new tasks show in the task list a second late
    settings = settings_against(dashscope_server)
    paths, out = scripts(tmp_path / "series"), tmp_path / "out"
    reports = []
    for _ in range(ROUNDS):
        report = run_batch(paths, out, settings)
        reports.append(report)
        for episode in report.episodes:
            if episode.status == "failed":
                assert episode.error and "\n" not in episode.error.strip(), episode.error
                assert "Traceback" not in episode.error
                assert "nothing was paid" not in episode.error
        if report.failed == 0:
            break
    assert reports[-1].failed == 0, [e.error for r in reports for e in r.episodes if e.error]
    assert not any(dashscope_server._faults.values())  # every queued fault was served

    # Zero duplicate paid submissions: a submit paid twice leaves a task that no asset ever
    # recorded or adopted (the first of the two). Every task that cost money (any not FAILED)
    # is in the account-wide ledger, and failed tasks were redone.
    claimed = reconcile.read_ledger(settings.dashscope.ledger)
    paid = {t.task_id for t in dashscope_server.tasks.values() if t.status != "FAILED"}
    assert paid and paid <= claimed, paid - claimed
    assert all(t.status in ("SUCCEEDED", "FAILED") for t in dashscope_server.tasks.values())
    assert len(paid) < len(dashscope_server.tasks)  # the failed tasks were redone

    # Zero corrupt outputs: every episode decodes, with picture and sound.
    for episode in reports[-1].episodes:
        assert episode.episode is not None
        info = probe(Path(episode.episode))
        assert info.has_video and info.has_audio and info.duration > 1.0


def settings_against(fake: FakeDashScope) -> Settings:
    base = settings_for()
    fast = {
        "timeout": 3.0, "list_lag": 1.5, "poll_interval": 0.01, "poll_timeout": 30.0,
        "max_retries": 4,
    }  # fmt: skip
    return base.model_copy(
        update={
            "backends": Backends(
                image="dashscope:qwen-image",
                video="dashscope:wan2.2-i2v-flash",
                speech="dashscope:qwen-tts",
            ),
            "dashscope": provider_settings(fake, DashScopeSettings, **fast),
        }
    )
