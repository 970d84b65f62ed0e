"""How long a shot takes on a given card, from published figures, before anything runs.

A published time (seconds for one native clip on a named card, ``models.Published``) is
scaled to the configured card by the ratio of their spec-sheet bfloat16 tensor throughput, to
the steps configured and to the frames the shot needs. That is a rough guide, not a
measurement: memory bandwidth, attention kernels and offload change real times; ``bench/gpu.py``
measures seconds per step on the card itself.
"""

from __future__ import annotations

import math

from dramaforge.config import Settings
from dramaforge.schema import ShotPlan
from dramaforge.tools.diffusers.models import MODELS, OpenModel

GPU_HOUR = "diffusers:gpu-hour"
"""The ``[prices]`` key: the price of one hour of one GPU, for every ``diffusers:`` model."""

CARDS: dict[str, float] = {
    # Dense bfloat16/fp16 tensor TFLOPS with fp32 accumulate, from NVIDIA's data sheets and
    # architecture whitepapers (Ampere GA102, Ada, Hopper, Blackwell).
    "RTX 3090": 71.0,
    "RTX 4080": 97.5,
    "RTX 4090": 165.2,
    "RTX 5090": 209.5,
    "RTX A6000": 154.8,
    "RTX 6000 Ada": 364.2,
    "L4": 121.0,
    "L40S": 362.0,
    "A100": 312.0,
    "H100": 989.0,
    "H200": 989.0,
}


def card_of(name: str | None) -> str | None:
    """The table's key inside a device name (``NVIDIA GeForce RTX 4090`` -> ``RTX 4090``)."""
    if not name:
        return None
    upper = name.upper()
    matches = [card for card in CARDS if card.upper() in upper]
    return max(matches, key=len) if matches else None


def configured_card(settings: Settings) -> str | None:
    """``[diffusers] gpu``, else the name of the first CUDA device (if torch is installed)."""
    if settings.diffusers.gpu:
        return settings.diffusers.gpu
    try:
        import torch
    except ImportError:
        return None
    if not torch.cuda.is_available():
        return None
    return str(torch.cuda.get_device_name(0))


def clip_seconds(
    spec: OpenModel, card: str | None, duration: float, settings: Settings
) -> tuple[float, str] | None:
    """Expected device-seconds for one shot of ``duration`` and how that was reached, or
    None when nothing was published for the model."""
    published = spec.published
    if published is None:
        return None
    own = settings.diffusers.models.get(spec.name)
    steps = own.steps if own and own.steps else spec.steps
    frames = spec.frame_count(duration, own.frames if own else None) if spec.video else 1
    seconds = published.seconds * published.gpus * steps / spec.steps * frames / spec.frames
    source, target = card_of(published.card), card_of(card)
    if source and target == source:
        basis = published.source
    elif source and target:
        seconds *= CARDS[source] / CARDS[target]
        basis = f"{published.source}, scaled from {source} to {target} by tensor throughput"
    else:
        basis = f"{published.source} on {published.card}; {card or 'this card'} not in the table"
    return seconds, basis


def gpu_seconds(plan: ShotPlan, settings: Settings) -> dict[str, float | None]:
    """Estimated device-seconds for one pass over ``plan``, per configured ``diffusers:``
    backend (None where no time was published for the model)."""
    b = settings.backends
    mine = [
        (name, MODELS[name.split(":", 1)[1]], per_shot)
        for name, per_shot in ((b.image, False), (b.video, True))
        if name.startswith("diffusers:") and name.split(":", 1)[1] in MODELS
    ]
    card = configured_card(settings) if mine else None
    out: dict[str, float | None] = {}
    for spec_name, spec, per_shot in mine:
        total = 0.0
        for shot in plan.shots:
            found = clip_seconds(spec, card, shot.duration if per_shot else 0.0, settings)
            if found is None:
                out[spec_name] = None
                break
            total += found[0]
        else:
            out[spec_name] = total
    return out


def image_seconds(settings: Settings) -> float | None:
    """Estimated device-seconds of one image from the configured ``diffusers:`` image
    backend (a reference sheet); None for another backend or a model with no published time."""
    name = settings.backends.image
    model = name.split(":", 1)[1] if name.startswith("diffusers:") else ""
    if model not in MODELS:
        return None
    found = clip_seconds(MODELS[model], configured_card(settings), 0.0, settings)
    return found[0] if found else None


def plan_lines(plan: ShotPlan, settings: Settings) -> list[str]:
    """What ``dramaforge plan`` says about the GPU: time per shot and GPU-hours, per model."""
    card = configured_card(settings)
    lines = []
    for spec_name, total in gpu_seconds(plan, settings).items():
        spec = MODELS[spec_name.split(":", 1)[1]]
        if total is None:
            lines.append(
                f"{spec_name}: no published time to estimate from; measure it with "
                "python bench/gpu.py on the card"
            )
            continue
        shots = max(1, len(plan.shots))
        sample = clip_seconds(spec, card, plan.shots[0].duration if plan.shots else 5.0, settings)
        basis = sample[1] if sample else ""
        lines.append(
            f"{spec_name} on {card or 'an unnamed GPU (set [diffusers] gpu)'}: about "
            f"{math.ceil(total / shots)} s a shot, {total / 3600:.2f} GPU-hours this episode "
            f"({basis})"
        )
    return lines
