"""ComfyUI backends: the user's own workflows as image, video, speech and lip-sync agents.

Registered as ``comfyui:<workflow>`` (a path to an API-format workflow, or the name of a
bundled one: ``qwen_image``, ``wan22_i2v``, ``wan22_s2v_lipsync``) for image, video, speech
and lipsync. The workflow is read and checked when the backend is built, so a workflow
missing a binding the shot needs is refused before anything is queued.
"""

from __future__ import annotations

from typing import Any

from dramaforge.config import Settings
from dramaforge.tools.registry import Kind, Registry


def _factory(kind: Kind) -> Any:
    def build(model: str, settings: Settings) -> Any:
        from dramaforge.tools.comfyui import backends
        from dramaforge.tools.comfyui.execution import Runner
        from dramaforge.tools.comfyui.reporting import report
        from dramaforge.tools.comfyui.workflow import load

        classes: dict[str, type[backends.WorkflowBackend]] = {
            "image": backends.ComfyImage,
            "video": backends.ComfyVideo,
            "speech": backends.ComfySpeech,
            "lipsync": backends.ComfyLipsync,
        }
        runner = Runner(settings.comfyui, report)
        backend = classes[kind](model, load(model), runner, settings.comfyui.negative)
        backend.price = float(settings.prices.get(f"comfyui:{model}", 0.0))
        return backend

    return build


def register(registry: Registry) -> None:
    """Add ``comfyui:<workflow>`` image, video, speech and lipsync backends to ``registry``."""
    for kind in ("image", "video", "speech", "lipsync"):
        registry.add(kind, "comfyui", _factory(kind))
