"""A fake DashScope on 127.0.0.1 speaking the real paths and shapes, with scripted faults.

Paths (under ``/api/v1``): async submits to ``services/aigc/text2image/image-synthesis`` and
``services/aigc/video-generation/video-synthesis`` (``X-DashScope-Async: enable`` required),
``GET tasks/{id}``, ``GET tasks`` (the task list), synchronous Qwen-TTS at
``services/aigc/multimodal-generation/generation``, and ``/files/...`` for results (real PNG,
MP4 and WAV made with Pillow and the project's ffmpeg).

Faults are queued per endpoint (``submit``, ``tts``, ``poll``, ``list``, ``download``) and each
request consumes the first one queued for its endpoint::

    server.fault("submit", Fault("status", status=429, code="Throttling.RateQuota", retry_after=1))
    server.fault("submit", Fault("drop"))       # task created, connection closed, no reply
    server.fault("submit", Fault("fail", code="InternalError.Algo"))  # task ends FAILED
    server.fault("download", Fault("expired"), Fault("truncated"))
"""

from __future__ import annotations

import contextlib
import json
import socket
import tempfile
import threading
import time
import uuid
from collections import Counter
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from io import BytesIO
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlparse

from PIL import Image, ImageDraw

from dramaforge.tools.media.ffmpeg import run_ffmpeg

API = "/api/v1"
IMAGE_PATH = f"{API}/services/aigc/text2image/image-synthesis"
VIDEO_PATH = f"{API}/services/aigc/video-generation/video-synthesis"
TTS_PATH = f"{API}/services/aigc/multimodal-generation/generation"
QWEN_IMAGE_SIZES = {"1664*928", "1472*1140", "1328*1328", "1140*1472", "928*1664"}


@dataclass
class Fault:
    """One scripted misbehaviour.

    kinds: ``status`` (answer ``status`` with a DashScope error body), ``slow`` (sleep ``delay``
    then behave), ``drop`` (do the work, then close the connection without a reply),
    ``fail`` (submit accepted; the task ends FAILED with ``code``/``message``),
    ``expired`` (download answers 403), ``truncated`` (download sends half the bytes).
    """

    kind: str
    status: int = 500
    code: str = "InternalError"
    message: str = "fault injected by the fake"
    retry_after: float | None = None
    delay: float = 0.0


@dataclass
class Task:
    task_id: str
    model: str
    kind: str  # image | video
    body: dict[str, Any]
    created: float
    polls_left: int
    fail: Fault | None = None
    status: str = "PENDING"
    output: dict[str, Any] = field(default_factory=dict)
    usage: dict[str, Any] = field(default_factory=dict)


