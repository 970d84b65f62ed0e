"""Paid slots stay full: a render against a fake DashScope whose tasks take L seconds.

Asserted on the fake's own task records (submit and end times), not on wall-clock totals, so
a loaded machine slows the render without making the checks fail: each model's k-th submit
must come soon after the moment a slot was free and a shot was ready for it. "Soon" grows
with how late this process's threads wake while it runs (``Lateness``, measured alongside).
"""

from __future__ import annotations

import math
import statistics
import threading
import time
from pathlib import Path
from typing import Any

import pytest

from bench.measure import dialogue_script
from bench.orchestration import IMAGE, VIDEO, SlowDashScope
from dramaforge.config import Backends, Settings
from dramaforge.graph.verbs import render_episode
from dramaforge.tools.dashscope import pace
from dramaforge.tools.dashscope.pace import Pacer
from dramaforge.tools.protocols import ImageRequest
from dramaforge.tools.registry import registry
from tests.fakes.dashscope_tasks import Task
from tests.helpers import provider_settings

SLOTS, LATENCY = 2, 1.5
SLACK = 0.75
"""Seconds a free image slot may wait for its next submit: the poll's answer, a thread
waking, a journaled submit, on a loaded machine. A scheduler that starts a keyframe only
after another shot's local work loses about a task's length."""
CHAIN = 1.2
"""The same for a clip, which also waits for its keyframe's download, check and fit."""
WAKES = 4
"""Thread wake-ups between a slot freeing and the next submit reaching the fake (the poll's
answer, the slot's waiter, the journal's write, the request's arrival): on a loaded machine
each can wait that long for the CPU, so the slacks grow by this many measured delays."""


class Lateness:
    """How late a thread of this process wakes while the render runs (the render, the fake
    and this thread share the process and the machine): the delay every hand-over between
    the render's threads pays, measured instead of assumed."""

    def __init__(self, tick: float = 0.01) -> None:
        self.tick = tick
        self.late: list[float] = []
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="lateness", daemon=True)

    def _run(self) -> None:
        while not self._stop.is_set():
            before = time.monotonic()
            time.sleep(self.tick)
            self.late.append(time.monotonic() - before - self.tick)

    def __enter__(self) -> Lateness:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join()

    def high(self) -> float:
        """The 95th percentile of the delays seen (0 before any)."""
        ordered = sorted(self.late)
        return ordered[int(0.95 * (len(ordered) - 1))] if ordered else 0.0


def dashscope_settings(fake: SlowDashScope, **extra: object) -> Settings:
    base = Settings()
    return base.model_copy(
        update={
            "backends": Backends(image=f"dashscope:{IMAGE}", video=f"dashscope:{VIDEO}"),
            "dashscope": provider_settings(
                fake,
                default_concurrency=SLOTS,
                timeout=30.0,
                poll_interval=0.05,
                **extra,  # type: ignore[arg-type]
            ),
            "render": base.render.model_copy(update={"resolution": "360p", "max_takes": 1}),
        }
    )


def late_submits(
    submits: list[float], free: list[float], slack: float, skip: int = 0
) -> list[tuple[int, float]]:
    """The submits that came more than ``slack`` after ``free[k]``, the moment a slot and a
    shot were both ready for the k-th; the first ``skip`` are not judged."""
    late = [
        (k, round(s - f, 3)) for k, (s, f) in enumerate(zip(sorted(submits), free, strict=True))
    ]
    return [(k, d) for k, d in late[skip:] if d > slack]


