"""The episode board: shot cards, takes, edits, redo, restore, add/remove/move, characters.

Every action is one ``Session`` operation (the ones chat, ``rerender`` and MCP use), written
to the episode's checkpoint thread before the redirect comes back.
"""

from __future__ import annotations

import math
from typing import Any

import anyio.to_thread
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import BaseRoute, Route

from dramaforge.errors import EditError
from dramaforge.serve.studio import pages as views
from dramaforge.serve.studio.episodes import Studio
from dramaforge.serve.studio.routes.common import (
    act,
    episode_page,
    form,
)
from dramaforge.serve.studio.routes.render import start_render

FIELDS = ("prompt", "framing", "camera", "duration")


def board(request: Request) -> Response:
    return episode_page(request, "board.html", views.board)


def _number(text: str, what: str) -> float:
    """A finite number from a form field (``nan``, ``inf`` are words here, not numbers)."""
    try:
        value = float(text)
    except ValueError:
        value = math.nan
    if not math.isfinite(value):
        raise EditError(f"{what} must be a number, not {text!r}")
    return value


async def edit(request: Request) -> Response:
    """Save the changed fields of one shot; with ``action=redo`` render that shot at once
    (a fresh take when nothing was changed)."""
    data = await form(request)
    sid = str(request.path_params["shot"])

    def work(studio: Studio, folder: str, name: str) -> str | None:
        changed = 0
        with studio.edit_session(folder, name) as s:
            shot = s.takes(sid)[0]
            now: dict[str, Any] = {
                "prompt": shot.visual_prompt.strip(),
                "framing": shot.framing,
                "camera": shot.camera,
                "duration": shot.duration,
            }
            for key in FIELDS:
                if key not in data:
                    continue
                value: Any = data[key]
                if key == "duration":
                    value = _number(value, "seconds")
                if value != now[key]:
                    s.edit(sid, key, value)
                    changed += 1
            for i, line in enumerate(shot.lines, 1):
                text = data.get(f"line{i}", line.text.strip())
                if text != line.text.strip():
                    s.edit(sid, f"line {i}", text)
                    changed += 1
            if data.get("action") != "redo":
                return None
            if not changed:
                s.redo(sid)
        start_render(studio, folder, name, "redo")
        return None

    return await anyio.to_thread.run_sync(lambda: act(request, work))


def _simple(op: str) -> Any:
    async def endpoint(request: Request) -> Response:
        data = await form(request)
        sid = str(request.path_params.get("shot", ""))

        def work(studio: Studio, folder: str, name: str) -> str | None:
            with studio.edit_session(folder, name) as s:
                if op == "restore":
                    s.restore(sid, int(request.path_params["take"]))
                elif op == "remove":
                    s.remove(sid)
                elif op == "move":
                    to = data.get("to", "")
                    here = s.takes(sid)[0]
                    at = next(n for n, x in enumerate(s.plan().shots, 1) if x.id == here.id)
                    step = {"up": at - 1, "down": at + 1}.get(data.get("dir", ""))
                    s.move(sid, step if step is not None else int(_number(to, "position")))
                elif op == "add":
                    line = data.get("line", "").strip() or None
                    speaker = data.get("speaker", "").strip() or None
                    duration = _number(data.get("duration", "3") or "3", "seconds")
                    s.add(
                        data.get("after", "0"),
                        data.get("prompt", ""),
                        line=line,
                        speaker=speaker,
                        duration=duration,
                    )
                elif op == "character":
                    _character(s, str(request.path_params["who"]), data)
            return None

        return await anyio.to_thread.run_sync(lambda: act(request, work))

    return endpoint


def _character(s: Any, who: str, data: dict[str, str]) -> None:
    bible = s.bible()
    narrator = who == "narrator"
    if not narrator and who not in bible.characters:
        raise EditError(f"no character called {who!r}")
    voice = bible.narrator if narrator else bible.characters[who].voice
    if not narrator:
        look = data.get("look", "")
        if look and look != bible.characters[who].description.strip():
            s.set_look(who, look)
    changes: dict[str, Any] = {}
    if data.get("voice", voice.id) != voice.id:
        changes["voice"] = data["voice"]
    for key in ("rate", "pitch"):
        if key in data and _number(data[key], key) != getattr(voice, key):
            changes[key] = _number(data[key], key)
    if changes:
        s.set_voice(who, **changes)


ROUTES: list[BaseRoute] = [
    Route("/e/{folder}/{name}", board),
    Route("/e/{folder}/{name}/shots/{shot}/edit", edit, methods=["POST"]),
    Route("/e/{folder}/{name}/shots/{shot}/takes/{take:int}", _simple("restore"), methods=["POST"]),
    Route("/e/{folder}/{name}/shots/{shot}/remove", _simple("remove"), methods=["POST"]),
    Route("/e/{folder}/{name}/shots/{shot}/move", _simple("move"), methods=["POST"]),
    Route("/e/{folder}/{name}/add", _simple("add"), methods=["POST"]),
    Route("/e/{folder}/{name}/characters/{who}", _simple("character"), methods=["POST"]),
]
