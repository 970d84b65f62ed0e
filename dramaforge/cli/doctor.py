"""``dramaforge doctor``: is every part needed to render actually here, and if not, what to do."""

from __future__ import annotations

from collections.abc import Callable

from pydantic import BaseModel

from dramaforge.chat.agent import chat_model
from dramaforge.cli.cluster import cluster_checks
from dramaforge.cli.lipsync_doctor import faces_check
from dramaforge.cli.voices_doctor import voices_check
from dramaforge.config import (
    BACKEND_KINDS,
    ProviderSettings,
    Settings,
    masked,
    origin,
    without_password,
)
from dramaforge.errors import DramaforgeError
from dramaforge.schema import Language
from dramaforge.tools.comfyui.health import checks as comfyui_checks
from dramaforge.tools.diffusers.doctor import rows as gpu_rows
from dramaforge.tools.openai.client import dashscope_endpoint
from dramaforge.tools.registry import Kind, registry


class Check(BaseModel):
    name: str
    ok: bool
    detail: str


def _ffmpeg() -> str:
    from dramaforge.media.ffmpeg import ffmpeg_exe, run_ffmpeg

    filters = run_ffmpeg(["-filters"], what="listing filters")
    missing = [
        f
        for f in ("subtitles", "loudnorm", "zoompan", "sidechaincompress")
        if f" {f} " not in filters
    ]
    if missing:
        raise DramaforgeError(f"{ffmpeg_exe()} lacks filters {missing}; reinstall imageio-ffmpeg")
    return ffmpeg_exe()


def _probe() -> str:
    import av

    return f"PyAV {av.__version__}"


def _font() -> str:
    from dramaforge.media.fonts import font_path

    path = font_path()
    if not path.is_file():
        raise DramaforgeError(f"CJK font missing at {path}; pip install noto-cjk-sans-otc")
    return str(path)


def _speech(settings: Settings, language: Language) -> Callable[[], str]:
    def check() -> str:
        backend = registry().create("speech", settings.backends.speech, settings)
        backend.check(language)
        return f"{backend.name} speaks {language} ({len(backend.voices(language))} voices)"

    return check


def _backend(kind: Kind, spec: str, settings: Settings) -> Callable[[], str]:
    def check() -> str:
        backend = registry().create(kind, spec, settings)
        return f"{spec} -> {type(backend).__name__}"

    return check


def _chat(settings: Settings) -> Callable[[], str]:
    def check() -> str:
        model = chat_model(settings)
        return f"{settings.backends.chat} -> {type(model).__name__}"

    return check


UNSET = {"chat": "the director", "lipsync": "the video model's own audio input, else none"}
"""What an unset backend means."""


def settings_report(settings: Settings, flags: set[str] | None = None) -> list[Check]:
    """Each resolved backend and provider setting with where it came from; keys masked."""
    rows = [
        Check(
            name=f"{kind} backend",
            ok=True,
            detail=f"{getattr(settings.backends, kind) or UNSET.get(kind, 'none')} "
            f"({origin(('backends', kind), flags)})",
        )
        for kind in type(settings.backends).model_fields
    ]
    for provider in ("dashscope", "openai"):
        p: ProviderSettings = getattr(settings, provider)
        shown = without_password(p.base_url) or "default"
        rows.append(
            Check(
                name=f"{provider} key",
                ok=True,
                detail=f"{masked(p.api_key)} ({origin((provider, 'api_key'))})",
            )
        )
        rows.append(
            Check(
                name=f"{provider} base URL",
                ok=True,
                detail=f"{shown} ({origin((provider, 'base_url'))})",
            )
        )
    return rows + _critic_rows(settings)


def _critic_rows(settings: Settings) -> list[Check]:
    """The critic's own endpoint, field by field, or where it falls back to ``[openai]``."""
    own, resolved = settings.critic_openai, settings.openai_for("critic")
    shown = {
        "api_key": ("key", masked(resolved.api_key)),
        "base_url": ("base URL", without_password(resolved.base_url) or "default"),
        "structured_output": ("structured output", resolved.structured_output),
    }
    rows = []
    for name, (label, value) in shown.items():
        if own.is_set(name):
            where = origin(("critic_openai", name))
        else:
            where = f"from [openai]: {origin(('openai', name))}"
        rows.append(Check(name=f"critic_openai {label}", ok=True, detail=f"{value} ({where})"))
    compatible = dashscope_endpoint(settings)
    where = (
        origin(("dashscope", "compatible_url"))
        if settings.dashscope.compatible_url
        else "from the dashscope base URL"
    )
    rows.append(
        Check(
            name="dashscope chat models",
            ok=True,
            detail=f"{without_password(compatible.base_url)} ({where}), "
            f"{compatible.structured_output}, key: DASHSCOPE_API_KEY",
        )
    )
    return rows


def run_checks(settings: Settings) -> list[Check]:
    b = settings.backends
    chosen = {kind: getattr(b, kind) for kind in BACKEND_KINDS if kind != "speech"}
    kinds: list[tuple[Kind, str]] = [  # speech is checked per language, below
        (kind, spec) for kind, spec in chosen.items() if spec not in (None, "none")
    ]
    checks: list[tuple[str, Callable[[], str]]] = [
        ("ffmpeg", _ffmpeg),
        ("probing", _probe),
        ("CJK font", _font),
        ("voice zh", _speech(settings, "zh")),
        ("voice en", _speech(settings, "en")),
        *[(f"backend {k}", _backend(k, spec, settings)) for k, spec in kinds],
        *([("backend chat", _chat(settings))] if b.chat else []),
        *comfyui_checks(settings),
        *cluster_checks(settings),
        ("lip sync and faces", faces_check(settings)),
        ("voices by design", voices_check(settings)),
    ]
    results = []
    for name, fn in checks:
        try:
            results.append(Check(name=name, ok=True, detail=fn()))
        except (DramaforgeError, ImportError, OSError) as err:
            results.append(Check(name=name, ok=False, detail=str(err)))
    results += [Check(name=n, ok=ok, detail=d) for n, ok, d in gpu_rows(settings)]
    return results
