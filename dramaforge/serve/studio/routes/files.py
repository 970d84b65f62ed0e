"""Files: the workspace's (confined, see ``guard``), the packaged font, the static assets."""

from __future__ import annotations

from pathlib import Path

from noto_cjk_sans_otc import FONT_PATH
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import BaseRoute, Mount, Route
from starlette.staticfiles import StaticFiles

from dramaforge.serve.studio.guard import package_file, workspace_file
from dramaforge.serve.studio.routes.common import studio_of

STATIC = Path(__file__).resolve().parent.parent / "static"


def workspace(request: Request) -> Response:
    return workspace_file(studio_of(request).workspace, str(request.path_params["path"]))


def font(request: Request) -> Response:
    """Noto Sans CJK from the installed package: Chinese renders in a browser without CJK
    fonts, and nothing is fetched from the network."""
    return package_file(Path(FONT_PATH), "font/collection")


ROUTES: list[BaseRoute] = [
    Route("/files/{path:path}", workspace),
    Route("/font/noto-sans-cjk.ttc", font),
    Mount("/static", StaticFiles(directory=STATIC), name="static"),
]
