"""What every route shares: the studio, page rendering, and acting on an episode.

Actions are plain form posts answered with a redirect (303) back to the page, so the studio
works with or without JavaScript; a refused edit comes back as a one-line message on the page.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any
from urllib.parse import quote

from starlette.requests import Request
from starlette.responses import RedirectResponse, Response
from starlette.templating import Jinja2Templates

from dramaforge.errors import DramaforgeError, WorkspaceError
from dramaforge.serve.studio.episodes import Studio
from dramaforge.serve.studio.i18n import choose, words


def studio_of(request: Request) -> Studio:
    studio: Studio = request.app.state.studio
    return studio


def page(request: Request, name: str, data: dict[str, Any], status_code: int = 200) -> Response:
    lang = choose(request)
    templates: Jinja2Templates = request.app.state.templates
    studio = studio_of(request)
    running = studio.jobs.running()
    context = {
        "t": words(lang),
        "lang": lang,
        "other_lang": "en" if lang == "zh" else "zh",
        "here": request.url.path,
        "msg": request.query_params.get("msg"),
        "running": running,
        **data,
    }
    return templates.TemplateResponse(request, name, context, status_code=status_code)


def back(url: str, msg: str | None = None) -> RedirectResponse:
    return RedirectResponse(url + (f"?msg={quote(msg)}" if msg else ""), status_code=303)


def episode_ref(request: Request) -> tuple[str, str]:
    return str(request.path_params["folder"]), str(request.path_params["name"])


def episode_page(
    request: Request, template: str, view: Callable[[Studio, str, str], dict[str, Any]]
) -> Response:
    """An episode's page: ``view(studio, folder, name)`` and the episode's latest render job;
    an episode that cannot be read sends the person home, saying why."""
    folder, name = episode_ref(request)
    studio = studio_of(request)
    try:
        data = view(studio, folder, name)
    except DramaforgeError as err:
        return back("/", str(err))
    return page(request, template, data | {"job": studio.jobs.latest(f"{folder}/{name}")})


def act(request: Request, work: Callable[[Studio, str, str], str | None], to: str = "") -> Response:
    """Run ``work(studio, folder, name)`` on an episode no render is writing to; redirect to
    the board (or ``to``) with its message, or with the refusal when the edit cannot be made."""
    folder, name = episode_ref(request)
    studio = studio_of(request)
    url = f"/e/{folder}/{name}{to}"
    try:
        if studio.jobs.running(f"{folder}/{name}") is not None:
            raise WorkspaceError("a render of this episode is running; edit it when it is done")
        return back(url, work(studio, folder, name))
    except DramaforgeError as err:
        return back(url, str(err))


async def form(request: Request) -> dict[str, str]:
    """The posted fields, stripped, with the browser's CRLF line ends made LF again (an
    untouched field must compare equal to what the page showed, or the shot is redone)."""
    data = await request.form()
    return {k: v.replace("\r\n", "\n").strip() for k, v in data.items() if isinstance(v, str)}
