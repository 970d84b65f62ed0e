"""What every route shares: the studio, page rendering, and acting on an episode.

Actions are plain form posts answered with a redirect (303) back to the page, so the studio
works with or without JavaScript. A refused edit is answered with a 4xx status and the page,
its one-line message on top (a script tells a refusal from a success by the status: 400 a
bad value, 404 no such episode, 409 the episode is busy). Edits of one episode are made one
at a time (``Studio.session`` holds its lock), so simultaneous posts are all kept.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any
from urllib.parse import quote

from starlette.requests import Request
from starlette.responses import RedirectResponse, Response
from starlette.templating import Jinja2Templates

from dramaforge.errors import Busy, DramaforgeError
from dramaforge.serve.studio import pages as views
from dramaforge.serve.studio.episodes import Studio
from dramaforge.serve.studio.i18n import choose, words


def studio_of(request: Request) -> Studio:
    studio: Studio = request.app.state.studio
    return studio


def status_of(err: DramaforgeError) -> int:
    """The HTTP status of a refusal: 409 busy, 400 anything else the person can fix."""
    return 409 if isinstance(err, Busy) else 400


def page(
    request: Request,
    name: str,
    data: dict[str, Any],
    status_code: int = 200,
    msg: str | None = None,
) -> Response:
    lang = choose(request)
    templates: Jinja2Templates = request.app.state.templates
    studio = studio_of(request)
    running = studio.jobs.running()
    context = {
        "t": words(lang),
        "lang": lang,
        "other_lang": "en" if lang == "zh" else "zh",
        "here": request.url.path,
        "msg": msg or request.query_params.get("msg"),
        "running": running,
        **data,
    }
    return templates.TemplateResponse(request, name, context, status_code=status_code)


def back(url: str, msg: str | None = None) -> RedirectResponse:
    return RedirectResponse(url + (f"?msg={quote(msg)}" if msg else ""), status_code=303)


def episode_ref(request: Request) -> tuple[str, str]:
    return str(request.path_params["folder"]), str(request.path_params["name"])


def home_page(request: Request, msg: str | None = None, status_code: int = 200) -> Response:
    studio = studio_of(request)
    rows = studio.episodes()
    data = {
        "episodes": rows,
        "scripts": studio.unplanned(rows),
        "series": studio.series(),
        "folders": studio.script_folders(),
        "cluster": studio.cluster_ready(),
    }
    return page(request, "home.html", data, status_code, msg)


def episode_page(
    request: Request,
    template: str,
    view: Callable[[Studio, str, str], dict[str, Any]],
    msg: str | None = None,
    status_code: int = 200,
) -> Response:
    """An episode's page: ``view(studio, folder, name)`` and the episode's latest render job;
    an episode that cannot be read (or is not planned yet) is the home page, saying why, 404."""
    folder, name = episode_ref(request)
    studio = studio_of(request)
    try:
        data = view(studio, folder, name)
    except DramaforgeError as err:
        return home_page(request, str(err), 404)
    job = studio.jobs.latest(f"{folder}/{name}")
    return page(request, template, data | {"job": job}, status_code, msg)


def act(
    request: Request,
    work: Callable[[Studio, str, str], str | None],
    to: str = "",
    refused: Callable[[Request, str, int], Response] | None = None,
) -> Response:
    """Run ``work(studio, folder, name)`` on an episode no render is writing to; redirect to
    the board (or ``to``) with its message. A refusal is ``refused(request, message, status)``
    (the board, by default) answered with its 4xx status."""
    folder, name = episode_ref(request)
    studio = studio_of(request)
    url = f"/e/{folder}/{name}{to}"
    try:
        with studio.editing(folder, name):
            if studio.jobs.running(f"{folder}/{name}") is not None:
                raise Busy("a render of this episode is running; edit it when it is done")
            return back(url, work(studio, folder, name))
    except DramaforgeError as err:
        show = refused or _board_refusal
        return show(request, str(err), status_of(err))


def _board_refusal(request: Request, msg: str, status_code: int) -> Response:
    return episode_page(request, "board.html", views.board, msg, status_code)


async def form(request: Request) -> dict[str, str]:
    """The posted fields, stripped, with the browser's CRLF line ends made LF again (an
    untouched field must compare equal to what the page showed, or the shot is redone)."""
    data = await request.form()
    return {k: v.replace("\r\n", "\n").strip() for k, v in data.items() if isinstance(v, str)}
