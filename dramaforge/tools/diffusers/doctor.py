"""What ``dramaforge doctor`` says about the GPUs and each configured open model.

For each device: its name, the driver, free and total memory. For each ``diffusers:`` backend
configured: whether its weights folder is there, what the model table says it needs under
each offload setting (with the source), and which setting fits each device's free memory now.
"""

from __future__ import annotations

import shutil
import subprocess

from dramaforge.config import Settings
from dramaforge.errors import ConfigError
from dramaforge.tools.diffusers.models import LADDER, MODELS, OpenModel, weights_folder

Row = tuple[str, bool, str]
"""(check name, ok, detail), as doctor prints it."""


def configured(settings: Settings) -> list[OpenModel]:
    b = settings.backends
    names = [n.split(":", 1)[1] for n in (b.image, b.video) if n.startswith("diffusers:")]
    return [MODELS[n] for n in names if n in MODELS]


def driver() -> str:
    """The NVIDIA driver version from ``nvidia-smi``, or why it is unknown."""
    smi = shutil.which("nvidia-smi")
    if smi is None:
        return "driver unknown (no nvidia-smi)"
    try:
        out = subprocess.run(
            [smi, "--query-gpu=driver_version", "--format=csv,noheader"],
            capture_output=True,
            text=True,
            timeout=10,
            check=True,
        ).stdout
    except (OSError, subprocess.SubprocessError):
        return "driver unknown (nvidia-smi failed)"
    return f"driver {out.splitlines()[0].strip()}" if out.strip() else "driver unknown"


def devices() -> list[tuple[str, str, float, float]]:
    """(device, name, free GB, total GB) of each CUDA device; empty without one."""
    import torch

    if not torch.cuda.is_available():
        return []
    found = []
    for i in range(torch.cuda.device_count()):
        free, total = torch.cuda.mem_get_info(i)
        found.append((f"cuda:{i}", torch.cuda.get_device_name(i), free / 1e9, total / 1e9))
    return found


def fits(spec: OpenModel, free: float) -> str:
    for setting in LADDER:
        if spec.vram[setting] <= free:
            return f"fits with offload {setting!r}"
    return f"does not fit even sequentially (needs {spec.vram['sequential']:g} GB)"


def rows(settings: Settings) -> list[Row]:
    """Doctor's rows for the GPU part; none when no ``diffusers:`` backend is configured."""
    models = configured(settings)
    if not models:
        return []
    try:
        import torch
    except ImportError:
        return [
            ("GPU", False, "diffusers backends need the gpu extra: pip install 'dramaforge[gpu]'")
        ]
    found = devices()
    out: list[Row] = []
    if found:
        for device, name, free, total in found:
            detail = (
                f"{name}, {driver()}, CUDA {torch.version.cuda}, {free:.1f} of {total:.1f} GB free"
            )
            out.append((f"GPU {device}", True, detail))
    else:
        cpu = f"no CUDA device (torch {torch.__version__}): models run on the CPU, far too slowly"
        out.append(("GPU", False, cpu))
    for spec in models:
        need = ", ".join(f"{s} {spec.vram[s]:g} GB" for s in LADDER)
        try:
            folder = f"weights in {weights_folder(spec, settings.diffusers)}"
            ok = True
        except ConfigError as err:
            folder, ok = str(err), False
        where = "; ".join(f"{d}: {fits(spec, free)}" for d, _, free, _ in found) or "no GPU"
        usable = ok and bool(found) and "not fit" not in where
        detail = f"needs {need} ({spec.vram_source}); {where}; {folder}"
        out.append((f"diffusers:{spec.name}", usable, detail))
    return out
