"""The benchmark helpers (the benchmarks themselves run with ``python bench/run.py``)."""

from __future__ import annotations

from pathlib import Path

from bench.measure import dialogue_script, machine
from bench.orchestration import SlowDashScope, busy_fraction
from dramaforge.script import load_script
from tests.fakes.dashscope_tasks import Task


def _task(created: float, ended: float) -> Task:
    return Task(
        task_id=str(created), model="m", kind="image", body={}, created=created, polls_left=0,
        ended=ended,
    )  # fmt: skip


def test_busy_fraction_counts_slot_time() -> None:
    # Two slots, four 1 s tasks back to back in pairs: fully busy for 2 s.
    tasks = [_task(0, 1), _task(0, 1), _task(1, 2), _task(1, 2)]
    assert busy_fraction(tasks, 2) == 1.0
    # One slot idle half the time.
    assert busy_fraction([_task(0, 1), _task(1, 2)], 2) == 0.5
    assert busy_fraction([], 2) == 0.0


def test_generated_scripts_have_the_lines_asked_for(tmp_path: Path) -> None:
    script = load_script(dialogue_script(9, "测试", tmp_path / "s.zh.txt", scenes=3))
    lines = script.spoken_lines()
    assert len(lines) == 9 and len(script.scenes) == 3
    assert len({ln.text for ln in lines}) == 9  # no two lines alike


def test_slow_fake_keeps_a_task_running_for_its_latency() -> None:
    with SlowDashScope(latency=30.0) as fake:
        task = fake.create_task("image", {"model": "qwen-image"}, None)
        fake.advance(task)
        assert task.status == "RUNNING" and task.ended is None
        fake.latency = 0.0
        fake.advance(task)
        assert task.status == "SUCCEEDED" and task.ended is not None
    assert machine()["cores"]
