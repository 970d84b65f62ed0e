"""The studio as a Starlette app, and ``dramaforge studio`` serving it with uvicorn.

Server-rendered pages (Jinja2) and plain form posts; the only JavaScript is a vendored htmx
and a short script for live progress and playback. Everything the pages load (script, CSS,
font) comes from this package, so the studio works with no network at all.
"""

from __future__ import annotations

import secrets
from pathlib import Path

import uvicorn
from jinja2 import Environment, FileSystemLoader, select_autoescape
from starlette.applications import Starlette
from starlette.middleware import Middleware
from starlette.templating import Jinja2Templates

from dramaforge.config import Settings
from dramaforge.graph.context import RenderContext
from dramaforge.serve.studio.episodes import Studio
from dramaforge.serve.studio.guard import Guard, hosts_for, is_loopback
from dramaforge.serve.studio.routes import EXCEPTION_HANDLERS, ROUTES
from dramaforge.serve.studio.slow import HeaderDeadline
from dramaforge.serve.workspace import Workspace

TEMPLATES = Path(__file__).resolve().parent / "templates"


def create_app(
    root: Path,
    settings: Settings,
    *,
    host: str = "127.0.0.1",
    token: str | None = None,
    contexts: dict[str, RenderContext] | None = None,
) -> Starlette:
    """The studio over workspace ``root``, answering to the names of the address ``host`` it is
    bound to. ``token``: required of every request when set (the studio is reachable beyond
    this machine). ``contexts``: render contexts by episode folder, for callers that share one
    (a budget ledger, counted backends)."""
    studio = Studio(Workspace(root, settings), settings, contexts=dict(contexts or {}))
    env = Environment(loader=FileSystemLoader(TEMPLATES), autoescape=select_autoescape())
    guard = Middleware(Guard, token=token, hosts=hosts_for(host))
    app = Starlette(routes=ROUTES, middleware=[guard], exception_handlers=EXCEPTION_HANDLERS)
    app.state.studio = studio
    app.state.templates = Jinja2Templates(env=env)
    return app


def serve(root: Path, settings: Settings, host: str, port: int, echo: bool = True) -> None:
    """Serve until Ctrl-C. Off loopback a token is made and printed: the URL carries it."""
    token = None if is_loopback(host) else secrets.token_urlsafe(18)
    app = create_app(root, settings, host=host, token=token)
    shown = "127.0.0.1" if host in ("0.0.0.0", "::") else host
    url = f"http://{shown}:{port}/" + (f"?token={token}" if token else "")
    if echo:
        print(f"dramaforge studio on {Path(root).resolve()}: open {url}", flush=True)
        if token:
            print("reachable beyond this machine: only the URL above (with its token) works")
    uvicorn.run(
        app,
        host=host,
        port=port,
        log_level="warning",
        http=HeaderDeadline,
        h11_max_incomplete_event_size=64 * 1024,
    )
