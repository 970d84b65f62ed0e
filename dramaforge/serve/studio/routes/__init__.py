"""The studio's pages and actions, one module per concern; ``ROUTES`` is all of them."""

from __future__ import annotations

from typing import Any

from starlette.requests import Request
from starlette.responses import PlainTextResponse, Response
from starlette.routing import BaseRoute

from dramaforge.errors import DramaforgeError
from dramaforge.serve.studio.routes import board, files, home, render

ROUTES: list[BaseRoute] = [*home.ROUTES, *board.ROUTES, *render.ROUTES, *files.ROUTES]


async def _refused(request: Request, exc: Exception) -> Response:
    """A refusal no route caught (a bad path met deep down) is still a 400 with its message,
    never a 500 and a traceback."""
    return PlainTextResponse(str(exc), status_code=400)


EXCEPTION_HANDLERS: dict[Any, Any] = {DramaforgeError: _refused}
