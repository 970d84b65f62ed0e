"""Approve and render (only what changed), the draft pass, live progress, and the player."""

from __future__ import annotations

from typing import Any

import anyio.to_thread
from starlette.requests import Request
from starlette.responses import PlainTextResponse, Response, StreamingResponse
from starlette.routing import BaseRoute, Route

from dramaforge.serve.studio import pages as views
from dramaforge.serve.studio.episodes import Studio
from dramaforge.serve.studio.jobs import Job, stream
from dramaforge.serve.studio.routes.common import act, episode_page, studio_of


def start_render(studio: Studio, folder: str, name: str, kind: str) -> Job:
    """Start rendering the episode in the background: ``draft``, or the full render (which
    makes only new, edited and redone shots, then re-assembles)."""

    def work(on_event: Any) -> dict[str, Any]:
        with studio.editing(folder, name), studio.session(folder, name) as s:
            todo = [shot.id for shot in s.to_render()]
            before = s.estimate()
            on_event({"stage": "plan", "status": "start", "to_render": todo})
            made = s.draft(on_event) if kind == "draft" else s.render(on_event)
        return {
            "rendered": todo,
            "estimated": before.total,
            "estimate": before.model_dump(),
            "cost": made.total_cost,
            "seconds": made.episode.duration,
        }

    return studio.jobs.start(f"{folder}/{name}", kind, work)


def render_page(request: Request) -> Response:
    return episode_page(request, "render.html", views.render_page)


def _render_refusal(request: Request, msg: str, status_code: int) -> Response:
    return episode_page(request, "render.html", views.render_page, msg, status_code)


def _starter(kind: str) -> Any:
    async def endpoint(request: Request) -> Response:
        def work(studio: Studio, folder: str, name: str) -> str | None:
            start_render(studio, folder, name, kind)
            return None

        return await anyio.to_thread.run_sync(
            lambda: act(request, work, "/render", _render_refusal)
        )

    return endpoint


def events(request: Request) -> Response:
    job = studio_of(request).jobs.get(str(request.path_params["job"]))
    if job is None:
        return PlainTextResponse("no such render", status_code=404)
    return StreamingResponse(
        stream(job), media_type="text/event-stream", headers={"Cache-Control": "no-cache"}
    )


ROUTES: list[BaseRoute] = [
    Route("/e/{folder}/{name}/render", render_page),
    Route("/e/{folder}/{name}/approve", _starter("render"), methods=["POST"]),
    Route("/e/{folder}/{name}/draft", _starter("draft"), methods=["POST"]),
    Route("/jobs/{job}/events", events),
]
