"""Orchestration: a many-shot episode against a fake DashScope whose tasks take L seconds.

Keyframes (qwen-image) and clips (wan i2v) go through the provider; each model allows C
tasks at once. With every slot kept busy, the paid work takes about ceil(shots / C) * L per
model, the two models overlapping (a shot's clip starts as soon as its keyframe is in). The
figure is the render's wall time against that ideal plus the assembly, and the share of the
time each model's C slots were busy between its first submit and its last result.

The assembly is measured on its own in the same run: the episode rendered again with
``--force`` and nothing made ahead (every shot from the store; every segment encoded, the
sound mixed and encoded, the review), from the
assemble stage's start to the review's end. In the render itself the sound and most
segments are made while shots are still with the provider, so its tail is shorter.
"""

from __future__ import annotations

import math
import threading
import time
from pathlib import Path
from typing import Any

from bench.measure import dialogue_script
from dramaforge.config import Backends, ProviderSettings, Settings
from dramaforge.graph.verbs import render_episode
from dramaforge.script import load_script
from dramaforge.tools.registry import registry
from tests.fakes.dashscope_server import FakeDashScope
from tests.fakes.dashscope_tasks import Task

IMAGE, VIDEO = "qwen-image", "wan2.2-i2v-flash"


class SlowDashScope(FakeDashScope):
    """The fake provider, but a task runs ``latency`` seconds from its submit before it ends."""

    def __init__(self, latency: float) -> None:
        super().__init__()
        self.latency = latency
        self._made: dict[tuple[str, str], bytes] = {}
        self._made_lock = threading.Lock()

    def media(self, token: str) -> bytes | None:
        """Each distinct file made once: a real provider encodes on its own machines, not ours."""
        with self._lock:
            entry = self._files.get(token)
        if entry is None:
            return None
        kind, params = entry  # the fake's files depend on these fields only
        key = (kind, repr([params.get(k) for k in ("size", "duration", "seconds", "rate")]))
        with self._made_lock:
            if key not in self._made:
                self._made[key] = self._media.make(*entry)
            return self._made[key]

    def advance(self, task: Task) -> None:
        if task.status not in ("SUCCEEDED", "FAILED") and time.time() - task.created < (
            self.latency
        ):
            with self._lock:
                self.polls[task.task_id] += 1
                task.started = task.started or time.time()
                task.status = "RUNNING"
            return
        super().advance(task)


def busy_fraction(tasks: list[Task], slots: int) -> float:
    """Share of ``slots`` x (first submit .. last end) during which a task was running."""
    done = [t for t in tasks if t.ended is not None]
    if not done:
        return 0.0
    span = max(t.ended or 0.0 for t in done) - min(t.created for t in done)
    work = sum((t.ended or 0.0) - t.created for t in done)
    return work / (slots * span) if span > 0 else 0.0


def script_of(shots: int, dest: Path) -> Path:
    """A dialogue script the default (rule) director cuts into ``shots`` shots, or the
    nearest fewer: one shot a line, and a wide one opening each scene."""
    settings = Settings()
    director = registry().create("director", settings.backends.director, settings)
    for lines in range(shots, 0, -1):
        script = dialogue_script(lines, "编排", dest, scenes=4)
        if len(director.direct(load_script(script)).shots) <= shots:
            return script
    raise ValueError(f"no dialogue script makes {shots} shots or fewer")


def run(tmp: Path, shots: int, latency: float, slots: int) -> dict[str, Any]:
    script = script_of(shots, tmp / "orchestration.zh.txt")
    with SlowDashScope(latency) as fake:
        base = Settings()
        fast = {"timeout": 30.0, "poll_interval": 0.05, "poll_timeout": 600.0}
        settings = base.model_copy(
            update={
                "backends": Backends(image=f"dashscope:{IMAGE}", video=f"dashscope:{VIDEO}"),
                "dashscope": ProviderSettings(
                    api_key=fake.api_key, base_url=fake.url, default_concurrency=slots, **fast
                ),
                "render": base.render.model_copy(update={"resolution": "360p"}),
            }
        )
        manifest, wall, stamp = _render(script, tmp / "orchestration", settings)
        tasks = list(fake.tasks.values())
        alone = settings.model_copy(
            update={"render": settings.render.model_copy(update={"ahead": False})}
        )
        _, _, again = _render(script, tmp / "orchestration", alone, force=True)
    tail = stamp.get(("review", "done"), wall) - stamp.get(("assemble", "start"), wall)
    assembly = again[("review", "done")] - again[("assemble", "start")]
    made = len(manifest.shots)
    ideal = math.ceil(made / slots) * latency
    by_model = {
        model: round(busy_fraction([t for t in tasks if t.model == model], slots), 3)
        for model in (IMAGE, VIDEO)
    }
    floor = ideal + latency + assembly
    return {
        "ratio": round(wall / (ideal + assembly), 3),
        "ratio_to_floor": round(wall / floor, 3),
        "seconds": {
            "render": round(wall, 2),
            "ideal_paid": round(ideal, 2),
            "assembly_and_review": round(assembly, 2),
            "tail": round(tail, 2),
            "floor": round(floor, 2),
            "shots_and_score": round(stamp.get(("score", "done"), wall), 2),
        },
        "shot_workers": settings.shot_workers(),
        "shots": made,
        "latency_s": latency,
        "concurrency_per_model": slots,
        "busy_fraction": by_model,
        "max_in_flight": dict(fake.max_in_flight),
        "target": "ratio <= 1.1, busy >= 0.95",
        "ratio_is": "wall seconds of the render / (ceil(shots / C) x L + the assembly and "
        "review measured alone: a --force render of the same episode, nothing made ahead)",
    }


def _render(
    script: Path, out: Path, settings: Settings, force: bool = False
) -> tuple[Any, float, dict[tuple[str, str], float]]:
    """Render; the manifest, the wall seconds, and when each episode-level event came."""
    events: list[tuple[float, dict[str, Any]]] = []
    t0 = time.perf_counter()
    manifest = render_episode(
        script,
        out,
        settings,
        force=force,
        on_event=lambda e: events.append((time.perf_counter() - t0, e)),
    )
    wall = time.perf_counter() - t0
    stamp = {(e.get("stage"), e.get("status")): t for t, e in events if "shot" not in e}
    return manifest, wall, stamp
