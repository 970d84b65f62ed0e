"""DashScope backends: Qwen-Image / Wan text-to-image, Wan video, Qwen-TTS and CosyVoice, and
lip-sync (``wan2.2-s2v``, ``videoretalk``).

Registered as ``dashscope:<model>`` for image, video, speech and lipsync. Modules are imported
when a backend is built. A missing key is a ConfigError naming DASHSCOPE_API_KEY, raised when the
backend is built (speech: when ``check`` is called, so voices can be listed without a key).
"""

from __future__ import annotations

from dramaforge.config import Settings
from dramaforge.tools.protocols import ImageBackend, LipsyncBackend, SpeechBackend, VideoBackend
from dramaforge.tools.registry import Registry


def _price(settings: Settings, model: str) -> float:
    prices: dict[str, float] = getattr(settings, "prices", {}) or {}
    return float(prices.get(f"dashscope:{model}", 0.0))


def _image(model: str, settings: Settings) -> ImageBackend:
    from dramaforge.tools.dashscope.image import DashScopeImage
    from dramaforge.tools.dashscope.transport import Transport

    backend = DashScopeImage(model, Transport(settings.dashscope))
    backend.price = _price(settings, backend.model)
    return backend


def _video(model: str, settings: Settings) -> VideoBackend:
    from dramaforge.tools.dashscope.transport import Transport
    from dramaforge.tools.dashscope.video import DashScopeVideo

    backend = DashScopeVideo(model, Transport(settings.dashscope))
    backend.price = _price(settings, backend.model)
    return backend


def _speech(model: str, settings: Settings) -> SpeechBackend:
    from dramaforge.tools.dashscope.cosyvoice import CosyVoice
    from dramaforge.tools.dashscope.speech import DashScopeSpeech
    from dramaforge.tools.dashscope.transport import Transport

    key = settings.dashscope.api_key
    keyed = bool(key and key.get_secret_value())
    backend: DashScopeSpeech | CosyVoice
    if model.startswith("cosyvoice"):
        backend = CosyVoice(model, settings.dashscope if keyed else None)
    else:
        backend = DashScopeSpeech(model, Transport(settings.dashscope) if keyed else None)
    backend.price = _price(settings, backend.model)
    return backend


def _lipsync(model: str, settings: Settings) -> LipsyncBackend:
    """``wan2.2-s2v`` (the default) or ``videoretalk``. An account runs one s2v task at a
    time, so its concurrency is 1 unless ``[dashscope] concurrency`` says otherwise."""
    from dramaforge.tools.dashscope.lipsync import DashScopeRetalk, DashScopeTalking
    from dramaforge.tools.dashscope.transport import Transport

    backend: DashScopeTalking | DashScopeRetalk
    if model.startswith("videoretalk"):
        backend = DashScopeRetalk(model, Transport(settings.dashscope))
    else:
        model = model or "wan2.2-s2v"
        limits = {model: 1} | settings.dashscope.concurrency
        dashscope = settings.dashscope.model_copy(update={"concurrency": limits})
        backend = DashScopeTalking(model, Transport(dashscope))
    backend.price = _price(settings, backend.model)
    return backend


def register(registry: Registry) -> None:
    """Add ``dashscope:<model>`` image, video, speech and lipsync backends to ``registry``."""
    registry.add("image", "dashscope", _image)
    registry.add("video", "dashscope", _video)
    registry.add("speech", "dashscope", _speech)
    registry.add("lipsync", "dashscope", _lipsync)
