"""The open models dramaforge runs through diffusers, and what each needs.

One row per model name (the part after ``diffusers:``): the pipeline class, the Hugging Face
repository whose ``-Diffusers`` folder the user fetches, the size and frame count it was
trained at, and its memory needs under each offload setting with where the figure comes from.
Figures marked ``derived`` are parameter counts times two bytes (bfloat16) plus activations,
not measurements; ``bench/gpu.py`` measures them on a real card. Nothing here imports torch.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

from dramaforge.config import DiffusersSettings
from dramaforge.errors import ConfigError

Kind = Literal["t2v", "i2v", "image", "edit"]
Offload = Literal["none", "model", "sequential"]
LADDER: tuple[Offload, ...] = ("none", "model", "sequential")
"""Offload settings from the fastest (all weights on the GPU) to the lightest."""


@dataclass(frozen=True)
class Published:
    """A time someone published for one clip (or image) at the model's native size."""

    seconds: float
    card: str
    gpus: int
    source: str


@dataclass(frozen=True)
class OpenModel:
    name: str
    repo: str
    pipeline: str
    """The diffusers class that loads the folder."""
    kind: Kind
    size: tuple[int, int]
    """Native (width, height), landscape; portrait shots swap it (Wan and Qwen-Image are
    trained at both orientations), square ones use ``square``."""
    frames: int
    """Frames per clip at the native length (1 for images)."""
    fps: int
    steps: int
    guidance: float
    vram: dict[Offload, float]
    """GB of GPU memory needed at the native size under each offload setting."""
    vram_source: str
    published: Published | None = None
    square: tuple[int, int] | None = None

    @property
    def video(self) -> bool:
        return self.kind in ("t2v", "i2v")

    def native(self, width: int, height: int) -> tuple[int, int]:
        """The native size closest in shape to a (width, height) shot."""
        w, h = self.size
        if width == height and self.square:
            return self.square
        return (w, h) if width >= height else (h, w)

    def frame_count(self, duration: float, cap: int | None = None) -> int:
        """Frames to generate for ``duration`` seconds: enough at the native rate, in the
        ``4k + 1`` steps Wan's and HunyuanVideo's VAEs need, at most the native count."""
        most = min(self.frames, cap) if cap else self.frames
        wanted = math.ceil(duration * self.fps) + 1
        fitted = 4 * math.ceil((wanted - 1) / 4) + 1
        return max(1, min(fitted, 4 * ((most - 1) // 4) + 1))


WAN21 = "Wan2.1 README (github.com/Wan-Video/Wan2.1)"
WAN22 = "Wan2.2 README (github.com/Wan-Video/Wan2.2)"
HUNYUAN = "HunyuanVideo-I2V README (github.com/Tencent-Hunyuan/HunyuanVideo-I2V)"
DERIVED = "derived: parameters x 2 bytes + activations; not measured here"

MODELS: dict[str, OpenModel] = {
    m.name: m
    for m in (
        OpenModel(
            name="wan2.1-t2v-1.3b",
            repo="Wan-AI/Wan2.1-T2V-1.3B-Diffusers",
            pipeline="WanPipeline",
            kind="t2v",
            size=(832, 480),
            frames=81,
            fps=16,
            steps=50,
            guidance=5.0,
            vram={"none": 16.0, "model": 8.2, "sequential": 4.0},
            vram_source=f"model offload: 8.19 GB, {WAN21}; none, sequential: {DERIVED}",
            published=Published(240.0, "RTX 4090", 1, f"{WAN21}: 5 s at 480p in about 4 min"),
        ),
        OpenModel(
            name="wan2.2-ti2v-5b",
            repo="Wan-AI/Wan2.2-TI2V-5B-Diffusers",
            pipeline="WanImageToVideoPipeline",
            kind="i2v",
            size=(1280, 704),
            frames=121,
            fps=24,
            steps=50,
            guidance=5.0,
            vram={"none": 32.0, "model": 24.0, "sequential": 10.0},
            vram_source=f"model offload: 24 GB, {WAN22}; none, sequential: {DERIVED}",
            published=Published(540.0, "RTX 4090", 1, f"{WAN22}: 5 s at 720p under 9 min"),
        ),
        OpenModel(
            name="wan2.1-i2v-14b-480p",
            repo="Wan-AI/Wan2.1-I2V-14B-480P-Diffusers",
            pipeline="WanImageToVideoPipeline",
            kind="i2v",
            size=(832, 480),
            frames=81,
            fps=16,
            steps=40,
            guidance=5.0,
            vram={"none": 48.0, "model": 35.0, "sequential": 14.0},
            vram_source=f"model offload: at least 35 GB via diffusers; others: {DERIVED}",
        ),
        OpenModel(
            name="wan2.2-i2v-a14b",
            repo="Wan-AI/Wan2.2-I2V-A14B-Diffusers",
            pipeline="WanImageToVideoPipeline",
            kind="i2v",
            size=(1280, 720),
            frames=81,
            fps=16,
            steps=40,
            guidance=3.5,
            vram={"none": 96.0, "model": 80.0, "sequential": 20.0},
            vram_source=f"model offload: 80 GB on one GPU, {WAN22}; others: {DERIVED}",
            published=Published(251.0, "H100", 8, f"{WAN22}: 720p, 81 frames on 8 GPUs"),
        ),
        OpenModel(
            name="hunyuanvideo-i2v",
            repo="hunyuanvideo-community/HunyuanVideo-I2V",
            pipeline="HunyuanVideoImageToVideoPipeline",
            kind="i2v",
            size=(1280, 720),
            frames=129,
            fps=24,
            steps=50,
            guidance=1.0,
            vram={"none": 76.0, "model": 60.0, "sequential": 20.0},
            vram_source=f"model offload: 60 GB peak at 720p, {HUNYUAN}; others: {DERIVED}",
            published=Published(1904.0, "one GPU, card not named", 1, f"{HUNYUAN}: 5 s at 720p"),
        ),
        OpenModel(
            name="qwen-image",
            repo="Qwen/Qwen-Image",
            pipeline="QwenImagePipeline",
            kind="image",
            size=(1664, 928),
            square=(1328, 1328),
            frames=1,
            fps=1,
            steps=50,
            guidance=4.0,
            vram={"none": 60.0, "model": 44.0, "sequential": 8.0},
            vram_source=f"20B transformer + 7B text encoder; {DERIVED}",
        ),
        OpenModel(
            name="qwen-image-edit",
            repo="Qwen/Qwen-Image-Edit",
            pipeline="QwenImageEditPipeline",
            kind="edit",
            size=(1664, 928),
            square=(1328, 1328),
            frames=1,
            fps=1,
            steps=50,
            guidance=4.0,
            vram={"none": 62.0, "model": 46.0, "sequential": 9.0},
            vram_source=f"20B transformer + 7B text encoder; {DERIVED}",
        ),
    )
}


def model(name: str, kind: str) -> OpenModel:
    """The table's row for ``name``, or a ConfigError listing the names ``kind`` may use."""
    found = MODELS.get(name)
    video = kind == "video"
    if found is None or found.video != video:
        names = ", ".join(f"diffusers:{n}" for n, m in MODELS.items() if m.video == video)
        raise ConfigError(f"unknown {kind} model diffusers:{name!r}; known: {names}")
    return found


def weights_folder(spec: OpenModel, settings: DiffusersSettings) -> Path:
    """The folder the user filled for ``spec``, or a ConfigError naming it and the command
    that fills it. Never a download: the folder must hold diffusers' ``model_index.json``."""
    own = settings.models.get(spec.name)
    folder = own.path if own and own.path else settings.models_dir / spec.name
    folder = folder.expanduser()
    if not (folder / "model_index.json").is_file():
        raise ConfigError(
            f"no weights for diffusers:{spec.name} in {folder} (model_index.json missing); "
            f"fetch them with: huggingface-cli download {spec.repo} --local-dir {folder}"
        )
    return folder


def choose_offload(
    spec: OpenModel, free_gb: float | None, lightest_first: Offload = "none"
) -> Offload:
    """The fastest setting, from ``lightest_first`` down, whose need fits in ``free_gb``
    (None: the CPU, nothing to offload to), else the lightest; out-of-memory then steps
    further down the ladder."""
    if free_gb is None:
        return "none"
    for setting in LADDER[LADDER.index(lightest_first) :]:
        if spec.vram[setting] <= free_gb:
            return setting
    return "sequential"