class FakeDashScope:
    def __init__(self, api_key: str = "sk-fake-test-key") -> None:
        self.api_key = api_key
        self.running_polls = 0
        """Polls for which each new task answers RUNNING before it finishes."""
        self.submits: Counter[str] = Counter()
        self.tts_calls: Counter[str] = Counter()
        self.polls: Counter[str] = Counter()
        self.max_in_flight: Counter[str] = Counter()
        self.tasks: dict[str, Task] = {}
        self.bodies: list[dict[str, Any]] = []
        self._faults: dict[str, list[Fault]] = {}
        self._in_flight: Counter[str] = Counter()
        self._files: dict[str, tuple[str, dict[str, Any]]] = {}
        self._cache: dict[str, bytes] = {}
        self._lock = threading.Lock()
        self._dir = Path(tempfile.mkdtemp(prefix="fake-dashscope-"))
        self._server = ThreadingHTTPServer(("127.0.0.1", 0), _handler(self))
        self._server.daemon_threads = True
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)

    @property
    def url(self) -> str:
        host, port = self._server.server_address[:2]
        return f"http://{host!s}:{port}"

    def start(self) -> FakeDashScope:
        self._thread.start()
        return self

    def stop(self) -> None:
        self._server.shutdown()
        self._server.server_close()

    def __enter__(self) -> FakeDashScope:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    def fault(self, endpoint: str, *faults: Fault) -> None:
        with self._lock:
            self._faults.setdefault(endpoint, []).extend(faults)

    def next_fault(self, endpoint: str) -> Fault | None:
        with self._lock:
            queue = self._faults.get(endpoint)
            return queue.pop(0) if queue else None

    # -- task life ------------------------------------------------------------------------

    def create_task(self, kind: str, body: dict[str, Any], fail: Fault | None) -> Task:
        model = str(body["model"])
        task = Task(
            task_id=str(uuid.uuid4()),
            model=model,
            kind=kind,
            body=body,
            created=time.time(),
            polls_left=self.running_polls,
            fail=fail,
        )
        with self._lock:
            self.tasks[task.task_id] = task
            self.submits[model] += 1
            self._in_flight[model] += 1
            self.max_in_flight[model] = max(self.max_in_flight[model], self._in_flight[model])
        return task

    def advance(self, task: Task) -> None:
        with self._lock:
            self.polls[task.task_id] += 1
            if task.status in ("SUCCEEDED", "FAILED"):
                return
            if task.polls_left > 0:
                task.polls_left -= 1
                task.status = "RUNNING"
                return
            self._in_flight[task.model] -= 1
            if task.fail is not None:
                task.status = "FAILED"
                task.output = {"code": task.fail.code, "message": task.fail.message}
                return
            task.status = "SUCCEEDED"
            params = task.body.get("parameters") or {}
            token = uuid.uuid4().hex
            url = f"{self.url}/files/{token}"
            if task.kind == "image":
                self._files[token] = ("png", params)
                task.output = {"results": [{"url": url}]}
                task.usage = {"image_count": 1}
            else:
                self._files[token] = ("mp4", params)
                task.output = {"video_url": url}
                task.usage = {"video_duration": int(params.get("duration", 5)), "video_count": 1}

    def task_json(self, task: Task) -> dict[str, Any]:
        output = {"task_id": task.task_id, "task_status": task.status, **task.output}
        reply: dict[str, Any] = {"request_id": uuid.uuid4().hex, "output": output}
        if task.usage:
            reply["usage"] = task.usage
        return reply

    def tts_file(self, text: str) -> str:
        token = uuid.uuid4().hex
        self._files[token] = ("wav", {"seconds": max(0.5, 0.08 * len(text))})
        return f"{self.url}/files/{token}"

    # -- media ----------------------------------------------------------------------------

    def media(self, token: str) -> bytes | None:
        with self._lock:
            if token in self._cache:
                return self._cache[token]
            entry = self._files.get(token)
        if entry is None:
            return None
        kind, params = entry
        data: bytes = getattr(self, f"_{kind}")(params)
        with self._lock:
            self._cache[token] = data
        return data

    def _png(self, params: dict[str, Any]) -> bytes:
        w, h = (int(x) for x in str(params.get("size", "1024*1024")).split("*"))
        img = Image.new("RGB", (w, h), (40, 60, 90))
        ImageDraw.Draw(img).ellipse((w // 4, h // 4, 3 * w // 4, 3 * h // 4), fill=(220, 180, 60))
        buf = BytesIO()
        img.save(buf, format="PNG")
        return buf.getvalue()

    def _mp4(self, params: dict[str, Any]) -> bytes:
        # Small frames keep the tests fast; a real clip has the tier's size and a sound track.
        seconds = int(params.get("duration", 5))
        out = self._dir / f"{uuid.uuid4().hex}.mp4"
        run_ffmpeg(
            [
                "-f", "lavfi", "-i", f"testsrc2=size=240x426:rate=24:duration={seconds}",
                "-f", "lavfi", "-i", f"sine=frequency=330:duration={seconds}",
                "-c:v", "libx264", "-preset", "ultrafast", "-pix_fmt", "yuv420p",
                "-c:a", "aac", "-shortest", out,
            ],
            what="making the fake's video",
        )  # fmt: skip
        return out.read_bytes()

    def _wav(self, params: dict[str, Any]) -> bytes:
        out = self._dir / f"{uuid.uuid4().hex}.wav"
        run_ffmpeg(
            [
                "-f", "lavfi", "-i", f"sine=frequency=220:duration={params['seconds']:.2f}",
                "-ar", "24000", "-ac", "1", "-c:a", "pcm_s16le", out,
            ],
            what="making the fake's speech",
        )  # fmt: skip
        return out.read_bytes()


def _handler(fake: FakeDashScope) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def log_message(self, format: str, *args: Any) -> None:
            pass

        # -- replies --------------------------------------------------------------------

        def _json(self, status: int, body: Any, headers: dict[str, str] | None = None) -> None:
            data = json.dumps(body).encode()
            self.send_response(status)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(data)))
            for k, v in (headers or {}).items():
                self.send_header(k, v)
            self.end_headers()
            self.wfile.write(data)

        def _error(self, status: int, code: str, message: str, retry_after: float | None) -> None:
            headers = {} if retry_after is None else {"Retry-After": f"{retry_after:g}"}
            body = {"request_id": uuid.uuid4().hex, "code": code, "message": message}
            self._json(status, body, headers)

        def _drop(self) -> None:
            self.close_connection = True
            with contextlib.suppress(OSError):
                self.connection.shutdown(socket.SHUT_RDWR)

        def _authorized(self) -> bool:
            if self.headers.get("Authorization") == f"Bearer {fake.api_key}":
                return True
            self._error(401, "InvalidApiKey", "Invalid API-key provided.", None)
            return False

        def _pre(self, endpoint: str) -> Fault | None:
            """Apply the queued fault's ``slow``/``status`` part; return a fault left to act."""
            fault = fake.next_fault(endpoint)
            if fault is None:
                return None
            if fault.kind == "slow":
                time.sleep(fault.delay)
                return None
            if fault.kind == "status":
                self._error(fault.status, fault.code, fault.message, fault.retry_after)
                return fault
            return fault

        # -- routes ---------------------------------------------------------------------

        def do_POST(self) -> None:
            length = int(self.headers.get("Content-Length") or 0)
            raw = self.rfile.read(length)
            path = urlparse(self.path).path
            if not self._authorized():
                return
            try:
                body = json.loads(raw)
            except ValueError:
                self._error(400, "InvalidParameter", "body is not JSON", None)
                return
            fake.bodies.append(body)
            if path in (IMAGE_PATH, VIDEO_PATH):
                self._submit("image" if path == IMAGE_PATH else "video", body)
            elif path == TTS_PATH:
                self._tts(body)
            else:
                self._error(404, "NotFound", f"no route {path}", None)

        def _submit(self, kind: str, body: dict[str, Any]) -> None:
            # A slow submit is slow *after* the task exists, as on the real service, where
            # a client that gives up waiting may already have paid.
            fault = fake.next_fault("submit")
            if fault is not None and fault.kind == "status":
                self._error(fault.status, fault.code, fault.message, fault.retry_after)
                return
            if self.headers.get("X-DashScope-Async") != "enable":
                self._error(403, "AccessDenied", "current user api does not support "
                            "synchronous calls", None)  # fmt: skip
                return
            problem = _invalid(kind, body)
            if problem:
                self._error(400, "InvalidParameter", problem, None)
                return
            task = fake.create_task(kind, body, fault if fault and fault.kind == "fail" else None)
            if fault is not None and fault.kind == "drop":
                self._drop()
                return
            if fault is not None and fault.kind == "slow":
                time.sleep(fault.delay)
            reply = {
                "request_id": uuid.uuid4().hex,
                "output": {"task_id": task.task_id, "task_status": "PENDING"},
            }
            self._json(200, reply)

        def _tts(self, body: dict[str, Any]) -> None:
            fault = self._pre("tts")
            if fault is not None and fault.kind == "status":
                return
            inputs = body.get("input") or {}
            if not inputs.get("text") or not inputs.get("voice"):
                self._error(400, "InvalidParameter", "input.text and input.voice required", None)
                return
            fake.tts_calls[str(body.get("model"))] += 1
            url = fake.tts_file(str(inputs["text"]))
            if fault is not None and fault.kind == "drop":
                self._drop()
                return
            reply = {
                "request_id": uuid.uuid4().hex,
                "output": {
                    "finish_reason": "stop",
                    "audio": {"url": url, "id": uuid.uuid4().hex, "data": "",
                              "expires_at": int(time.time()) + 86400},
                },
                "usage": {"characters": len(str(inputs["text"]))},
            }  # fmt: skip
            self._json(200, reply)

        def do_GET(self) -> None:
            parsed = urlparse(self.path)
            path = parsed.path
            if path.startswith("/files/"):
                self._download(path.removeprefix("/files/"))
                return
            if not self._authorized():
                return
            if path == f"{API}/tasks":
                self._list(parse_qs(parsed.query))
            elif path.startswith(f"{API}/tasks/"):
                self._poll(path.removeprefix(f"{API}/tasks/"))
            else:
                self._error(404, "NotFound", f"no route {path}", None)

        def _poll(self, task_id: str) -> None:
            fault = self._pre("poll")
            if fault is not None and fault.kind == "status":
                return
            if fault is not None and fault.kind == "drop":
                self._drop()
                return
            task = fake.tasks.get(task_id)
            if task is None:
                body = {"request_id": uuid.uuid4().hex,
                        "output": {"task_id": task_id, "task_status": "UNKNOWN"}}  # fmt: skip
                self._json(200, body)
                return
            fake.advance(task)
            self._json(200, fake.task_json(task))

        def _list(self, query: dict[str, list[str]]) -> None:
            fault = self._pre("list")
            if fault is not None and fault.kind == "status":
                return
            for name in ("start_time", "end_time"):
                value = query.get(name, [""])[0]
                if value and not (len(value) == 14 and value.isdigit()):
                    self._error(400, "InvalidParameter", f"{name} must be YYYYMMDDhhmmss", None)
                    return
            model = query.get("model_name", [None])[0]
            items = [
                {
                    "task_id": t.task_id,
                    "model_name": t.model,
                    "status": t.status,
                    "gmt_create": int(t.created * 1000),
                    "region": "cn-beijing",
                }
                for t in fake.tasks.values()
                if model is None or t.model == model
            ]
            page_size = int(query.get("page_size", ["10"])[0])
            reply = {"request_id": uuid.uuid4().hex, "data": items[:page_size],
                     "total": len(items), "page_no": 1, "page_size": page_size}  # fmt: skip
            self._json(200, reply)

        def _download(self, token: str) -> None:
            fault = self._pre("download")
            if fault is not None and fault.kind == "status":
                return
            data = fake.media(token)
            if data is None or (fault is not None and fault.kind == "expired"):
                body = b"<Error><Code>AccessDenied</Code><Message>Request has expired.</Message>"
                self.send_response(403)
                self.send_header("Content-Type", "application/xml")
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)
                return
            self.send_response(200)
            self.send_header("Content-Type", "application/octet-stream")
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            if fault is not None and fault.kind == "truncated":
                self.wfile.write(data[: len(data) // 2])
                self.wfile.flush()
                self._drop()
                return
            self.wfile.write(data)

    return Handler


def _invalid(kind: str, body: dict[str, Any]) -> str:
    """What the real API would reject (a subset), or ''."""
    model = str(body.get("model") or "")
    inputs = body.get("input") or {}
    params = body.get("parameters") or {}
    if not model:
        return "model is required"
    if not inputs.get("prompt"):
        return "input.prompt is required"
    size = params.get("size", "1328*1328")
    if kind == "image" and model.startswith("qwen-image") and size not in QWEN_IMAGE_SIZES:
        return f"size {params.get('size')} is not supported by {model}"
    if kind == "video" and "i2v" in model:
        img = str(inputs.get("img_url") or "")
        if not img.startswith(("http://", "https://", "data:image/")):
            return "input.img_url must be a URL or a data:image/...;base64 URI"
        if params.get("resolution") not in (None, "480P", "720P", "1080P"):
            return "parameters.resolution must be 480P, 720P or 1080P"
    if kind == "video" and model.startswith("wan2.2") and params.get("duration", 5) != 5:
        return f"{model} renders 5 s only"
    return ""
