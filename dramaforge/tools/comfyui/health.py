"""``dramaforge doctor`` for ComfyUI: each server answers, its queue, and every configured
workflow's node classes installed on it (``/object_info``)."""

from __future__ import annotations

from collections.abc import Callable

from dramaforge.config import Settings
from dramaforge.errors import ConfigError, ProviderError
from dramaforge.tools.comfyui.api import Client
from dramaforge.tools.comfyui.workflow import load

Check = tuple[str, Callable[[], str]]
KINDS = ("image", "video", "speech", "lipsync")


def workflows(settings: Settings) -> dict[str, str]:
    """The configured ``comfyui:`` workflows by kind (the draft's too)."""
    found: dict[str, str] = {}
    b, d = settings.backends, settings.draft
    specs = [(k, getattr(b, k)) for k in KINDS] + [
        (f"draft {k}", getattr(d, k)) for k in ("image", "video", "speech")
    ]
    for kind, spec in specs:
        if isinstance(spec, str) and spec.startswith("comfyui:"):
            found[kind] = spec.removeprefix("comfyui:")
    return found


def checks(settings: Settings) -> list[Check]:
    """One check per server and one per workflow; none when no backend uses ComfyUI."""
    used = workflows(settings)
    if not used:
        return []
    clients = [
        Client(url, timeout=min(settings.comfyui.request_seconds, 10.0))
        for url in settings.comfyui.servers()
    ]
    rows: list[Check] = [(f"comfyui {c.shown}", _server(c)) for c in clients]
    rows += [(f"comfyui {kind} workflow", _workflow(spec, clients)) for kind, spec in used.items()]
    return rows


def _server(client: Client) -> Callable[[], str]:
    def check() -> str:
        stats = client.system_stats()
        running, pending = client.queue()
        version = (stats.get("system") or {}).get("comfyui_version", "?")
        devices = ", ".join(str(d.get("name", "?")) for d in stats.get("devices") or []) or "no GPU"
        return (
            f"ComfyUI {version} on {devices}; queue: {len(running)} running, {len(pending)} pending"
        )

    return check


def _workflow(spec: str, clients: list[Client]) -> Callable[[], str]:
    def check() -> str:
        wf = load(spec)
        missing: dict[str, list[str]] = {}
        for c in clients:
            try:
                known = c.object_info()
            except ProviderError:
                continue  # the server's own row says it is down
            lacks = sorted(wf.classes() - set(known))
            if lacks:
                missing[c.shown] = lacks
        if missing:
            where = "; ".join(f"{url} lacks {', '.join(names)}" for url, names in missing.items())
            raise ConfigError(
                f"{wf.path}: {where}; install those custom nodes (ComfyUI-Manager) or edit the "
                "workflow"
            )
        bound = " ".join("{{" + m + "}}" for m in sorted(wf.bindings))
        return f"{wf.path}: {len(wf.graph)} nodes, output {wf.describe(wf.output)}, binds {bound}"

    return check