@pytest.mark.slow
def test_paid_slots_stay_full_while_shots_do_local_work(tmp_path: Path) -> None:
    script = dialogue_script(7, "编排", tmp_path / "o.zh.txt", scenes=2)
    ready: dict[str, float] = {}  # when each shot began its clip (its keyframe in and checked)

    def note(event: dict[str, Any]) -> None:
        if (event.get("stage"), event.get("status")) == ("motion", "start"):
            ready.setdefault(str(event["shot"]), time.time())

    with SlowDashScope(LATENCY) as fake, Lateness() as lateness:
        manifest = render_episode(script, tmp_path / "out", dashscope_settings(fake), on_event=note)
        tasks = list(fake.tasks.values())
    slack, chain = SLACK + WAKES * lateness.high(), CHAIN + WAKES * lateness.high()
    shots = len(manifest.shots)
    images = [t for t in tasks if t.model == IMAGE]
    clips = [t for t in tasks if t.model == VIDEO]
    assert len(images) == len(clips) == shots >= 3 * SLOTS  # each paid once
    assert dict(fake.max_in_flight) == {IMAGE: SLOTS, VIDEO: SLOTS}

    def ends(of: list[Task]) -> list[float]:
        return sorted(t.ended or math.inf for t in of)

    # Every keyframe is wanted from the start: the k-th waits only for a free image slot.
    first = min(t.created for t in images)
    image_free = [first] * SLOTS + ends(images)[: shots - SLOTS]
    assert late_submits([t.created for t in images], image_free, slack) == [], slack
    # The k-th clip waits for the k-th shot ready for it (its own keyframe in and checked:
    # CPU work that takes longer on a loaded machine) and a free video slot, nothing else;
    # the first round is not judged (every shot's voice and the first media are made
    # meanwhile).
    assert len(ready) == shots
    video_free = [
        max(key, at, ends(clips)[k - SLOTS] if k >= SLOTS else 0.0)
        for k, (key, at) in enumerate(zip(ends(images), sorted(ready.values()), strict=True))
    ]
    assert late_submits([t.created for t in clips], video_free, chain, skip=SLOTS) == [], chain
    # The score was made while clips were still with the provider, not after the last one.
    (bed,) = (tmp_path / "out" / ".dramaforge" / "assets" / "bed").rglob("*.wav")
    assert bed.stat().st_mtime < max(ends(clips))
    # Paid work as a whole: the keyframe rounds, one clip after the last, little lost between.
    span = max(ends(clips)) - first
    floor = (math.ceil(shots / SLOTS) + 1) * LATENCY
    assert span < floor + chain * (shots // SLOTS + 1), (span, floor, chain)


def test_polls_learn_a_models_run_time_and_stop_oversleeping_its_end(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(pace, "_SEEN", {})  # a fake's port may be an earlier test's
    # Backing off alone (x1.5 from 0.1 s) polls a 1.5 s task at 1.31 s and next at 2.07 s.
    with SlowDashScope(LATENCY) as fake:
        settings = dashscope_settings(fake).model_copy(
            update={"dashscope": dashscope_settings(fake).dashscope.model_copy(
                update={"poll_interval": 0.1}
            )}
        )  # fmt: skip
        image = registry().create("image", f"dashscope:{IMAGE}", settings)
        for n in range(4):
            request = ImageRequest(
                prompt=f"一条街 {n}", width=640, height=360, seed=n, framing="wide",
                scene_heading="街",
            )  # fmt: skip
            image.generate(request, tmp_path / f"{n}.png")
        tasks = sorted(fake.tasks.values(), key=lambda t: t.created)
    late = [(t.ended or math.inf) - t.created - LATENCY for t in tasks]
    assert late[0] > 0.3  # the first task: nothing learned yet
    assert statistics.median(late[1:]) < 0.2, late  # then within about one base interval


def test_a_pacer_never_sleeps_past_the_expected_end_then_backs_off_again() -> None:
    pacer = Pacer(0.1, due=1.0)
    elapsed = 0.0
    while elapsed < 1.0 - 1e-9:
        elapsed += pacer.next(elapsed)
    assert elapsed == pytest.approx(1.0)  # the last sleep ends at the expected end
    assert [pacer.next(1.0 + 0.1 * n) for n in range(3)] == pytest.approx([0.05, 0.075, 0.1125])
    unknown = Pacer(0.1, due=None)
    assert [unknown.next(0.0) for _ in range(7)][-2:] == pytest.approx([0.759375, 0.8])


def test_shot_workers_follow_the_paid_models_slots() -> None:
    base = Settings()
    assert base.shot_workers() == 2  # offline: bound by the CPU
    paid = base.model_copy(
        update={"backends": Backends(image="dashscope:qwen-image", video="dashscope:wan2.2-i2v")}
    )
    assert paid.shot_workers() == 8  # 2 + 2 slots, four shots a slot (up to 2x8 at once)
    wide = paid.model_copy(
        update={"dashscope": paid.dashscope.model_copy(update={"concurrency": {"qwen-image": 20}})}
    )
    assert wide.shot_workers() == 32
    voices = base.model_copy(update={"backends": Backends(speech="dashscope:qwen-tts")})
    assert voices.shot_workers() == 2  # local keyframes and clips set the pace
    chosen = paid.model_copy(update={"render": paid.render.model_copy(update={"concurrency": 3})})
    assert chosen.shot_workers() == 3
