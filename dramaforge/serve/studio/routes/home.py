"""Home (episodes, series, scripts, planning a new one, starting a batch), the batch view, the
language switch."""

from __future__ import annotations

import anyio.to_thread
from starlette.requests import Request
from starlette.responses import RedirectResponse, Response
from starlette.routing import BaseRoute, Route

from dramaforge.errors import DramaforgeError
from dramaforge.serve.studio import pages as views
from dramaforge.serve.studio.i18n import LANGS
from dramaforge.serve.studio.routes.common import (
    back,
    form,
    home_page,
    page,
    status_of,
    studio_of,
)


def home(request: Request) -> Response:
    return home_page(request)


async def plan(request: Request) -> Response:
    """Plan a workspace script or pasted text into the chat thread; nothing is paid."""
    data = await form(request)
    studio = studio_of(request)
    text = data.get("text", "").strip() or None
    script = None if text else data.get("script") or None
    try:
        folder, name = await anyio.to_thread.run_sync(
            lambda: studio.plan(script, text, data.get("name", "") or "script")
        )
    except DramaforgeError as err:
        return home_page(request, str(err), status_of(err))
    return back(f"/e/{folder}/{name}")


async def start_batch(request: Request) -> Response:
    """Start rendering a folder of scripts as a series (here, or on the cluster); its page
    follows it."""
    data = await form(request)
    studio = studio_of(request)
    out = data.get("out", "") or "out"
    try:
        jobs = int(data.get("jobs", "") or 1)
        if not 1 <= jobs <= 16:
            raise ValueError
    except ValueError:
        return home_page(request, "episodes at once: a number from 1 to 16", 400)
    try:
        await anyio.to_thread.run_sync(
            lambda: studio.start_batch(
                data.get("scripts", ""),
                out,
                data.get("series", "") or None,
                jobs,
                data.get("cluster") == "on",
            )
        )
    except DramaforgeError as err:
        return home_page(request, str(err), status_of(err))
    return back(f"/batch/{out}")


def batch(request: Request) -> Response:
    folder = str(request.path_params["folder"])
    try:
        data = views.batch(studio_of(request), folder)
    except DramaforgeError as err:
        return home_page(request, str(err), 404)
    return page(request, "batch.html", data)


def language(request: Request) -> Response:
    code = str(request.path_params["code"])
    target = request.query_params.get("next", "/")
    if not target.startswith("/") or target.startswith("//"):
        target = "/"
    response = RedirectResponse(target, status_code=303)
    if code in LANGS:
        response.set_cookie("lang", code, samesite="strict", max_age=365 * 24 * 3600)
    return response


ROUTES: list[BaseRoute] = [
    Route("/", home),
    Route("/plan", plan, methods=["POST"]),
    Route("/batch", start_batch, methods=["POST"]),
    Route("/batch/{folder}", batch),
    Route("/lang/{code}", language),
]
