"""The studio's pages and actions, one module per concern; ``ROUTES`` is all of them."""

from __future__ import annotations

from starlette.routing import BaseRoute

from dramaforge.serve.studio.routes import board, files, home, render

ROUTES: list[BaseRoute] = [*home.ROUTES, *board.ROUTES, *render.ROUTES, *files.ROUTES]
