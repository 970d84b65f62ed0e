"""DashScope backends: Qwen-Image / Wan text-to-image, Wan video, Qwen-TTS and CosyVoice.

Registered as ``dashscope:<model>`` for image, video and speech. Modules are imported when a
backend is built. A missing key is a ConfigError naming DASHSCOPE_API_KEY, raised when the
backend is built (speech: when ``check`` is called, so voices can be listed without a key).
"""

from __future__ import annotations

from dramaforge.config import Settings
from dramaforge.tools.protocols import ImageBackend, SpeechBackend, VideoBackend
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


def register(registry: Registry) -> None:
    """Add ``dashscope:<model>`` image, video and speech backends to ``registry``."""
    registry.add("image", "dashscope", _image)
    registry.add("video", "dashscope", _video)
    registry.add("speech", "dashscope", _speech)
