"""Embedded offline backends: the default, so a new user gets a watchable animatic with no key.

Storyboard keyframes (Pillow), camera motion (OpenCV warp, x264 through PyAV), speech (piper /
espeak-ng, optional extra ``voices``) and procedural music, ambience and effects. Modules are
imported when a backend is built, so registering costs nothing and a missing optional package
only matters for the backend that needs it.
"""

from __future__ import annotations

from dramaforge.config import Settings
from dramaforge.tools.protocols import ImageBackend, SoundBackend, SpeechBackend, VideoBackend
from dramaforge.tools.registry import Registry


def _image(model: str, settings: Settings) -> ImageBackend:
    from dramaforge.tools.local.storyboard import StoryboardBackend

    return StoryboardBackend()


def _video(model: str, settings: Settings) -> VideoBackend:
    from dramaforge.tools.local.motion import MotionBackend

    return MotionBackend()


def _speech(model: str, settings: Settings) -> SpeechBackend:
    from dramaforge.tools.local.speech import LocalSpeech

    return LocalSpeech()


def _sound(model: str, settings: Settings) -> SoundBackend:
    from dramaforge.tools.local.synth import SynthBackend

    return SynthBackend()


def register(registry: Registry) -> None:
    """Add the local backends (``local:<anything>``) to ``registry``."""
    registry.add("image", "local", _image)
    registry.add("video", "local", _video)
    registry.add("speech", "local", _speech)
    registry.add("sound", "local", _sound)
