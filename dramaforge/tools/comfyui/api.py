"""ComfyUI's HTTP and websocket API, as its ``server.py`` serves it.

``POST /prompt`` (``prompt``, ``client_id``, a client-chosen ``prompt_id``) answers
``{"prompt_id", "number", "node_errors"}`` or 400 with ``error`` and ``node_errors``;
``GET /queue`` lists ``queue_running``/``queue_pending`` items ``[number, prompt_id, ...]``;
``GET /history/{id}`` holds a finished prompt's ``outputs`` per node and its ``status``
(``status_str``, ``completed``, ``messages``), written just after ``execution_success``;
``GET /view`` serves a file by ``filename``/``subfolder``/``type``; ``POST /upload/image``
takes any input file (images, audio, video) as multipart ``image``; ``POST /queue
{"delete": [...]}`` and ``POST /interrupt {"prompt_id"}`` cancel; ``/ws?clientId=`` streams
``status``, ``execution_start``, ``executing``, ``progress``, ``executed``,
``execution_success``, ``execution_error`` and ``execution_interrupted`` to the client that
queued the prompt.
"""

from __future__ import annotations

import json
import mimetypes
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import httpx

from dramaforge.config import without_password
from dramaforge.errors import ProviderError


class Unreachable(ProviderError):
    """The server did not answer (down, restarting, wrong URL)."""

    def __init__(self, message: str) -> None:
        super().__init__(message, retryable=True)


class Refused(ProviderError):
    """``POST /prompt`` answered 400: the workflow failed ComfyUI's validation."""

    def __init__(self, message: str, body: dict[str, Any]) -> None:
        super().__init__(message)
        self.body = body


