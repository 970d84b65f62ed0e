"""Who may talk to the studio, and which files it hands out.

The ``Host`` header must name, exactly, an address or name the server is bound to (on
loopback: ``127.0.0.1``, ``localhost``, ``[::1]``), so a web page elsewhere cannot reach the
studio through DNS rebinding (``127.0.0.1.evil.example`` is not ``127.0.0.1``); an IP literal
cannot be rebound, so off loopback any address of this machine is accepted as typed. A form
posted from another origin is refused (a page elsewhere must not approve a paid render). Bound
to any other address the studio also needs the token printed at start: given once as
``?token=``, then kept in a cookie. Files are served only from inside the workspace (real
paths, symlinks followed and refused when they lead out; a hard-linked file only where the
studio itself links takes) and only of the kinds a board shows; pictures, video and sound
are shown in the page, everything else is a download that runs nothing as the studio.
"""

from __future__ import annotations

import hmac
import ipaddress
import socket
from dataclasses import dataclass
from pathlib import Path

import anyio
from starlette.datastructures import MutableHeaders
from starlette.requests import Request
from starlette.responses import FileResponse, PlainTextResponse, RedirectResponse, Response
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from dramaforge.errors import WorkspaceError
from dramaforge.media.exports.timeline import AUDIO_DIR
from dramaforge.serve.workspace import Workspace

WILDCARD = {"", "0.0.0.0", "::"}
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
"""Shown in the page; all that is served from hidden folders (the asset store): its journals
and state are not. Every other kind is sandboxed, and an editor's file is a download."""
DOWNLOADS = {".fcpxml", ".xml", ".otio", ".aaf", ".edl", ".csv"}
LINKED = {"shots", AUDIO_DIR}
"""Episode folders the exports hard-link media into (``media/exports/timeline.py``)."""
COOKIE = "dramaforge_token"
SAME_ORIGIN = (
    "default-src 'self'; img-src 'self' data:; media-src 'self'; style-src 'self' 'unsafe-inline'"
)
POLICY = f"{SAME_ORIGIN}; frame-ancestors 'none'; form-action 'self'"
SANDBOX = f"sandbox; {SAME_ORIGIN}"
BODY_LIMIT = 4 * 1024 * 1024
"""Bytes a form post may carry: a pasted script is a few hundred KB at most."""
BODY_SECONDS = 30.0
"""A request body must arrive within this; a client that trickles it is answered 408."""
NAME_BYTES = 255
"""Longest file name a path segment may have (the file systems' limit)."""


def _ip(name: str) -> ipaddress.IPv4Address | ipaddress.IPv6Address | None:
    try:
        return ipaddress.ip_address(name.strip("[]"))
    except ValueError:
        return None


def is_loopback(host: str) -> bool:
    """Whether binding to ``host`` keeps the studio on this machine."""
    address = _ip(host)
    return host == "localhost" or (address is not None and address.is_loopback)


@dataclass(frozen=True)
class Hosts:
    """The ``Host`` names a request may use: exactly those of the bound address."""

    names: frozenset[str]
    any_address: bool = False
    """Bound to every interface: any IP literal is this machine (a literal cannot be rebound)."""

    def allow(self, header: str) -> bool:
        name = _hostname(header).lower()
        return name in self.names or (self.any_address and _ip(name) is not None)


def hosts_for(bound: str) -> Hosts:
    """What a browser may call a server bound to ``bound``: its address as typed, the names
    that resolve to it on this machine (``localhost`` for loopback), nothing that merely starts
    like one."""
    bound = bound.lower().strip("[]")
    address = _ip(bound)
    here = {socket.gethostname().lower()} - {""}  # no DNS lookup (getfqdn) at start
    if bound in WILDCARD:
        return Hosts(frozenset({"localhost", "127.0.0.1", "[::1]"} | here), any_address=True)
    if address is None:
        if bound == "localhost":
            return Hosts(frozenset({"localhost", "127.0.0.1", "[::1]"}))
        return Hosts(frozenset({bound}))
    literal = f"[{address}]" if address.version == 6 else str(address)
    if address.is_loopback:
        local = {"localhost"} if str(address) in ("127.0.0.1", "::1") else set()
        return Hosts(frozenset({literal} | local))
    return Hosts(frozenset({literal} | here))


def _hostname(header: str) -> str:
    if header.startswith("["):
        return header.split("]")[0] + "]"
    return header.rsplit(":", 1)[0] if header.count(":") == 1 else header


def _refusal(text: str, status: int) -> Response:
    return PlainTextResponse(text, status_code=status)


