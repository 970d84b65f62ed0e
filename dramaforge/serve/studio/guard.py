"""Who may talk to the studio, and which files it hands out.

On loopback (the default) only this machine can connect; the ``Host`` header must still name
loopback, so a web page elsewhere cannot reach the studio through DNS rebinding, and a form
posted from another origin is refused (a page elsewhere must not approve a paid render).
Bound to any other address the studio needs the token printed at start: given once as
``?token=``, then kept in a cookie. Files are served only from inside the workspace (real
paths, symlinks followed and refused when they lead out) and only of the kinds a board shows.
"""

from __future__ import annotations

import hmac
from pathlib import Path

from starlette.datastructures import MutableHeaders
from starlette.requests import Request
from starlette.responses import FileResponse, PlainTextResponse, RedirectResponse, Response
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from dramaforge.errors import WorkspaceError
from dramaforge.serve.workspace import Workspace

LOOPBACK = {"127.0.0.1", "localhost", "::1", "[::1]"}
SERVED = {
    ".png": "image/png",
    ".jpg": "image/jpeg",
    ".jpeg": "image/jpeg",
    ".webp": "image/webp",
    ".mp4": "video/mp4",
    ".wav": "audio/wav",
    ".mp3": "audio/mpeg",
    ".m4a": "audio/mp4",
    ".srt": "text/plain; charset=utf-8",
    ".json": "application/json",
    ".html": "text/html; charset=utf-8",
    ".fcpxml": "application/xml",
    ".otio": "application/json",
    ".edl": "text/plain; charset=utf-8",
    ".xml": "application/xml",
    ".aaf": "application/octet-stream",
    ".csv": "text/csv; charset=utf-8",
}
MEDIA = {"image", "video", "audio"}
"""All that is served from hidden folders (the asset store): its journals and state are not."""
COOKIE = "dramaforge_token"
SAME_ORIGIN = (
    "default-src 'self'; img-src 'self' data:; media-src 'self'; style-src 'self' 'unsafe-inline'"
)
POLICY = f"{SAME_ORIGIN}; frame-ancestors 'none'; form-action 'self'"
SANDBOX = f"sandbox; {SAME_ORIGIN}"


def is_loopback(host: str) -> bool:
    return host in LOOPBACK or host.startswith("127.")


def _hostname(header: str) -> str:
    if header.startswith("["):
        return header.split("]")[0] + "]"
    return header.rsplit(":", 1)[0] if header.count(":") == 1 else header


class Guard:
    """ASGI middleware: loopback ``Host``, same-origin writes, and the token off loopback."""

    def __init__(self, app: ASGIApp, *, token: str | None) -> None:
        self.app = app
        self.token = token

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        request = Request(scope)
        refusal = self.refuse(request)
        if refusal is not None:
            await refusal(scope, receive, send)
            return
        given = request.query_params.get("token")
        if self.token and given and request.method == "GET":
            # Trade the URL's token for a cookie, and drop it from the address bar.
            clean = request.url.remove_query_params("token")
            redirect = RedirectResponse(
                str(clean.path) + (f"?{clean.query}" if clean.query else "")
            )
            redirect.set_cookie(COOKIE, self.token, httponly=True, samesite="strict")
            await redirect(scope, receive, send)
            return
        await self.app(scope, receive, self._headers(send))

    @staticmethod
    def _headers(send: Send) -> Send:
        """Every answer says: load nothing from anywhere but here (the browser enforces what
        the studio promises), and run no script in a workspace HTML file (it gets an origin of
        its own, so it cannot post to the studio)."""

        async def sending(message: Message) -> None:
            if message["type"] == "http.response.start":
                headers = MutableHeaders(scope=message)
                sandboxed = headers.get("content-type", "").startswith("text/html") and (
                    headers.get("x-workspace-file") == "1"
                )
                headers["Content-Security-Policy"] = SANDBOX if sandboxed else POLICY
                headers["X-Content-Type-Options"] = "nosniff"
                headers["Referrer-Policy"] = "no-referrer"
            await send(message)

        return sending

    def refuse(self, request: Request) -> Response | None:
        host = request.headers.get("host", "")
        if self.token is None and not is_loopback(_hostname(host)):
            return PlainTextResponse("this studio answers on loopback only", status_code=403)
        if self.token is not None:
            given = request.query_params.get("token") or request.cookies.get(COOKIE) or ""
            if not hmac.compare_digest(given.encode(), self.token.encode()):
                return PlainTextResponse(
                    "open the studio with the URL it printed at start (?token=...)",
                    status_code=403,
                )
        if request.method not in ("GET", "HEAD"):
            origin = request.headers.get("origin")
            if origin is not None and origin.split("://", 1)[-1] != host:
                return PlainTextResponse("cross-origin request refused", status_code=403)
        return None


def workspace_file(workspace: Workspace, given: str) -> Response:
    """A file inside the workspace, of a kind the studio shows; 404 for anything else."""
    try:
        path = workspace.inside(given)
    except WorkspaceError:
        return PlainTextResponse("not found", status_code=404)
    kind = SERVED.get(path.suffix.lower())
    hidden = any(part.startswith(".") for part in path.relative_to(workspace.root).parts)
    if kind is None or not path.is_file() or (hidden and kind.split("/")[0] not in MEDIA):
        return PlainTextResponse("not found", status_code=404)
    return FileResponse(
        path, media_type=kind, headers={"Cache-Control": "no-cache", "X-Workspace-File": "1"}
    )


def package_file(path: Path, media_type: str) -> Response:
    """A file shipped with the package (the CJK font): cached, it never changes in a version."""
    return FileResponse(
        path, media_type=media_type, headers={"Cache-Control": "public, max-age=604800"}
    )
