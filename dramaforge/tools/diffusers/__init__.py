"""Open models on this machine's GPUs through diffusers (``pip install 'dramaforge[gpu]'``).

Registered as ``diffusers:<model>`` for video (Wan 2.1/2.2, HunyuanVideo-I2V), image
(Qwen-Image, Qwen-Image-Edit) and lipsync (Wan2.2-S2V, where diffusers ships it). Building a
backend checks that the model's weights folder is there; torch is imported when the first
shot is made, so registering costs nothing and ``plan`` works without the extra.
"""

from __future__ import annotations

from dramaforge.config import Settings
from dramaforge.tools.protocols import ImageBackend, LipsyncBackend, VideoBackend
from dramaforge.tools.registry import Registry


def _price(settings: Settings) -> float:
    from dramaforge.tools.diffusers.estimate import GPU_HOUR

    return float(settings.prices.get(GPU_HOUR, 0.0))


def _video(model: str, settings: Settings) -> VideoBackend:
    from dramaforge.tools.diffusers.backends import DiffusersVideo
    from dramaforge.tools.diffusers.models import model as open_model
    from dramaforge.tools.diffusers.models import weights_folder
    from dramaforge.tools.diffusers.pipelines import shared_scheduler

    spec = open_model(model, "video")
    weights_folder(spec, settings.diffusers)  # a missing model fails now, not mid-episode
    scheduler = shared_scheduler(settings)
    return DiffusersVideo(spec, settings.diffusers, scheduler, _price(settings))


def _image(model: str, settings: Settings) -> ImageBackend:
    from dramaforge.tools.diffusers.backends import DiffusersImage
    from dramaforge.tools.diffusers.models import model as open_model
    from dramaforge.tools.diffusers.models import weights_folder
    from dramaforge.tools.diffusers.pipelines import shared_scheduler

    spec = open_model(model, "image")
    weights_folder(spec, settings.diffusers)  # a missing model fails now, not mid-episode
    scheduler = shared_scheduler(settings)
    return DiffusersImage(spec, settings.diffusers, scheduler, _price(settings))


def _lipsync(model: str, settings: Settings) -> LipsyncBackend:
    from dramaforge.tools.diffusers.backends import lipsync

    backend: LipsyncBackend = lipsync(model, settings.diffusers)
    return backend


def register(registry: Registry) -> None:
    """Add ``diffusers:<model>`` video, image and lipsync backends to ``registry``."""
    registry.add("video", "diffusers", _video)
    registry.add("image", "diffusers", _image)
    registry.add("lipsync", "diffusers", _lipsync)