class Guard:
    """ASGI middleware: the bound ``Host`` only, same-origin writes, the token off loopback,
    and bounded request bodies."""

    def __init__(self, app: ASGIApp, *, token: str | None, hosts: Hosts) -> None:
        self.app = app
        self.token = token
        self.hosts = hosts

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
            # Trade the URL's token for a cookie, and drop it from the address bar; the
            # Location is a path on this server ("//evil.example/" would be another site).
            clean = request.url.remove_query_params("token")
            path = "/" + clean.path.lstrip("/\\")
            redirect = RedirectResponse(path + (f"?{clean.query}" if clean.query else ""))
            redirect.set_cookie(COOKIE, self.token, httponly=True, samesite="strict")
            await redirect(scope, receive, send)
            return
        if request.method not in ("GET", "HEAD"):
            body = await _read_body(receive)
            if isinstance(body, Response):
                await body(scope, receive, send)
                return
            receive = _replay(body, receive)
        await self.app(scope, receive, self._headers(send))

    @staticmethod
    def _headers(send: Send) -> Send:
        """Every answer says: load nothing from anywhere but here (the browser enforces what
        the studio promises); a workspace file that is not a picture, video or sound runs no
        script as the studio (it gets an origin of its own, so it cannot post to the studio)."""

        async def sending(message: Message) -> None:
            if message["type"] == "http.response.start":
                headers = MutableHeaders(scope=message)
                kind = headers.get("content-type", "").split("/")[0]
                sandboxed = headers.get("x-workspace-file") == "1" and kind not in MEDIA
                headers["Content-Security-Policy"] = SANDBOX if sandboxed else POLICY
                headers["X-Content-Type-Options"] = "nosniff"
                headers["Referrer-Policy"] = "no-referrer"
            await send(message)

        return sending

    def refuse(self, request: Request) -> Response | None:
        host = request.headers.get("host", "")
        if not self.hosts.allow(host):
            return _refusal(
                "this studio answers only to the address it was started on "
                f"({', '.join(sorted(self.hosts.names))}); not to {host!r}",
                403,
            )
        if self.token is not None:
            given = request.query_params.get("token") or request.cookies.get(COOKIE) or ""
            if not hmac.compare_digest(given.encode(), self.token.encode()):
                return _refusal(
                    "open the studio with the URL it printed at start (?token=...)", 403
                )
        if request.method not in ("GET", "HEAD"):
            origin = request.headers.get("origin")
            cross = request.headers.get("sec-fetch-site") in ("cross-site", "same-site")
            if cross or (origin is not None and origin.split("://", 1)[-1] != host):
                return _refusal("cross-origin request refused", 403)
        return None


async def _read_body(receive: Receive) -> bytes | Response:
    """The whole request body, or the refusal when it is too large or too slow to arrive."""
    chunks: list[bytes] = []
    size = 0
    with anyio.move_on_after(BODY_SECONDS) as waited:
        more = True
        while more:
            message = await receive()
            if message["type"] == "http.disconnect":
                return _refusal("the request ended early", 400)
            chunk = message.get("body", b"")
            size += len(chunk)
            if size > BODY_LIMIT:
                return _refusal(f"a request body may be at most {BODY_LIMIT} bytes", 413)
            chunks.append(chunk)
            more = message.get("more_body", False)
    if waited.cancelled_caught:
        return _refusal(f"the request body did not arrive within {BODY_SECONDS:.0f} s", 408)
    return b"".join(chunks)


def _replay(body: bytes, receive: Receive) -> Receive:
    """A ``receive`` that hands the app the body already read, then waits on the client."""
    sent = False

    async def replaying() -> Message:
        nonlocal sent
        if not sent:
            sent = True
            return {"type": "http.request", "body": body, "more_body": False}
        return await receive()

    return replaying


def _bad_path(given: str) -> bool:
    return "\x00" in given or any(len(p.encode()) > NAME_BYTES for p in given.split("/"))


def workspace_file(workspace: Workspace, given: str) -> Response:
    """A file inside the workspace, of a kind the studio shows; 404 for anything else."""
    if _bad_path(given):
        return _refusal("not a file name", 400)
    try:
        path = workspace.inside(given)
    except WorkspaceError:
        return _refusal("not found", 404)
    suffix = path.suffix.lower()
    kind = SERVED.get(suffix)
    parts = path.relative_to(workspace.root).parts
    hidden = any(part.startswith(".") for part in parts)
    media = kind is not None and kind.split("/")[0] in MEDIA
    if kind is None or not path.is_file() or (hidden and not media):
        return _refusal("not found", 404)
    if path.stat().st_nlink > 1 and not (media and LINKED & set(parts[:-1])):
        # Exports hard-link takes and sound from the asset store into an episode's shots/ and
        # audio/; any other hard link may be a file from outside under a name inside.
        return _refusal("not found", 404)
    headers = {"Cache-Control": "no-cache", "X-Workspace-File": "1"}
    if suffix in DOWNLOADS:
        return FileResponse(
            path,
            media_type=kind,
            headers=headers,
            filename=path.name,
            content_disposition_type="attachment",
        )
    return FileResponse(path, media_type=kind, headers=headers)


def package_file(path: Path, media_type: str) -> Response:
    """A file shipped with the package (the CJK font): cached, it never changes in a version."""
    return FileResponse(
        path, media_type=media_type, headers={"Cache-Control": "public, max-age=604800"}
    )
