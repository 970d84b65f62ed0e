"""Loading diffusers pipelines onto a device, and the one scheduler per process that owns them.

torch and diffusers are imported here, when the first shot is made, never at start-up.
Weights come only from the folder the user filled (``local_files_only``): a missing or broken
folder is a ConfigError naming it and the command that fetches it.
"""

from __future__ import annotations

import atexit
import gc
import threading
from typing import Any

from dramaforge.config import DiffusersSettings, Settings
from dramaforge.errors import ConfigError
from dramaforge.tools.diffusers.models import (
    MODELS,
    Offload,
    OpenModel,
    choose_offload,
    weights_folder,
)
from dramaforge.tools.diffusers.scheduler import GpuScheduler

GPU_EXTRA = "pip install 'dramaforge[gpu]'"


def need_torch() -> Any:
    """The torch module, or a ConfigError saying how to install the extra."""
    try:
        import torch
    except ImportError:
        raise ConfigError(f"diffusers backends need torch and diffusers: {GPU_EXTRA}") from None
    return torch


def devices(settings: DiffusersSettings) -> list[str]:
    """The devices that take shots: the configured ones, else every CUDA device, else CPU."""
    if settings.devices:
        return list(settings.devices)
    torch = need_torch()
    count = torch.cuda.device_count() if torch.cuda.is_available() else 0
    return [f"cuda:{i}" for i in range(count)] or ["cpu"]


def free_gb(device: str) -> float | None:
    """Free memory on a CUDA device in GB (None for the CPU)."""
    if not device.startswith("cuda"):
        return None
    torch = need_torch()
    free, _ = torch.cuda.mem_get_info(torch.device(device))
    return float(free) / 1e9


def dtype_for(settings: DiffusersSettings, device: str) -> Any:
    torch = need_torch()
    if settings.dtype != "auto":
        return getattr(torch, settings.dtype)
    if not device.startswith("cuda"):
        return torch.float32
    return torch.bfloat16 if torch.cuda.is_bf16_supported() else torch.float16


class TorchLoader:
    """The scheduler's Loader for real pipelines (``diffusers`` classes from the table).

    ``together`` are the models one render uses (its image and video models): under
    ``offload = "auto"`` they are kept on the GPU whole only if all of them fit at once;
    otherwise each is offloaded as its own need requires, so both stay loaded (in host
    memory) instead of evicting each other at every switch between keyframes and clips.
    """

    def __init__(self, settings: DiffusersSettings, together: tuple[str, ...] = ()) -> None:
        self.settings = settings
        self.together = together

    def first_offload(self, model: str, device: str) -> Offload:
        if self.settings.offload != "auto":
            return self.settings.offload
        free = free_gb(device)
        chosen = choose_offload(MODELS[model], free)
        others = [MODELS[m] for m in self.together if m != model and m in MODELS]
        whole = sum(m.vram["none"] for m in [MODELS[model], *others])
        if chosen == "none" and free is not None and whole > free:
            return choose_offload(MODELS[model], free, lightest_first="model")
        return chosen

    def load(self, model: str, device: str, offload: Offload) -> Any:
        spec = MODELS[model]
        folder = weights_folder(spec, self.settings)
        need_torch()
        import diffusers

        cls = getattr(diffusers, spec.pipeline)
        try:
            pipe = cls.from_pretrained(
                folder, torch_dtype=dtype_for(self.settings, device), local_files_only=True
            )
        except (OSError, ValueError, KeyError, TypeError) as err:
            raise ConfigError(
                f"cannot load diffusers:{model} from {folder}: {err}; fetch it again with: "
                f"huggingface-cli download {spec.repo} --local-dir {folder}"
            ) from None
        place(pipe, spec, device, offload)
        pipe.set_progress_bar_config(disable=True)
        return pipe

    def unload(self, pipeline: Any, device: str) -> None:
        if hasattr(pipeline, "remove_all_hooks"):
            pipeline.remove_all_hooks()
        del pipeline
        gc.collect()
        if device.startswith("cuda"):
            need_torch().cuda.empty_cache()

    def out_of_memory(self, err: BaseException) -> bool:
        torch = need_torch()
        oom = getattr(torch, "OutOfMemoryError", None)
        return (oom is not None and isinstance(err, oom)) or "out of memory" in str(err).lower()


def place(pipe: Any, spec: OpenModel, device: str, offload: Offload) -> None:
    """Put ``pipe`` on ``device`` under ``offload``; VAE tiling and slicing whenever weights
    are offloaded (memory is short), so decoding a long clip does not peak above denoising."""
    if not device.startswith("cuda") or offload == "none":
        pipe.to(device)
    elif offload == "model":
        pipe.enable_model_cpu_offload(device=device)
    else:
        pipe.enable_sequential_cpu_offload(device=device)
    vae = getattr(pipe, "vae", None)
    if offload != "none" and vae is not None:
        for switch in ("enable_tiling", "enable_slicing"):
            if hasattr(vae, switch):
                getattr(vae, switch)()


_schedulers: dict[tuple[object, ...], GpuScheduler] = {}
_lock = threading.Lock()


def shared_scheduler(settings: Settings) -> GpuScheduler:
    """The process's scheduler for these settings: every backend and every episode in the
    process queues on it, so one thread owns each device and pipelines load once."""
    own = settings.diffusers
    b = settings.backends
    together = tuple(n.split(":", 1)[1] for n in (b.image, b.video) if n.startswith("diffusers:"))
    key = (own.model_dump_json(), together)
    with _lock:
        found = _schedulers.get(key)
        if found is None or found.stopping.is_set():
            loader = TorchLoader(own, together)
            found = GpuScheduler(devices(own), loader, resident=own.resident)
            _schedulers[key] = found
        return found


@atexit.register
def close_all() -> None:
    """Stop every scheduler: running denoising loops end at their next step, weights are
    unloaded and the GPU's memory given back (Ctrl-C, the end of a render)."""
    with _lock:
        running = list(_schedulers.values())
        _schedulers.clear()
    for scheduler in running:
        scheduler.close(timeout=10.0)
