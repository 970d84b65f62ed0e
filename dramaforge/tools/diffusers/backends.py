"""Video and image backends over diffusers pipelines: requests translated, frames fitted.

The backend only translates: a request becomes the pipeline's arguments at the model's native
size and frame count, queued on the process's GPU scheduler; the frames that come back are
fitted to the shot (``media/fit.py``) on the calling thread, so the device is already
denoising the next job while this one is encoded. The seed goes into a CPU generator, so the
same seed gives the same noise on any device. Cost is the device-seconds the job held the GPU
at ``[prices] "diffusers:gpu-hour"`` (``estimate.GPU_HOUR``).
"""

from __future__ import annotations

import threading
from pathlib import Path
from typing import Any

import numpy as np
from PIL import Image

from dramaforge.config import DiffusersSettings
from dramaforge.errors import ConfigError, ProviderError
from dramaforge.media.fit import cover, to_rgb8, write_fitted
from dramaforge.tools.diffusers.models import MODELS, OpenModel
from dramaforge.tools.diffusers.scheduler import GpuScheduler
from dramaforge.tools.protocols import (
    Generated,
    ImageRequest,
    TaskJournal,
    VideoRequest,
)


def denoise(
    pipe: Any, arguments: dict[str, Any], seed: int, stopping: threading.Event
) -> list[Any]:
    """Run ``pipe`` (on the scheduler's device thread); its frames or images as a list.

    ``stopping`` (Ctrl-C, exit) ends the loop at the next step and the job fails."""
    import torch

    def step_end(p: Any, step: int, timestep: Any, kwargs: dict[str, Any]) -> dict[str, Any]:
        if stopping.is_set():
            p._interrupt = True
        return kwargs

    with torch.inference_mode():
        out = pipe(
            **arguments,
            generator=torch.Generator("cpu").manual_seed(seed),
            callback_on_step_end=step_end,
        )
    if stopping.is_set():
        raise ProviderError("interrupted", retryable=True)
    frames = getattr(out, "frames", None)
    return list(frames[0]) if frames is not None else list(out.images)


def _picture(path: str, width: int, height: int) -> Image.Image:
    with Image.open(path) as img:
        rgb = np.asarray(img.convert("RGB"))
    return Image.fromarray(cover(rgb, width, height))


def tuning(spec: OpenModel, settings: DiffusersSettings) -> str:
    """``[steps=20,frames=49]`` for a model whose defaults the user changed, else empty."""
    own = settings.models.get(spec.name)
    if own is None:
        return ""
    size = "x".join(str(n) for n in own.size) if own.size else None
    parts = [
        f"{k}={v}" for k, v in (("steps", own.steps), ("frames", own.frames), ("size", size)) if v
    ]
    return f"[{','.join(parts)}]" if parts else ""


class _Backend:
    def __init__(
        self, spec: OpenModel, settings: DiffusersSettings, scheduler: GpuScheduler, price: float
    ) -> None:
        self.spec = spec
        self.name = f"diffusers:{spec.name}{tuning(spec, settings)}"
        """The store keys clips by it: a clip made with other steps, frames or size is another
        asset, never the cached one."""
        self.settings = settings
        self.scheduler = scheduler
        self.price = price

    def _size(self, width: int, height: int) -> tuple[int, int]:
        own = self.settings.models.get(self.spec.name)
        if own is not None and own.size is not None:
            w, h = own.size
            return (w, h) if (w >= h) == (width >= height) else (h, w)
        return self.spec.native(width, height)

    def _steps(self) -> int:
        own = self.settings.models.get(self.spec.name)
        return own.steps if own is not None and own.steps else self.spec.steps

    def _run(self, arguments: dict[str, Any], seed: int) -> tuple[list[Any], Generated]:
        stopping = self.scheduler.stopping
        frames, seconds = self.scheduler.run(
            self.spec.name, lambda pipe: denoise(pipe, arguments, seed, stopping)
        )
        made = Generated(
            cost=round(seconds / 3600 * self.price, 6),
            model=f"diffusers:{self.spec.name}",
            gpu_seconds=seconds,
        )
        return frames, made


class DiffusersVideo(_Backend):
    """VideoBackend: Wan 2.1/2.2 (text or image to video), HunyuanVideo-I2V."""

    takes_audio = False

    def generate(
        self, request: VideoRequest, dest: Path, journal: TaskJournal | None = None
    ) -> Generated:
        width, height = self._size(request.width, request.height)
        own = self.settings.models.get(self.spec.name)
        count = self.spec.frame_count(request.duration, own.frames if own else None)
        arguments: dict[str, Any] = {
            "prompt": request.prompt,
            "height": height,
            "width": width,
            "num_frames": count,
            "num_inference_steps": self._steps(),
            "guidance_scale": self.spec.guidance,
            "output_type": "np",
        }
        if self.spec.kind == "i2v":
            arguments["image"] = _picture(request.keyframe, width, height)
        frames, made = self._run(arguments, request.seed)
        write_fitted(
            frames,
            dest,
            source_fps=self.spec.fps,
            width=request.width,
            height=request.height,
            fps=request.fps,
            duration=request.duration,
        )
        return made.model_copy(update={"duration": request.duration})


class DiffusersImage(_Backend):
    """ImageBackend: Qwen-Image, and Qwen-Image-Edit drawing from the focus character's
    reference image (a shot with no reference is drawn by ``qwen-image`` itself)."""

    def generate(
        self, request: ImageRequest, dest: Path, journal: TaskJournal | None = None
    ) -> Generated:
        if self.spec.kind == "edit" and not request.reference:
            return self.drawer().generate(request, dest, journal)
        width, height = self._size(request.width, request.height)
        arguments: dict[str, Any] = {
            "prompt": request.prompt,
            "height": height,
            "width": width,
            "num_inference_steps": self._steps(),
            "negative_prompt": " ",
            "true_cfg_scale": self.spec.guidance,
            "output_type": "np",
        }
        if self.spec.kind == "edit" and request.reference:
            arguments["image"] = _picture(request.reference, width, height)
        images, made = self._run(arguments, request.seed)
        picture = cover(to_rgb8(np.asarray(images[0])), request.width, request.height)
        Image.fromarray(picture).save(dest, format="PNG")
        return made

    def drawer(self) -> DiffusersImage:
        """The text-to-image model that draws the shots without a reference image."""
        return DiffusersImage(MODELS["qwen-image"], self.settings, self.scheduler, self.price)


def lipsync(name: str, settings: DiffusersSettings) -> Any:
    """The speech-to-video backend where diffusers ships one; a ConfigError saying so if not."""
    import diffusers

    if name != "wan2.2-s2v":
        raise ConfigError(f"unknown lipsync model diffusers:{name!r}; known: diffusers:wan2.2-s2v")
    if not hasattr(diffusers, "WanSpeechToVideoPipeline"):
        raise ConfigError(
            f"diffusers:{name} needs a Wan speech-to-video pipeline, which diffusers "
            f'{diffusers.__version__} does not ship; use lipsync = "dashscope:wan2.2-s2v" '
            "or a ComfyUI lip-sync workflow"
        )
    raise ConfigError(
        f"diffusers {diffusers.__version__} ships WanSpeechToVideoPipeline but this dramaforge "
        f'does not drive it yet; use lipsync = "dashscope:wan2.2-s2v"'
    )