class Client:
    """One ComfyUI server."""

    def __init__(self, url: str, *, timeout: float = 30.0) -> None:
        self.url = url.rstrip("/")
        self.shown = without_password(self.url) or self.url
        self.timeout = timeout
        self._http = httpx.Client(base_url=self.url, timeout=timeout, follow_redirects=False)
        self._object_info: dict[str, Any] | None = None

    def __repr__(self) -> str:
        return f"Client({self.shown!r})"

    def close(self) -> None:
        self._http.close()

    @contextmanager
    def _answering(self, what: str) -> Iterator[None]:
        try:
            yield
        except httpx.TransportError as err:
            raise Unreachable(
                f"ComfyUI at {self.shown} did not answer while {what} ({type(err).__name__}: "
                f"{err}); is it running? ([comfyui] url)"
            ) from None

    def _get(self, path: str, what: str, **params: str) -> httpx.Response:
        with self._answering(what):
            reply = self._http.get(path, params=params or None)
        if reply.status_code >= 500:
            raise Unreachable(f"ComfyUI at {self.shown} answered {reply.status_code} {what}")
        return reply

    def _json(self, path: str, what: str) -> Any:
        reply = self._get(path, what)
        if reply.status_code != 200:
            raise ProviderError(f"ComfyUI at {self.shown} answered {reply.status_code} {what}")
        try:
            return reply.json()
        except ValueError:
            raise ProviderError(
                f"ComfyUI at {self.shown} sent something that is not JSON {what}; is this "
                "URL a ComfyUI server?"
            ) from None

    def _post(self, path: str, what: str, body: dict[str, Any]) -> httpx.Response:
        with self._answering(what):
            return self._http.post(path, json=body)

    # -- the routes ---------------------------------------------------------------------

    def system_stats(self) -> dict[str, Any]:
        return dict(self._json("/system_stats", "reading /system_stats"))

    def object_info(self) -> dict[str, Any]:
        """Every node class the server has, with its inputs (kept: it does not change)."""
        if self._object_info is None:
            self._object_info = dict(self._json("/object_info", "listing node classes"))
        return self._object_info

    def queue(self) -> tuple[list[str], list[str]]:
        """Prompt ids running and pending."""
        data = self._json("/queue", "reading the queue")
        return _ids(data.get("queue_running")), _ids(data.get("queue_pending"))

    def history(self, prompt_id: str) -> dict[str, Any] | None:
        """The finished prompt's history entry, or None while the server does not have one."""
        data = self._json(f"/history/{prompt_id}", "reading the history")
        entry = data.get(prompt_id) if isinstance(data, dict) else None
        return entry if isinstance(entry, dict) else None

    def upload(self, path: Path, name: str) -> str:
        """Put ``path`` in the server's input folder as ``name``; the name LoadImage takes."""
        mime = mimetypes.guess_type(name)[0] or "application/octet-stream"
        with self._answering(f"uploading {path.name}"), path.open("rb") as fh:
            reply = self._http.post(
                "/upload/image",
                files={"image": (name, fh, mime)},
                data={"type": "input", "overwrite": "true"},
            )
        if reply.status_code != 200:
            raise ProviderError(
                f"ComfyUI at {self.shown} refused the upload of {path.name} "
                f"({reply.status_code}: {reply.text[:200]})"
            )
        try:
            data = reply.json()
            name, sub = str(data["name"]), str(data.get("subfolder") or "")
        except (ValueError, KeyError, TypeError, AttributeError):
            raise ProviderError(
                f"ComfyUI at {self.shown} answered the upload of {path.name} without a file "
                "name; is this URL a ComfyUI server?"
            ) from None
        return f"{sub}/{name}" if sub else name

    def submit(
        self, graph: dict[str, Any], prompt_id: str, client_id: str
    ) -> tuple[str, dict[str, Any]]:
        """Queue ``graph`` as ``prompt_id``: the id the server gave it (an old ComfyUI picks
        its own) and the ``node_errors`` of outputs it will not run (it queues a prompt
        whose other outputs are good). Refused carries ComfyUI's reasons."""
        body = {"prompt": graph, "client_id": client_id, "prompt_id": prompt_id}
        reply = self._post("/prompt", "queueing a prompt", body)
        if reply.status_code == 200:
            try:
                data = reply.json()
                errors = data.get("node_errors") or {}
                return str(data.get("prompt_id") or prompt_id), dict(errors)
            except (ValueError, AttributeError, TypeError):
                return prompt_id, {}
        try:
            data = reply.json()
        except ValueError:
            data = {"error": {"message": reply.text[:300]}}
        if reply.status_code >= 500:
            raise Unreachable(f"ComfyUI at {self.shown} answered {reply.status_code} to a prompt")
        raise Refused(f"ComfyUI at {self.shown} refused the prompt", data)

    def download(self, ref: dict[str, Any], dest: Path) -> None:
        params = {
            "filename": str(ref.get("filename", "")),
            "subfolder": str(ref.get("subfolder", "")),
            "type": str(ref.get("type", "output")),
        }
        what = f"downloading {params['filename']}"
        with self._answering(what), self._http.stream("GET", "/view", params=params) as reply:
            if reply.status_code != 200:
                raise ProviderError(
                    f"ComfyUI at {self.shown} answered {reply.status_code} {what}", retryable=True
                )
            with dest.open("wb") as fh:
                for chunk in reply.iter_bytes():
                    fh.write(chunk)

    def cancel(self, prompt_id: str) -> None:
        """Take ``prompt_id`` out of the queue, and stop it if it is the one running (only
        then: an older ComfyUI interrupts whatever runs, whoever queued it)."""
        self._post("/queue", "cancelling a queued prompt", {"delete": [prompt_id]})
        running, _ = self.queue()
        if prompt_id in running:
            self._post("/interrupt", "interrupting a prompt", {"prompt_id": prompt_id})

    def ws_url(self, client_id: str) -> str:
        base = self.url.replace("https://", "wss://", 1).replace("http://", "ws://", 1)
        return f"{base}/ws?clientId={client_id}"


def _ids(items: Any) -> list[str]:
    """Prompt ids of queue items (``[number, prompt_id, prompt, extra_data, outputs]``)."""
    found = []
    for item in items or []:
        if isinstance(item, list | tuple) and len(item) > 1:
            found.append(str(item[1]))
    return found


def message(raw: str | bytes) -> dict[str, Any] | None:
    """A websocket text message as ``{"type", "data"}``; binary previews are None."""
    if isinstance(raw, bytes):
        return None
    try:
        data = json.loads(raw)
    except ValueError:
        return None
    return data if isinstance(data, dict) and "type" in data else None
