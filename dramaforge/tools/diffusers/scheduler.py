"""One thread owns each GPU; shots queue for it and are taken grouped by model.

The shot workers of the graph (and of every episode in the process) call ``run(model, work)``
and block; each device's thread picks the next job itself: one for the pipeline it has on the
GPU if any is waiting, else one for another pipeline it keeps loaded, else the model with the
most shots waiting. So a batch loads each pipeline once per device, however the shots arrive,
and the callers do their CPU work (fitting frames, encoding, voices, the critic) while the
device denoises the next job. Out of memory: the other pipelines on the device are dropped,
then the job's pipeline is loaded again one offload setting lighter, down to sequential; past
that one clear error. ``close`` (Ctrl-C, exit) stops every denoising loop at its next step
and unloads everything.

Nothing here knows torch: a ``Loader`` loads, unloads and recognises out-of-memory errors,
so the scheduling is tested with a fake device that sleeps like a GPU.
"""

from __future__ import annotations

import threading
import time
from collections import OrderedDict
from collections.abc import Callable
from concurrent.futures import Future
from dataclasses import dataclass, field
from typing import Any, Protocol, TypeVar

from dramaforge.errors import ProviderError
from dramaforge.tools.diffusers.models import LADDER, Offload

T = TypeVar("T")


class Loader(Protocol):
    """What the scheduler needs of a device: loading, unloading and reading its failures."""

    def first_offload(self, model: str, device: str) -> Offload:
        """The setting to try first (from free memory and the model table, or the user's)."""
        ...

    def load(self, model: str, device: str, offload: Offload) -> Any:
        """A pipeline for ``model`` ready to run on ``device``."""
        ...

    def unload(self, pipeline: Any, device: str) -> None:
        """Free what ``pipeline`` holds on ``device``."""
        ...

    def out_of_memory(self, err: BaseException) -> bool: ...


@dataclass
class Span:
    """One stretch of a device's time: loading a model or running a job for it."""

    what: str  # "load" | "run"
    model: str
    start: float
    end: float


@dataclass
class _Job:
    model: str
    work: Callable[[Any], Any]
    future: Future[tuple[Any, float]]


@dataclass
class _Device:
    name: str
    resident: OrderedDict[str, tuple[Any, Offload]] = field(default_factory=OrderedDict)
    """Loaded pipelines, least recently used first, with the offload each was loaded at."""
    lightest: dict[str, Offload] = field(default_factory=dict)
    """The setting each model last needed here, so an out-of-memory is not met twice."""
    spans: list[Span] = field(default_factory=list)
    thread: threading.Thread | None = None


