"""Whole renders against the fake DashScope: two processes rendering one script into one
output folder at once pay for each asset once; a known key appears in no file written, no
checkpoint byte, no output and no exception, even when DashScope's error bodies echo it."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from dramaforge.config import Backends, DashScopeSettings, Settings
from dramaforge.graph.verbs import render_episode
from dramaforge.script import load_script
from tests.fakes.dashscope_server import FakeDashScope, Fault
from tests.helpers import FIXTURES, provider_settings, settings_for

pytestmark = pytest.mark.slow

SCRIPT = FIXTURES / "short.zh.txt"
KEY = "dsk-known-render-key-4711"  # not sk-shaped: only the key's own redaction hides it
PASSWORD = "hunter2-proxy-pass"


@pytest.fixture
def dashscope() -> Iterator[FakeDashScope]:
    with FakeDashScope(api_key=KEY) as fake:
        yield fake


def cli_env(fake: FakeDashScope) -> dict[str, str]:
    return {
        **os.environ,
        "DASHSCOPE_API_KEY": fake.api_key,
        "DASHSCOPE_HTTP_BASE_URL": fake.url,
        "DRAMAFORGE_DASHSCOPE__POLL_INTERVAL": "0.02",
        "DRAMAFORGE_DASHSCOPE__TIMEOUT": "10",
        "DRAMAFORGE_DASHSCOPE__LIST_LAG": "1",
        "DRAMAFORGE_BACKENDS__IMAGE": "dashscope:qwen-image",
        "DRAMAFORGE_BACKENDS__VIDEO": "dashscope:wan2.2-i2v-flash",
        "DRAMAFORGE_BACKENDS__SPEECH": "dashscope:qwen-tts",
    }


def test_two_processes_rendering_one_script_into_one_folder_pay_once(
    dashscope: FakeDashScope, tmp_path: Path
) -> None:
    dashscope.running_polls = 3  # tasks take a few polls, so the two renders overlap
    cmd = [
        sys.executable, "-m", "dramaforge", "render", str(SCRIPT), "--out", str(tmp_path),
        "--resolution", "360p", "--json",
    ]  # fmt: skip
    runs = [
        subprocess.Popen(
            cmd, env=cli_env(dashscope), stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True
        )
        for _ in range(2)
    ]
    outs = [run.communicate(timeout=400) for run in runs]
    done = [
        json.loads(out) for (out, _), run in zip(outs, runs, strict=True) if run.returncode == 0
    ]
    assert done, outs  # at least one finished; a second may have been refused while it ran
    shots = done[0]["shots"]
    assert dashscope.submits["qwen-image"] == shots
    assert dashscope.submits["wan2.2-i2v-flash"] == shots
    spoken = len(load_script(SCRIPT).spoken_lines())
    assert sum(dashscope.tts_calls.values()) == spoken
    for (out, err), run in zip(outs, runs, strict=True):
        assert KEY not in out + err
        if run.returncode != 0:  # only a clear one-line refusal, never a traceback
            assert "Traceback" not in err, err


def test_a_known_key_is_in_no_file_no_checkpoint_and_no_exception(
    dashscope: FakeDashScope, tmp_path: Path
) -> None:
    """DashScope's error bodies echo the key and a proxy URL with credentials: a retried poll,
    a throttled submit, and a refused submit that fails the render."""
    echo = f"key {KEY} rejected via https://user:{PASSWORD}@proxy.example/x"
    dashscope.fault("poll", Fault("status", status=500, message=echo))
    dashscope.fault("submit", Fault("status", status=429, code="Throttling", message=echo))
    base = settings_for()
    fast = {"timeout": 10.0, "poll_interval": 0.01, "poll_timeout": 30.0, "max_retries": 3}
    settings = base.model_copy(
        update={
            "backends": Backends(
                image="dashscope:qwen-image",
                video="dashscope:wan2.2-i2v-flash",
                speech="dashscope:qwen-tts",
            ),
            "dashscope": provider_settings(dashscope, DashScopeSettings, **fast),
        }
    )
    render_episode(SCRIPT, tmp_path / "ok", settings)
    assert dashscope.submits["qwen-image"] > 0

    refused = Fault("status", status=400, code="InvalidParameter", message=echo)
    dashscope.fault("submit", refused)
    errors: list[str] = []
    try:
        render_episode(SCRIPT, tmp_path / "refused", Settings.model_validate(settings))
    except Exception as err:  # the refusal surfaces as the render's error
        errors.append(f"{err!s} {err!r}")
    assert errors, "the refused submit should fail the render"
    for text in errors:
        assert KEY not in text and PASSWORD not in text, text
    written = [p for p in tmp_path.rglob("*") if p.is_file()]
    assert any(p.name == "state.db" for p in written)
    for path in written:
        data = path.read_bytes()
        assert KEY.encode() not in data, path
        assert PASSWORD.encode() not in data, path
