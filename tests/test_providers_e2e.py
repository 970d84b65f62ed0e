"""A whole episode through the fake DashScope and OpenAI-compatible servers.

Counts are taken on the server side: every shot's paid task is submitted exactly once, even
when the render process is killed with SIGKILL while tasks are running, and while a submit's
reply is on its way (the task exists, its id is in no journal), and then resumed.
"""

from __future__ import annotations

import io
import json
import os
import signal
import subprocess
import sys
import time
import wave
from collections.abc import Iterator
from pathlib import Path

import pytest

from dramaforge.config import Backends, ProviderOverrides, Settings
from dramaforge.graph.verbs import render_episode
from dramaforge.media.probe import probe
from dramaforge.script import load_script
from tests.fakes.dashscope_server import FakeDashScope, Fault
from tests.fakes.openai_server import FakeOpenAI, image_urls, json_reply
from tests.helpers import FIXTURES, provider_settings, settings_for

pytestmark = pytest.mark.slow

OPENAI_KEY = "sk-openai-e2e-secret-0042"
SCRIPT = FIXTURES / "short.zh.txt"


@pytest.fixture
def dashscope() -> Iterator[FakeDashScope]:
    with FakeDashScope(api_key="sk-dashscope-e2e-secret-0042") as fake:
        yield fake


def _settings(ds: FakeDashScope, oa: FakeOpenAI, video: str = "wan2.2-i2v-flash") -> Settings:
    base = settings_for()
    fast = {"timeout": 10.0, "poll_interval": 0.01, "poll_timeout": 30.0, "max_retries": 3}
    return base.model_copy(
        update={
            "backends": Backends(
                director="openai:deepseek-chat",
                image="dashscope:qwen-image",
                video=f"dashscope:{video}",
                speech="dashscope:qwen-tts",
            ),
            "dashscope": provider_settings(ds, **fast),
            "openai": provider_settings(oa, api_key=OPENAI_KEY, **fast),
            "prices": {
                "dashscope:qwen-image": 0.25,
                f"dashscope:{video}": 0.1,
                "dashscope:qwen-tts": 0.2,
            },
        }
    )


@pytest.mark.parametrize("video", ["wan2.2-i2v-flash", "wan2.5-i2v-preview"])
def test_episode_through_real_protocols_pays_each_shot_once(
    dashscope: FakeDashScope, tmp_path: Path, video: str
) -> None:
    openai = FakeOpenAI().start()
    try:
        manifest = render_episode(SCRIPT, tmp_path, _settings(dashscope, openai, video))
    finally:
        openai.stop()
    shots = len(manifest.plan.shots)
    spoken = len(load_script(SCRIPT).spoken_lines())
    assert manifest.plan.director == "openai:deepseek-chat"
    assert len(openai.requests) == len(load_script(SCRIPT).scenes)  # one request per scene
    assert dashscope.submits["qwen-image"] == shots
    assert dashscope.submits[video] == shots
    assert sum(dashscope.tts_calls.values()) == spoken
    assert manifest.backends["video"] == f"dashscope:{video}"
    assert manifest.total_cost > 0.25 * shots
    # Wan 2.5 clips are made in sync with each shot's voice track; Wan 2.2 never gets one.
    clips = [t for t in dashscope.tasks.values() if t.model == video]
    if video.startswith("wan2.5"):
        # ... where someone in frame speaks: not the establishing shots, never narration.
        talking = {sh.id for sh in manifest.plan.shots if any(map(sh.on_screen, sh.lines))}
        sent = sorted(_seconds(t.audio) for t in clips if t.audio is not None)
        tracks = sorted(
            max(3.0, probe(Path(r.take.voice.path)).duration)
            for r in manifest.shots
            if r.shot_id in talking
        )
        assert talking and sent == pytest.approx(tracks, abs=0.01)
        assert len(dashscope.uploads.files) == len(sent)  # the voice tracks, uploaded once each
    else:
        assert all(t.audio is None for t in clips) and not dashscope.uploads.files

    # Keys appear nowhere on disk: checkpoints, manifest, cache metadata, storyboard.
    for path in tmp_path.rglob("*"):
        if path.is_file() and path.suffix in (".db", ".json", ".html", ".srt", ".db-wal"):
            data = path.read_bytes()
            assert dashscope.api_key.encode() not in data, path
            assert OPENAI_KEY.encode() not in data, path


def _seconds(wav_bytes: bytes) -> float:
    with wave.open(io.BytesIO(wav_bytes)) as wav:
        return wav.getnframes() / wav.getframerate()


def test_deepseek_director_and_qwen_vl_critic_on_two_endpoints(tmp_path: Path) -> None:
    """``[openai]`` for the director, ``[critic_openai]`` for the critic: two servers."""
    verdict = {"score": 0.9, "character_match": True, "style_match": True, "artifacts": [],
               "issues": [], "revised_prompt": None}  # fmt: skip
    director, critic = FakeOpenAI().start(), FakeOpenAI(json_reply(verdict)).start()
    critic_key = "sk-critic-e2e-secret-0077"
    try:
        base = settings_for()
        settings = base.model_copy(
            update={
                "backends": base.backends.model_copy(
                    update={"director": "openai:deepseek-chat", "critic": "openai:qwen-vl-max"}
                ),
                "openai": provider_settings(director, api_key=OPENAI_KEY),
                "critic_openai": ProviderOverrides(api_key=critic_key, base_url=critic.base_url),
            }
        )
        manifest = render_episode(SCRIPT, tmp_path, settings)
    finally:
        director.stop()
        critic.stop()
    assert manifest.backends["critic"] == "openai:qwen-vl-max"
    assert len(director.requests) == len(load_script(SCRIPT).scenes)
    assert {r["model"] for r in director.requests} == {"deepseek-chat"}
    assert len(critic.requests) == len(manifest.plan.shots)  # one keyframe review per shot
    assert {r["model"] for r in critic.requests} == {"qwen-vl-max"}
    assert all(image_urls(r) for r in critic.requests)
    assert not any(image_urls(r) for r in director.requests)
    for path in tmp_path.rglob("*"):
        if path.is_file() and path.suffix in (".db", ".json", ".html", ".db-wal"):
            assert critic_key.encode() not in path.read_bytes(), path


def test_sigkill_while_tasks_run_then_resume_submits_nothing_twice(
    dashscope: FakeDashScope, tmp_path: Path
) -> None:
    dashscope.running_polls = 10_000  # every task stays RUNNING until released
    # The second keyframe submit is accepted and its reply held: the kill lands in the window
    # between DashScope creating the task and the id reaching the journal.
    dashscope.fault("submit", Fault("slow", delay=0), Fault("hold"))
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
        time.sleep(0.02)
    assert dashscope.submits["qwen-image"] >= 2, first.communicate(timeout=5)[0]
    first.send_signal(signal.SIGKILL)
    first.wait()
    dashscope.release()
    submitted_before = dashscope.submits["qwen-image"]
    unjournaled = [p for p in tmp_path.rglob("*.task.json") if '"task_id":null' in p.read_text()]
    assert unjournaled, "the kill should leave an intent whose task id was never recorded"

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