class GpuScheduler:
    def __init__(self, devices: list[str], loader: Loader, *, resident: int = 2) -> None:
        if not devices:
            raise ValueError("no devices")
        self.loader = loader
        self.resident = resident
        self.stopping = threading.Event()
        """Set by ``close``: a running job's denoising loop checks it at every step."""
        self._devices = [_Device(name) for name in devices]
        self._pending: list[_Job] = []
        self._cond = threading.Condition()

    # -- callers -------------------------------------------------------------------------

    def submit(self, model: str, work: Callable[[Any], T]) -> Future[tuple[T, float]]:
        """Queue ``work(pipeline)``; the future gives its result and the device-seconds it
        took (its run, plus the load it caused)."""
        if self.stopping.is_set():
            raise ProviderError("the GPU worker is shutting down", retryable=False)
        future: Future[tuple[T, float]] = Future()
        with self._cond:
            self._start_threads()
            self._pending.append(_Job(model, work, future))
            self._cond.notify_all()
        return future

    def run(self, model: str, work: Callable[[Any], T]) -> tuple[T, float]:
        """``submit`` and wait."""
        return self.submit(model, work).result()

    def spans(self, device: str | None = None) -> list[Span]:
        """What each device did, in order (all devices when ``device`` is None)."""
        with self._cond:
            return [s for d in self._devices if device in (None, d.name) for s in d.spans]

    def loads(self) -> list[tuple[str, str]]:
        """(device, model) of every load, in order per device."""
        return [(d.name, s.model) for d in self._devices for s in d.spans if s.what == "load"]

    def loaded(self) -> dict[str, list[str]]:
        """The models loaded on each device now, least recently used first (what a cluster's
        GPU actor reports, so shots of a model are sent where it is already loaded)."""
        with self._cond:
            return {d.name: list(d.resident) for d in self._devices}

    def close(self, timeout: float = 30.0) -> None:
        """Stop: pending jobs are cancelled, running ones stop at their next step, every
        pipeline is unloaded."""
        self.stopping.set()
        with self._cond:
            for job in self._pending:
                job.future.cancel()
            self._pending.clear()
            self._cond.notify_all()
        for device in self._devices:
            if device.thread is not None and device.thread is not threading.current_thread():
                device.thread.join(timeout)

    # -- the device threads --------------------------------------------------------------

    def _start_threads(self) -> None:
        for device in self._devices:
            if device.thread is None:
                device.thread = threading.Thread(
                    target=self._serve, args=(device,), name=f"gpu {device.name}", daemon=True
                )
                device.thread.start()

    def _serve(self, device: _Device) -> None:
        try:
            while True:
                with self._cond:
                    while not self._pending and not self.stopping.is_set():
                        self._cond.wait()
                    if self.stopping.is_set():
                        return
                    job = self._pick(device)
                    self._pending.remove(job)
                if not job.future.set_running_or_notify_cancel():
                    continue
                try:
                    job.future.set_result(self._execute(device, job))
                except BaseException as err:
                    job.future.set_exception(err)
        finally:
            for model in list(device.resident):
                self._unload(device, model)

    def _pick(self, device: _Device) -> _Job:
        """The next job for ``device``: its current pipeline's, another loaded one's (most
        recently used first), else the model with the most jobs waiting (oldest first)."""
        for model in reversed(device.resident):
            for job in self._pending:
                if job.model == model:
                    return job
        counts: dict[str, int] = {}
        for job in self._pending:
            counts[job.model] = counts.get(job.model, 0) + 1
        busiest = max(counts.values())
        return next(j for j in self._pending if counts[j.model] == busiest)

    def _execute(self, device: _Device, job: _Job) -> tuple[Any, float]:
        started = time.monotonic()
        while True:
            pipeline, offload = self._ensure(device, job.model)
            run_start = time.monotonic()
            try:
                result = job.work(pipeline)
            except BaseException as err:
                self._span(device, "run", job.model, run_start)
                if not self.loader.out_of_memory(err) or self.stopping.is_set():
                    raise
                self._lighten(device, job.model, offload)
                continue
            self._span(device, "run", job.model, run_start)
            return result, time.monotonic() - started

    def _ensure(self, device: _Device, model: str) -> tuple[Any, Offload]:
        """``model``'s pipeline on ``device``, loaded (evicting the least recently used one
        beyond ``resident``) if it is not; out-of-memory while loading steps down the ladder."""
        if model in device.resident:
            with self._cond:
                device.resident.move_to_end(model)
            return device.resident[model]
        while len(device.resident) >= self.resident:
            self._unload(device, next(iter(device.resident)))
        offload = device.lightest.get(model) or self.loader.first_offload(model, device.name)
        while True:
            start = time.monotonic()
            try:
                pipeline = self.loader.load(model, device.name, offload)
            except BaseException as err:
                self._span(device, "load", model, start)
                if not self.loader.out_of_memory(err):
                    raise
                if device.resident:  # others hold memory: free it, same setting again
                    for other in list(device.resident):
                        self._unload(device, other)
                else:
                    offload = self._lighter(device, model, offload)
                continue
            self._span(device, "load", model, start)
            with self._cond:
                device.resident[model] = (pipeline, offload)
            device.lightest[model] = offload
            return pipeline, offload

    def _lighten(self, device: _Device, model: str, offload: Offload) -> None:
        """After an out-of-memory run: if other pipelines share the device, drop them and try
        the same setting again; else drop this one and note the next lighter setting."""
        others = [m for m in device.resident if m != model]
        if not others:
            self._unload(device, model)
            device.lightest[model] = self._lighter(device, model, offload)
        for other in others:
            self._unload(device, other)

    def _lighter(self, device: _Device, model: str, offload: Offload) -> Offload:
        index = LADDER.index(offload)
        if index + 1 >= len(LADDER):
            raise ProviderError(
                f"diffusers:{model} does not fit in the memory of {device.name} even with "
                "sequential offload; free the GPU (other programs), choose a smaller model "
                "or a lower resolution, or set [diffusers] devices to a larger card",
                retryable=False,
            )
        return LADDER[index + 1]

    def _unload(self, device: _Device, model: str) -> None:
        with self._cond:
            pipeline, _ = device.resident.pop(model)
        self.loader.unload(pipeline, device.name)

    def _span(self, device: _Device, what: str, model: str, start: float) -> None:
        with self._cond:
            device.spans.append(Span(what, model, start, time.monotonic()))
