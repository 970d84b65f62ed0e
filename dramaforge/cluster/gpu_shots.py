"""The ``diffusers:*`` image and video backends of an episode on a cluster: each shot is sent
to one of the batch's GPU actors (``gpu_pool``) and its file written where the backend on
one machine would write it, so the store, the journal and the manifest do not change.

Named as the backends that run here are (the store keys assets by the name), and built
without torch: an episode's process imports neither torch nor diffusers.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from pydantic import BaseModel

from dramaforge.cluster.gpu_actor import ShotKind
from dramaforge.cluster.gpu_pool import GpuPool, gpu_models
from dramaforge.config import Settings
from dramaforge.media.journal import Generated, TaskJournal
from dramaforge.tools.diffusers.backends import tuning
from dramaforge.tools.diffusers.models import OpenModel, model
from dramaforge.tools.protocols import ImageRequest, VideoRequest


class _Sent:
    def __init__(self, spec: OpenModel, settings: Settings, pool: GpuPool) -> None:
        self.spec = spec
        self.name = f"diffusers:{spec.name}{tuning(spec, settings.diffusers)}"
        self.pool = pool

    def _send(
        self,
        kind: ShotKind,
        model_name: str,
        request: BaseModel,
        files: dict[str, str],
        dest: Path,
    ) -> Generated:
        """``request`` by value with the bytes of ``files`` (field -> path here)."""
        inputs = {field: (Path(p).name, Path(p).read_bytes()) for field, p in files.items()}
        data, made = self.pool.make(kind, model_name, request.model_dump(mode="json"), inputs)
        dest.write_bytes(data)
        return made


class ClusterVideo(_Sent):
    """VideoBackend: a ``diffusers:*`` clip made by a GPU actor; the keyframe of an
    image-to-video model goes with the request."""

    takes_audio = False

    def generate(
        self, request: VideoRequest, dest: Path, journal: TaskJournal | None = None
    ) -> Generated:
        files = {"keyframe": request.keyframe} if self.spec.kind == "i2v" else {}
        return self._send("video", self.spec.name, request, files, dest)


class ClusterImage(_Sent):
    """ImageBackend: a ``diffusers:*`` keyframe made by a GPU actor; an edit model's
    reference image goes with the request, and a shot without one is drawn by
    ``qwen-image`` (as ``DiffusersImage.drawer`` does on one machine)."""

    def generate(
        self, request: ImageRequest, dest: Path, journal: TaskJournal | None = None
    ) -> Generated:
        edit = self.spec.kind == "edit"
        if edit and not request.reference:
            return self._send("image", "qwen-image", request, {}, dest)
        files = {"reference": request.reference} if edit and request.reference else {}
        return self._send("image", self.spec.name, request, files, dest)


def gpu_backends(settings: Settings, actors: list[str]) -> dict[str, Any]:
    """The context's ``image``/``video`` backends that go to ``actors`` (the batch's GPU
    actors), for the ``diffusers:*`` ones; empty when the batch has no actors."""
    if not actors:
        return {}
    pool = GpuPool(actors)
    made: dict[str, Any] = {}
    for kind, name in gpu_models(settings):
        spec = model(name, kind)
        made[kind] = (
            ClusterImage(spec, settings, pool)
            if kind == "image"
            else ClusterVideo(spec, settings, pool)
        )
    return made
