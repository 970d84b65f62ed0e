"""``dramaforge doctor``'s lip-sync and face line: the route on-screen lines take, and whether
real faces can be measured (the sync and identity checks need the ``faces`` extra for them)."""

from __future__ import annotations

from collections.abc import Callable
from importlib.util import find_spec

from dramaforge.config import Settings
from dramaforge.errors import ConfigError
from dramaforge.tools.registry import registry


def faces_check(settings: Settings) -> Callable[[], str]:
    """The lip-sync route, built as a render would build it, and the face models present.
    Without the face models, a render with any paid picture fails this check: its real
    faces would go unmeasured."""

    def check() -> str:
        spec = settings.backends.lipsync
        if spec in (None, "", "none"):
            video = registry().create("video", settings.backends.video, settings)
            own = getattr(video, "takes_audio", False)
            route = f"{video.name}'s own audio" if own else "none (set [backends] lipsync)"
        else:
            route = registry().create("lipsync", spec, settings).name
        if find_spec("dlib") and find_spec("face_recognition_models"):
            return f"{route}; drawn and real faces measured (dlib)"
        pictures = [settings.backends.image, settings.backends.video, spec or "local:"]
        if any(not s.startswith("local:") for s in pictures if s != "none"):
            raise ConfigError(
                f"lip sync: {route}; real faces cannot be measured (lip sync, identity): "
                "pip install 'dramaforge[faces]'"
            )
        return f"{route}; drawn faces measured (real faces need the 'faces' extra)"

    return check
