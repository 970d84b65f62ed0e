"""One GPU of the cluster as a Ray actor: it owns the diffusers scheduler and pipelines of its
device, and makes the ``diffusers:*`` shots that episodes anywhere send it.

A request comes by value (the request and the bytes of the files its model reads: the
keyframe of an image-to-video clip, the reference of an edit) and the made file goes back
as bytes; the caller writes it where the backend would have, so the asset store, the
journal and the manifest are the same as on one machine. Calls run on the actor's threads,
each blocked on the device's scheduler while it denoises, so frames are fitted and encoded
for one shot while the device denoises the next, as they are in one process. torch is
imported when the first pipeline loads, in this process only.
"""

from __future__ import annotations

import tempfile
import threading
from pathlib import Path
from typing import Any, Literal

from pydantic import BaseModel

from dramaforge.config import Settings
from dramaforge.errors import ConfigError
from dramaforge.media.journal import Generated
from dramaforge.tools.protocols import ImageRequest, VideoRequest

ShotKind = Literal["image", "video"]
PREFIX = "dramaforge-gpu-"
"""Every GPU actor's name starts so: ``dramaforge-gpu-<batch>-<n>``."""
QUEUE = 64
"""Calls one actor takes at once (the rest wait in Ray): each is a thread, mostly blocked
on the device while another call's pipeline runs."""
LOOK = "look"
"""The concurrency group ``state`` is called in, so a full queue never delays the answer."""


class ActorState(BaseModel):
    """What a GPU actor reports: where it is, what it has loaded and what waits for it."""

    name: str
    node: str
    gpu: str
    """The GPU Ray gave it (its id on its node)."""
    device: str
    resident: list[str]
    """Models whose pipelines are loaded now, least recently used first."""
    calls: dict[str, str]
    """Calls in flight (being made or waiting for the device): call id -> model."""
    loads: list[str]
    """Every model it loaded, in order (a model twice: it was evicted and loaded again)."""

    @property
    def queue(self) -> int:
        return len(self.calls)


def actor_device(settings: Settings) -> str:
    """The torch device of a GPU actor: the one GPU Ray makes visible to it (``cuda:0`` in
    its process), or the CPU where ``[diffusers] devices`` says ``cpu`` (machines without
    CUDA, tests on Ray nodes that declare GPUs they do not have)."""
    own = settings.diffusers.devices
    return "cpu" if own and own[0] == "cpu" else "cuda:0"


class GpuWorker:
    """The actor's body (``ray.remote(GpuWorker)`` with one GPU, see ``gpu_pool``)."""

    def __init__(self, name: str, settings: Settings) -> None:
        import ray

        from dramaforge.tools.diffusers.pipelines import shared_scheduler

        self.name = name
        self.device = actor_device(settings)
        diffusers = settings.diffusers.model_copy(update={"devices": [self.device]})
        self.settings = settings.model_copy(update={"diffusers": diffusers})
        context = ray.get_runtime_context()
        self.node = str(context.get_node_id())
        self.gpu = ",".join(str(g) for g in context.get_accelerator_ids().get("GPU", []))
        self.scheduler = shared_scheduler(self.settings)  # the one every backend here uses
        self.backends: dict[tuple[ShotKind, str], Any] = {}
        self.calls: dict[str, str] = {}
        self.lock = threading.Lock()

    def prepare(self, models: list[tuple[ShotKind, str]]) -> ActorState:
        """Build the backends of ``models`` now: a weights folder missing on this node fails
        the batch at its start, naming the node, instead of every shot later."""
        for kind, model in models:
            self._backend(kind, model)
        return self.state()

    def state(self) -> ActorState:
        with self.lock:
            calls = dict(self.calls)
        return ActorState(
            name=self.name,
            node=self.node,
            gpu=self.gpu,
            device=self.device,
            resident=self.scheduler.loaded().get(self.device, []),
            calls=calls,
            loads=[model for _, model in self.scheduler.loads()],
        )

    def generate(
        self,
        call: str,
        kind: ShotKind,
        model: str,
        request: dict[str, Any],
        inputs: dict[str, tuple[str, bytes]],
    ) -> tuple[bytes, Generated]:
        """Make one shot; its file's bytes and what the backend reported, with this node.

        ``inputs``: request field -> (file name, bytes) of the files the model reads."""
        with self.lock:
            self.calls[call] = model
        try:
            backend = self._backend(kind, model)
            with tempfile.TemporaryDirectory(prefix="dramaforge-gpu-") as tmp:
                folder = Path(tmp)
                for field, (name, data) in inputs.items():
                    path = folder / f"{field}{Path(name).suffix}"
                    path.write_bytes(data)
                    request = request | {field: str(path)}
                dest = folder / ("shot.png" if kind == "image" else "shot.mp4")
                parsed = (ImageRequest if kind == "image" else VideoRequest).model_validate(request)
                made: Generated = backend.generate(parsed, dest)
                return dest.read_bytes(), made.model_copy(update={"node": self.node})
        finally:
            with self.lock:
                del self.calls[call]

    def _backend(self, kind: ShotKind, model: str) -> Any:
        from dramaforge.tools.registry import registry

        with self.lock:
            found = self.backends.get((kind, model))
        if found is None:
            try:
                found = registry().create(kind, f"diffusers:{model}", self.settings)
            except ConfigError as err:
                where = f"GPU actor {self.name} on node {self.node[:12]}"
                raise ConfigError(f"{where}: {err}") from None
            with self.lock:
                self.backends[(kind, model)] = found
        return found
