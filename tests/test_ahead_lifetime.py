"""The work made ahead belongs to its render: a render that fails, is interrupted or returns
has stopped its background work first, so no file of the episode changes afterwards and no
temp file is left behind.

The score made ahead is slowed (each sound takes a while) and the provider holds the first
clip's submit until that work has begun, so the render ends while the work ahead is in hand.
"""

from __future__ import annotations

import threading
import time
from pathlib import Path
from typing import Any

import pytest

from dramaforge.config import Backends, DashScopeSettings, Settings
from dramaforge.graph.context import build_context
from dramaforge.graph.prefetch import Stopped, Voiced, score_ahead
from dramaforge.graph.verbs import render_episode
from dramaforge.media.journal import TaskJournal
from dramaforge.schema import Asset
from dramaforge.tools.protocols import Generated, SoundBackend, SoundRequest
from tests.fakes.dashscope_server import FakeDashScope, Fault
from tests.helpers import FIXTURES, provider_settings, settings_for

SCRIPT = FIXTURES / "short.zh.txt"
VIDEO = "wan2.2-i2v-flash"
AHEAD = ("score-ahead", "cut-ahead")
PAUSE = 1.0
"""Seconds each sound of the slowed score takes before it is made."""


class SlowSound:
    """The configured local sound backend, each sound made after ``PAUSE``; the first one
    says that the score made ahead has begun."""

    def __init__(self, inner: SoundBackend, began: threading.Event) -> None:
        self.inner = inner
        self.name = inner.name  # local: the work ahead pays nothing, so it is started
        self.began = began

    def generate(
        self, request: SoundRequest, dest: Path, journal: TaskJournal | None = None
    ) -> Generated:
        self.began.set()
        time.sleep(PAUSE)
        return self.inner.generate(request, dest, journal)


class HeldClips(FakeDashScope):
    """The fake provider, answering a clip's submit only once the score made ahead has begun
    (every voice is in by then), with ``refusal`` if one is given."""

    def __init__(self, began: threading.Event, refusal: Fault | None) -> None:
        super().__init__()
        self.began = began
        self.refusal = refusal

    def next_fault(self, endpoint: str, body: dict[str, Any] | None = None) -> Fault | None:
        if endpoint == "submit" and body is not None and body.get("model") == VIDEO:
            self.began.wait(60)
            if self.refusal is not None:
                return self.refusal
        return super().next_fault(endpoint, body)


def _settings(fake: FakeDashScope) -> Settings:
    fast = {"timeout": 10.0, "poll_interval": 0.02, "poll_timeout": 60.0, "max_retries": 1}
    return settings_for(max_takes=1).model_copy(
        update={
            "backends": Backends(image="dashscope:qwen-image", video=f"dashscope:{VIDEO}"),
            "dashscope": provider_settings(fake, DashScopeSettings, **fast),
        }
    )


def _files(root: Path) -> dict[Path, tuple[int, int]]:
    return {p: (p.stat().st_mtime_ns, p.stat().st_size) for p in root.rglob("*") if p.is_file()}


def _render_ending_early(tmp_path: Path, refusal: Fault | None, stop_on_event: bool) -> None:
    """Render until the refusal fails it (or a Ctrl-C once the work ahead has begun); then
    check that nothing made ahead runs, changes a file or leaves a temp file."""
    began = threading.Event()

    def ctrl_c(event: dict[str, Any]) -> None:
        if stop_on_event and began.is_set():
            raise KeyboardInterrupt

    with HeldClips(began, refusal) as fake:
        settings = _settings(fake)
        out = tmp_path / "out"
        root = settings.state_root(out)
        context = build_context(settings, root)
        context.sound = SlowSound(context.sound, began)
        with pytest.raises((Exception, KeyboardInterrupt)):
            render_episode(SCRIPT, out, settings, context=context, on_event=ctrl_c)
        assert began.is_set(), "the score made ahead should have begun before the render ended"
        running = [t.name for t in threading.enumerate() if t.name in AHEAD and t.is_alive()]
        assert not running, running
        after = _files(tmp_path)
        time.sleep(2 * PAUSE)  # longer than a sound of the slowed score takes
        assert _files(tmp_path) == after
    assert not [p for p in after if p.name.endswith(".tmp")]
    assert not [p for p in tmp_path.rglob(".audio-*")]  # the sound's work folders went too


@pytest.mark.slow
def test_a_refused_submit_stops_the_work_ahead_before_the_render_fails(tmp_path: Path) -> None:
    refused = Fault("status", status=400, code="InvalidParameter", message="refused")
    _render_ending_early(tmp_path, refused, stop_on_event=False)


@pytest.mark.slow
def test_ctrl_c_stops_the_work_ahead_before_the_render_is_interrupted(tmp_path: Path) -> None:
    _render_ending_early(tmp_path, None, stop_on_event=True)


def test_closing_stops_the_score_ahead_at_its_next_safe_point() -> None:
    voiced = Voiced()
    steps: list[int] = []
    in_hand = threading.Event()
    go_on = threading.Event()

    def make(lengths: dict[str, float]) -> None:
        for step in range(3):
            voiced.safe_point("ep")
            steps.append(step)
            in_hand.set()
            go_on.wait(5)

    voiced.open("ep", ["s1"])
    score_ahead(voiced, "ep", {"s1": "f1"}, {}, make)
    voice = Asset(path="s1.wav", stage="voice", key="s1", backend="x")
    voiced.add("ep", "s1", "f1", 2.0, [], voice)
    assert in_hand.wait(5)
    threading.Timer(0.2, go_on.set).start()  # the step in hand ends after close was called
    voiced.close("ep")  # returns once the worker has stopped
    assert steps == [0]  # the step in hand finished; none began after the close
    assert not [t for t in threading.enumerate() if t.name == "score-ahead"]
    with pytest.raises(Stopped):
        voiced.safe_point("ep")
