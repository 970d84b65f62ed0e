"""A whole episode through the fake DashScope and OpenAI-compatible servers.

Counts are taken on the server side: every shot's paid task is submitted exactly once, even
when the render process is killed with SIGKILL while tasks are running and then resumed.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from dramaforge.config import Backends, ProviderSettings, Settings
from dramaforge.graph.run import render_episode
from dramaforge.script import load_script
from tests.conftest import FIXTURES, settings_for
from tests.fakes.dashscope_server import FakeDashScope
from tests.fakes.openai_server import FakeOpenAI

pytestmark = pytest.mark.slow

OPENAI_KEY = "sk-openai-e2e-secret-0042"
SCRIPT = FIXTURES / "short.zh.txt"


@pytest.fixture
def dashscope() -> Iterator[FakeDashScope]:
    with FakeDashScope(api_key="sk-dashscope-e2e-secret-0042") as fake:
        yield fake


def _settings(ds: FakeDashScope, oa: FakeOpenAI) -> Settings:
    base = settings_for()
    fast = {"timeout": 10.0, "poll_interval": 0.01, "poll_timeout": 30.0, "max_retries": 3}
    return base.model_copy(
        update={
            "backends": Backends(
                director="openai:deepseek-chat",
                image="dashscope:qwen-image",
                video="dashscope:wan2.2-i2v-flash",
                speech="dashscope:qwen-tts",
            ),
            "dashscope": ProviderSettings(api_key=ds.api_key, base_url=ds.url, **fast),
            "openai": ProviderSettings(api_key=OPENAI_KEY, base_url=oa.base_url, **fast),
            "prices": {
                "dashscope:qwen-image": 0.25,
                "dashscope:wan2.2-i2v-flash": 0.1,
                "dashscope:qwen-tts": 0.2,
            },
        }
    )


def test_episode_through_real_protocols_pays_each_shot_once(
    dashscope: FakeDashScope, tmp_path: Path
) -> None:
    openai = FakeOpenAI().start()
    try:
        manifest = render_episode(SCRIPT, tmp_path, _settings(dashscope, openai))
    finally:
        openai.stop()
    shots = len(manifest.plan.shots)
    spoken = len(load_script(SCRIPT).spoken_lines())
    assert manifest.plan.director == "openai:deepseek-chat"
    assert len(openai.requests) == len(load_script(SCRIPT).scenes)  # one request per scene
    assert dashscope.submits["qwen-image"] == shots
    assert dashscope.submits["wan2.2-i2v-flash"] == shots
    assert sum(dashscope.tts_calls.values()) == spoken
    assert manifest.backends["video"] == "dashscope:wan2.2-i2v-flash"
    assert manifest.total_cost > 0.25 * shots

    # Keys appear nowhere on disk: checkpoints, manifest, cache metadata, storyboard.
    for path in tmp_path.rglob("*"):
        if path.is_file() and path.suffix in (".db", ".json", ".html", ".srt", ".db-wal"):
            data = path.read_bytes()
            assert dashscope.api_key.encode() not in data, path
            assert OPENAI_KEY.encode() not in data, path


def test_sigkill_while_tasks_run_then_resume_submits_nothing_twice(
    dashscope: FakeDashScope, tmp_path: Path
) -> None:
    dashscope.running_polls = 10_000  # every task stays RUNNING until released
    env = {
        **os.environ,
        "DASHSCOPE_API_KEY": dashscope.api_key,
        "DASHSCOPE_HTTP_BASE_URL": dashscope.url,
        "DRAMAFORGE_DASHSCOPE__POLL_INTERVAL": "0.02",
        "DRAMAFORGE_BACKENDS__IMAGE": "dashscope:qwen-image",
        "DRAMAFORGE_BACKENDS__VIDEO": "dashscope:wan2.2-i2v-flash",
    }
    cmd = [
        sys.executable,
        "-m",
        "dramaforge",
        "render",
        str(SCRIPT),
        "--out",
        str(tmp_path),
        "--resolution",
        "360p",
        "--json",
    ]
    first = subprocess.Popen(cmd, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
    deadline = time.monotonic() + 60
    while dashscope.submits["qwen-image"] < 2 and time.monotonic() < deadline:
        time.sleep(0.05)
    assert dashscope.submits["qwen-image"] >= 2, first.communicate(timeout=5)[0]
    # Kill once every accepted task's id is journaled (tasks still RUNNING). A kill between the
    # submit's reply and the journal write is a known gap: see the issue 4 note.
    while time.monotonic() < deadline:
        journaled = len(list(tmp_path.rglob("*.task.json")))
        if journaled >= dashscope.submits["qwen-image"]:
            break
        time.sleep(0.02)
    first.send_signal(signal.SIGKILL)
    first.wait()
    submitted_before = dashscope.submits["qwen-image"]

    dashscope.running_polls = 0
    for task in dashscope.tasks.values():
        task.polls_left = 0
    second = subprocess.run(
        [*cmd, "--resume"], env=env, capture_output=True, text=True, timeout=240
    )
    assert second.returncode == 0, second.stdout + second.stderr
    shots = json.loads(second.stdout)["shots"]
    assert dashscope.submits["qwen-image"] == shots  # the killed run's tasks were polled
    assert dashscope.submits["wan2.2-i2v-flash"] == shots
    assert submitted_before <= shots
    assert dashscope.api_key not in second.stdout + second.stderr
