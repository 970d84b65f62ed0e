"""The GPU scheduler on its own, with a fake device that sleeps like a GPU.

A load takes LOAD seconds and a denoising job STEP seconds, during which the device is held
exclusively (a second job on it at once fails the test). Shot workers do CPU work (voice,
encoding) between their jobs, as the graph's do.
"""

from __future__ import annotations

import threading
import time
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import pytest

from dramaforge.errors import ProviderError
from dramaforge.tools.diffusers.models import Offload
from dramaforge.tools.diffusers.scheduler import GpuScheduler

LOAD = 0.15
STEP = 0.04
CPU = 0.03


class OutOfMemory(RuntimeError):
    pass


class SleepingGpu:
    """A Loader whose device holds ``capacity`` GB; each model needs ``need[offload]``."""

    def __init__(self, capacity: float = 100.0, need: dict[Offload, float] | None = None):
        self.capacity = capacity
        self.need = need or {"none": 10.0, "model": 6.0, "sequential": 2.0}
        self.used: dict[str, float] = {}
        self.lock = threading.Lock()
        self.busy = threading.Lock()
        self.offloads: list[tuple[str, Offload]] = []

    def first_offload(self, model: str, device: str) -> Offload:
        return "none"

    def load(self, model: str, device: str, offload: Offload) -> Any:
        time.sleep(LOAD)
        with self.lock:
            if sum(self.used.values()) + self.need[offload] > self.capacity:
                raise OutOfMemory(f"CUDA out of memory loading {model}")
            self.used[f"{device}/{model}"] = self.need[offload]
            self.offloads.append((model, offload))
        return {"model": model, "device": device, "offload": offload}

    def unload(self, pipeline: Any, device: str) -> None:
        with self.lock:
            self.used.pop(f"{device}/{pipeline['model']}", None)

    def out_of_memory(self, err: BaseException) -> bool:
        return isinstance(err, OutOfMemory)

    def denoise(self, pipeline: Any, shot: int) -> tuple[int, str]:
        assert self.busy.acquire(blocking=False), "two jobs on one device at once"
        try:
            time.sleep(STEP)
            return shot, pipeline["model"]
        finally:
            self.busy.release()


def busy_fraction(scheduler: GpuScheduler, device: str) -> float:
    """Busy time over wall time, from the end of the first load to the last job's end."""
    spans = scheduler.spans(device)
    first = spans[0].end
    last = spans[-1].end
    busy = sum(min(s.end, last) - max(s.start, first) for s in spans if s.end > first)
    return busy / (last - first)


def shots(scheduler: GpuScheduler, gpu: SleepingGpu, models: list[str], workers: int) -> list[Any]:
    """Each shot: a voice on the CPU, its clip on the GPU, then encoding on the CPU."""

    def one(i: int) -> tuple[int, str]:
        time.sleep(CPU)
        (result, seconds) = scheduler.run(models[i], lambda p: gpu.denoise(p, i))
        assert seconds >= STEP
        time.sleep(CPU)
        return result

    with ThreadPoolExecutor(workers) as pool:
        return list(pool.map(one, range(len(models))))


@pytest.mark.parametrize(("resident", "workers"), [(1, 20), (2, 4)])
def test_twenty_shots_two_models_load_twice_and_keep_the_device_busy(
    resident: int, workers: int
) -> None:
    """Alternating models, the worst order: one resident pipeline with every shot in flight,
    or two resident with four shot workers; either way two loads, the device never idle."""
    gpu = SleepingGpu()
    scheduler = GpuScheduler(["gpu0"], gpu, resident=resident)
    models = ["wan" if i % 2 else "qwen" for i in range(20)]
    try:
        done = shots(scheduler, gpu, models, workers)
    finally:
        scheduler.close()
    assert done == [(i, models[i]) for i in range(20)]
    assert len(scheduler.loads()) == 2
    assert busy_fraction(scheduler, "gpu0") >= 0.9
    assert gpu.used == {}, "close unloads every pipeline"


def test_several_devices_each_take_shots() -> None:
    gpu0, gpu1 = SleepingGpu(), SleepingGpu()

    class Two(SleepingGpu):
        def denoise(self, pipeline: Any, shot: int) -> tuple[int, str]:
            own = gpu0 if pipeline["device"] == "gpu0" else gpu1
            return own.denoise(pipeline, shot)

    loader = Two()
    scheduler = GpuScheduler(["gpu0", "gpu1"], loader, resident=1)
    try:
        started = time.monotonic()
        shots(scheduler, loader, ["wan"] * 20, 20)
        wall = time.monotonic() - started
    finally:
        scheduler.close()
    ran = {d: sum(1 for s in scheduler.spans(d) if s.what == "run") for d in ("gpu0", "gpu1")}
    assert ran["gpu0"] >= 5 and ran["gpu1"] >= 5 and sum(ran.values()) == 20
    assert wall < LOAD + 20 * STEP, "two devices finish sooner than one could"


def test_out_of_memory_steps_down_the_ladder_then_says_so() -> None:
    gpu = SleepingGpu(capacity=7.0)  # "none" (10 GB) fails, "model" (6 GB) fits
    scheduler = GpuScheduler(["gpu0"], gpu)
    try:
        (result, _) = scheduler.run("wan", lambda p: gpu.denoise(p, 1))
        assert result == (1, "wan")
        assert gpu.offloads == [("wan", "model")]

        tiny = SleepingGpu(capacity=1.0)
        failing = GpuScheduler(["gpu0"], tiny)
        with pytest.raises(ProviderError, match="even with sequential offload"):
            failing.run("wan", lambda p: tiny.denoise(p, 1))
        failing.close()
    finally:
        scheduler.close()


def test_out_of_memory_first_evicts_the_other_pipeline() -> None:
    gpu = SleepingGpu(capacity=15.0)  # one model at "none" fits, two do not
    scheduler = GpuScheduler(["gpu0"], gpu, resident=2)
    try:
        scheduler.run("qwen", lambda p: gpu.denoise(p, 0))
        assert scheduler.loaded() == {"gpu0": ["qwen"]}
        scheduler.run("wan", lambda p: gpu.denoise(p, 1))
        assert scheduler.loaded() == {"gpu0": ["wan"]}, "what a GPU actor reports as resident"
    finally:
        scheduler.close()
    assert gpu.offloads == [("qwen", "none"), ("wan", "none")]
    assert scheduler.loaded() == {"gpu0": []}


def test_close_cancels_waiting_jobs_and_refuses_new_ones() -> None:
    gpu = SleepingGpu()
    scheduler = GpuScheduler(["gpu0"], gpu)
    first = scheduler.submit("wan", lambda p: gpu.denoise(p, 0))
    later = [scheduler.submit("wan", lambda p, i=i: gpu.denoise(p, i)) for i in range(1, 5)]
    first.result()
    scheduler.close()
    assert any(f.cancelled() for f in later)
    with pytest.raises(ProviderError, match="shutting down"):
        scheduler.submit("wan", lambda p: None)
    assert gpu.used == {}
