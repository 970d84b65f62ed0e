"""A fake DashScope on 127.0.0.1 speaking the real paths and shapes, with scripted faults.

Paths (under ``/api/v1``): async submits to ``services/aigc/text2image/image-synthesis`` and
``services/aigc/video-generation/video-synthesis`` (``X-DashScope-Async: enable`` required),
``GET tasks/{id}``, ``GET tasks`` (the task list, in the real reply's shape: ``data`` items
with ``task_id``, ``model_name``, ``status``, ``gmt_create`` in ms..., paged with ``total_page``;
times in the query are read as Beijing time and may span 24 hours at most), synchronous
Qwen-TTS at ``services/aigc/multimodal-generation/generation``, and ``/files/...`` for results
(real PNG, MP4 and WAV made with Pillow and the project's ffmpeg).

Lip-sync (``wan2.2-s2v``, its ``wan2.2-s2v-detect`` check, ``videoretalk``) is in
``dashscope_lipsync``; ``fault("detect", Fault("refuse"))`` makes the next check fail.

Voice design and enrollment (``services/audio/tts/customization``) are in
``dashscope_voices``; ``qwen3-tts-vd`` speech takes only voices designed for it.

Local inputs that must be URLs (``audio_url``) go through the temporary storage in
``dashscope_uploads`` (upload policy, OSS form post, ``oss://`` URLs).

``GET tasks/{id}`` answers as the real one: ``submit_time``/``scheduled_time``/``end_time``
(``YYYY-MM-DD hh:mm:ss.mmm``) and, once finished, the prompt as received (``orig_prompt`` and
``actual_prompt``: top level for video, per result for images).

The task list lags like the real one: a task shows in ``GET tasks`` only ``list_lag`` seconds
after it was created, by the fake's own clock (``now()``), which a test moves on with
``advance_clock(seconds)`` instead of sleeping.

Faults are queued per endpoint (``submit``, ``tts``, ``poll``, ``list``, ``download``,
``customize``) and each
request consumes the first one queued for its endpoint::

    server.fault("submit", Fault("status", status=429, code="Throttling.RateQuota", retry_after=1))
    server.fault("submit", Fault("drop"))       # task created, connection closed, no reply
    server.fault("submit", Fault("hold"))       # task created, reply held until release()
    server.fault("submit", Fault("fail", code="InternalError.Algo"))  # task ends FAILED
    server.fault("download", Fault("expired"), Fault("truncated"))
"""

from __future__ import annotations

import base64
import contextlib
import io
import json
import socket
import threading
import time
import uuid
import wave
from collections import Counter
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs, urlparse

from tests.fakes import dashscope_lipsync as lipsync
from tests.fakes.dashscope_media import Media, bad_reference, invalid
from tests.fakes.dashscope_tasks import (
    Chaos,
    Fault,
    Task,
    detail_reply,
    list_reply,
    params_of,
    succeed,
)
from tests.fakes.dashscope_uploads import UPLOAD_ROUTE, Uploads, oss_urls
from tests.fakes.dashscope_voices import CUSTOMIZATION_PATH, Voices

__all__ = ["Chaos", "FakeDashScope", "Fault", "Task"]

API = "/api/v1"
IMAGE_PATH = f"{API}/services/aigc/text2image/image-synthesis"
VIDEO_PATH = f"{API}/services/aigc/video-generation/video-synthesis"
EDIT_PATH = f"{API}/services/aigc/image2image/image-synthesis"
TTS_PATH = f"{API}/services/aigc/multimodal-generation/generation"


def image_route(path: str, body: dict[str, Any]) -> str:
    """Text-to-image takes no reference images; image-to-image needs them, on i2i models."""
    model = str(body.get("model") or "")
    images = (body.get("input") or {}).get("images")
    if path == EDIT_PATH:
        if "-i2i" not in model:
            return f"model {model} does not support image2image"
        if not images or not isinstance(images, list):
            return "input.images is required"
        return ""
    if "-i2i" in model:
        return f"model {model} does not support text2image"
    return f"input.images is not supported by {model}" if images is not None else ""


class FakeDashScope:
    def __init__(self, api_key: str = "sk-fake-test-key") -> None:
        self.api_key = api_key
        self.running_polls = 0
        """Polls for which each new task answers RUNNING before it finishes."""
        self.submits: Counter[str] = Counter()
        self.tts_calls: Counter[str] = Counter()
        self.streamed = 0
        """Speech calls answered as a stream (``X-DashScope-SSE: enable``)."""
        self.detects = 0
        """``wan2.2-s2v-detect`` checks answered."""
        self.polls: Counter[str] = Counter()
        self.lists = 0
        """Task-list requests answered."""
        self.list_lag = 0.0
        """Seconds after creation before a task shows in the task list."""
        self._clock_offset = 0.0
        self.chaos: Chaos | None = None
        """Random faults for requests that find none queued."""
        self._downloaded: set[str] = set()
        self.max_in_flight: Counter[str] = Counter()
        self.tasks: dict[str, Task] = {}
        self.bodies: list[dict[str, Any]] = []
        self._faults: dict[str, list[Fault]] = {}
        self._in_flight: Counter[str] = Counter()
        self._files: dict[str, tuple[str, dict[str, Any]]] = {}
        self._cache: dict[str, bytes] = {}
        self._lock = threading.Lock()
        self._released = threading.Event()
        self._media = Media()
        self.uploads = Uploads()
        self.voices = Voices()
        """Voices designed and cloned (``services/audio/tts/customization``)."""
        """Temporary storage: what was uploaded, under which key, for which model."""
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

    def next_fault(self, endpoint: str, body: dict[str, Any] | None = None) -> Fault | None:
        """The first queued fault for ``endpoint`` that this request meets (see Fault.when)."""
        text = json.dumps(body, ensure_ascii=False) if body is not None else ""
        with self._lock:
            queue = self._faults.get(endpoint) or []
            for i, fault in enumerate(queue):
                if not fault.when or fault.when in text:
                    return queue.pop(i)
        return self.chaos.draw(endpoint) if self.chaos is not None else None

    def first_download(self, token: str) -> bool:
        with self._lock:
            fresh = token not in self._downloaded
            self._downloaded.add(token)
            return fresh

    def now(self) -> float:
        """The fake's clock: real time, moved on by ``advance_clock``."""
        return time.time() + self._clock_offset

    def advance_clock(self, seconds: float) -> None:
        self._clock_offset += seconds

    def release(self) -> None:
        """Let held submits go on (their connections are closed without a reply)."""
        self._released.set()

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
            task.started = task.started or time.time()
            if task.polls_left > 0:
                task.polls_left -= 1
                task.status = "RUNNING"
                return
            task.ended = time.time()
            self._in_flight[task.model] -= 1
            if task.fail is not None:
                task.status = "FAILED"
                task.output = {"code": task.fail.code, "message": task.fail.message}
                return
            token = uuid.uuid4().hex
            if task.kind == "lipsync":
                result = task.result or {}
                self._files[token] = ("lipsync", result)
                succeed(task, f"{self.url}/files/{token}")
                task.output = lipsync.output_of(task.model, f"{self.url}/files/{token}")
                task.usage = {"video_duration": result.get("duration", 5.0), "video_count": 1}
                return
            self._files[token] = ("png" if task.kind == "image" else "mp4", params_of(task))
            succeed(task, f"{self.url}/files/{token}")

    def task_json(self, task: Task) -> dict[str, Any]:
        return detail_reply(task)

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
        data = self._media.make(*entry)
        with self._lock:
            self._cache[token] = data
        return data

    # -- task list --------------------------------------------------------------------------

    def list_reply(self, query: dict[str, list[str]]) -> tuple[int, dict[str, Any]]:
        """``GET /api/v1/tasks`` as DashScope answers it (status, body)."""
        with self._lock:
            self.lists += 1
            shown = self.now() - self.list_lag
            tasks = [t for t in self.tasks.values() if t.created <= shown]
        return list_reply(tasks, query)


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

        def _gateway(self, status: int) -> None:
            """A proxy in front of the service gave up: its own bare page, no DashScope body
            (the task behind it was created all the same)."""
            page = (f"<html><head><title>{status} Bad Gateway</title></head><body><center>"
                    f"<h1>{status} Bad Gateway</h1></center><hr><center>Tengine</center>"
                    "</body></html>").encode()  # fmt: skip
            self.send_response(status)
            self.send_header("Content-Type", "text/html")
            self.send_header("Content-Length", str(len(page)))
            self.end_headers()
            self.wfile.write(page)

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
            if path == UPLOAD_ROUTE:  # OSS: signed by the policy, no DashScope key
                status, error = fake.uploads.post(self.headers.get("Content-Type", ""), raw)
                self.send_response(status)
                self.send_header("Content-Length", str(len(error)))
                self.end_headers()
                self.wfile.write(error.encode())
                return
            if not self._authorized():
                return
            try:
                body = json.loads(raw)
            except ValueError:
                self._error(400, "InvalidParameter", "body is not JSON", None)
                return
            fake.bodies.append(body)
            if path in (IMAGE_PATH, EDIT_PATH) and (problem := image_route(path, body)):
                self._error(400, "InvalidParameter", problem, None)
            elif path == lipsync.LIPSYNC_PATH:
                self._submit("lipsync", body)
            elif path == lipsync.DETECT_PATH:
                self._detect(body)
            elif path in (IMAGE_PATH, VIDEO_PATH, EDIT_PATH):
                self._submit("video" if path == VIDEO_PATH else "image", body)
            elif path == TTS_PATH:
                self._tts(body)
            elif path == CUSTOMIZATION_PATH:
                self._customize(body)
            else:
                self._error(404, "NotFound", f"no route {path}", None)

        def _submit(self, kind: str, body: dict[str, Any]) -> None:
            images = (body.get("input") or {}).get("images") or []
            model = str(body.get("model"))
            if any(fake.uploads.resolve(str(u), model) is None for u in images):
                self._error(400, "InvalidParameter", "input.images: url error", None)
                return
            for url in images:
                if problem := bad_reference(fake.uploads.resolve(str(url), model) or b""):
                    self._error(400, "InvalidParameter", problem, None)
                    return
            # A slow submit is slow *after* the task exists, as on the real service, where
            # a client that gives up waiting may already have paid.
            fault = fake.next_fault("submit", body)
            if fault is not None and fault.kind == "status":
                self._error(fault.status, fault.code, fault.message, fault.retry_after)
                return
            if self.headers.get("X-DashScope-Async") != "enable":
                self._error(403, "AccessDenied", "current user api does not support "
                            "synchronous calls", None)  # fmt: skip
                return
            model = str(body.get("model"))
            urls = oss_urls(body)
            if urls and self.headers.get("X-DashScope-OssResourceResolve") != "enable":
                self._error(400, "InvalidParameter", "url error, please check url!", None)
                return

            def resolve(url: str) -> bytes | None:
                return fake.uploads.resolve(url, model)

            if kind == "lipsync":
                problem = lipsync.invalid(body, resolve)
            else:
                problem = invalid(kind, body, resolve)
            if problem:
                self._error(400, "InvalidParameter", problem, None)
                return
            task = fake.create_task(kind, body, fault if fault and fault.kind == "fail" else None)
            if kind == "lipsync":
                task.result = lipsync.result_of(body, resolve)
            audio = str((body.get("input") or {}).get("audio_url") or "")
            task.audio = fake.uploads.resolve(audio, model) if audio in urls else None
            if fault is not None and fault.kind == "hold":
                fake._released.wait(timeout=60)
            if fault is not None and fault.kind in ("drop", "hold"):
                self._drop()
                return
            if fault is not None and fault.kind == "gateway":
                self._gateway(fault.status)
                return
            if fault is not None and fault.kind == "slow":
                time.sleep(fault.delay)
            reply = {
                "request_id": task.request_id,
                "output": {"task_id": task.task_id, "task_status": "PENDING"},
            }
            self._json(200, reply)

        def _detect(self, body: dict[str, Any]) -> None:
            fault = self._pre("detect")
            if fault is not None and fault.kind == "status":
                return
            model = str(body.get("model"))
            if oss_urls(body) and self.headers.get("X-DashScope-OssResourceResolve") != "enable":
                self._error(400, "InvalidParameter", "url error, please check url!", None)
                return
            status, reply = lipsync.detect(
                body,
                lambda url: fake.uploads.resolve(url, model),
                refuse=fault is not None and fault.kind == "refuse",
            )
            fake.detects += status == 200
            if status != 200:
                self._error(status, reply["code"], reply["message"], None)
                return
            self._json(200, {"request_id": uuid.uuid4().hex, **reply})

        def _customize(self, body: dict[str, Any]) -> None:
            if self._pre("customize") is not None:
                return  # a status fault: e.g. an account without voice design (403)
            model = str(body.get("model"))
            status, reply = fake.voices.handle(
                body,
                lambda url: fake.uploads.resolve(url, model),
                self.headers.get("X-DashScope-OssResourceResolve") == "enable",
            )
            if status != 200:
                self._error(status, reply["code"], reply["message"], None)
                return
            self._json(200, {"request_id": uuid.uuid4().hex, **reply})

        def _tts(self, body: dict[str, Any]) -> None:
            fault = self._pre("tts")
            if fault is not None and fault.kind == "status":
                return
            inputs = body.get("input") or {}
            if not inputs.get("text") or not inputs.get("voice"):
                self._error(400, "InvalidParameter", "input.text and input.voice required", None)
                return
            model = str(body.get("model"))
            if model.startswith("qwen3-tts-vd") and not fake.voices.speaks(
                model, str(inputs["voice"])
            ):
                self._error(400, "InvalidParameter", f"voice {inputs['voice']} not found", None)
                return
            fake.tts_calls[str(body.get("model"))] += 1
            url = fake.tts_file(str(inputs["text"]))
            if fault is not None and fault.kind == "drop":
                self._drop()
                return
            if self.headers.get("X-DashScope-SSE") == "enable":
                self._tts_stream(url, len(str(inputs["text"])), fault)
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

        def _tts_stream(self, url: str, characters: int, fault: Fault | None) -> None:
            """The same call streamed (``X-DashScope-SSE: enable``): events of base64 PCM
            (24 kHz, 16-bit, mono), the last with ``finish_reason`` stop and the file's URL.
            A ``cut`` fault closes the stream after its first event."""
            fake.streamed += 1
            with wave.open(io.BytesIO(fake.media(url.rsplit("/", 1)[-1]) or b""), "rb") as w:
                pcm = w.readframes(w.getnframes())
            self.send_response(200)
            self.send_header("Content-Type", "text/event-stream")
            self.end_headers()
            self.close_connection = True
            expires = int(time.time()) + 86400
            chunks = [pcm[i : i + 9600] for i in range(0, len(pcm), 9600)]
            for n, chunk in enumerate(chunks, 1):
                audio = {"data": base64.b64encode(chunk).decode(), "id": "a", "expires_at": expires}
                self._event(n, {"output": {"finish_reason": "null", "audio": audio}})
                if fault is not None and fault.kind == "cut":
                    self._drop()
                    return
            audio = {"url": url, "data": "", "id": "a", "expires_at": expires}
            self._event(len(chunks) + 1, {"output": {"finish_reason": "stop", "audio": audio},
                                          "usage": {"characters": characters}})  # fmt: skip

        def _event(self, n: int, data: dict[str, Any]) -> None:
            body = json.dumps({"request_id": uuid.uuid4().hex, **data})
            self.wfile.write(f"id:{n}\nevent:result\n:HTTP_STATUS/200\ndata:{body}\n\n".encode())
            self.wfile.flush()

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
            elif path == f"{API}/uploads":
                query = parse_qs(parsed.query)
                if query.get("action") != ["getPolicy"] or not query.get("model"):
                    self._error(400, "InvalidParameter", "action=getPolicy&model= needed", None)
                    return
                policy = fake.uploads.policy(query["model"][0], fake.url)
                self._json(200, {"request_id": uuid.uuid4().hex, "data": policy})
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
            status, reply = fake.list_reply(query)
            if fault is not None and fault.kind == "lag":  # not showing the newest tasks yet
                reply |= {"data": [], "total": 0, "total_page": 1}
            self._json(status, reply)

        def _download(self, token: str) -> None:
            fault = self._pre("download")
            if fake.chaos is not None and not fake.first_download(token):
                fault = None  # random faults spoil a file's first download only
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
