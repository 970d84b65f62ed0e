"""A fake CosyVoice on 127.0.0.1: DashScope's WebSocket speech protocol, with scripted faults.

``ws://127.0.0.1:<port>/api-ws/v1/inference``, ``Authorization: bearer <key>`` on the
handshake. The client sends ``run-task`` (``header``: action, task_id, ``streaming: duplex``;
``payload``: ``task_group: audio``, ``task: tts``, ``function: SpeechSynthesizer``, model,
``parameters`` with voice, format, sample_rate; ``input: {}``), waits for ``task-started``,
sends ``continue-task`` (``payload.input.text``) and ``finish-task``. The server answers
``result-generated`` events (sentence-begin, a sentence-synthesis event before each binary
audio frame, sentence-end), then ``task-finished`` with ``payload.usage.characters`` (CJK
characters count two), or ``task-failed`` with ``header.error_code``/``error_message``.

Faults, consumed one per session: ``reject`` (handshake answered 429), ``fail:<code>`` (the
task fails after ``run-task``), ``drop`` (the socket is cut after the first audio frame).
"""

from __future__ import annotations

import json
import threading
import uuid
from collections import Counter
from collections.abc import Callable
from http import HTTPStatus
from typing import Any

import numpy as np
from websockets.http11 import Request, Response
from websockets.sync.server import Server, ServerConnection, serve

PATH = "/api-ws/v1/inference"
VOICES = {"longxiaochun_v2", "longcheng_v2", "longwan_v2", "longshu_v2", "longhua_v2"}
FORMATS = {"pcm", "wav", "mp3"}
CHUNK = 4096


def billed(text: str) -> int:
    """CosyVoice's count: CJK characters are two, everything else one."""
    return sum(2 if "\u4e00" <= ch <= "\u9fff" else 1 for ch in text)


class FakeCosyVoice:
    def __init__(self, api_key: str = "sk-fake-test-key") -> None:
        self.api_key = api_key
        self.runs: Counter[str] = Counter()
        """Tasks started (``task-started`` sent), per model: what would be billed."""
        self.characters: Counter[str] = Counter()
        self.messages: list[dict[str, Any]] = []
        self.handshakes = 0
        self.enrolled: Callable[[str], bool] | None = None
        """When set, a ``cosyvoice-...`` voice must pass it (enrolled on the DashScope fake)."""
        self._faults: list[str] = []
        self._lock = threading.Lock()
        self._server: Server = serve(self._session, "127.0.0.1", 0, process_request=self._handshake)
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)

    @property
    def url(self) -> str:
        port = self._server.socket.getsockname()[1]
        return f"ws://127.0.0.1:{port}{PATH}"

    def __enter__(self) -> FakeCosyVoice:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._server.shutdown()

    def fault(self, *faults: str) -> None:
        with self._lock:
            self._faults.extend(faults)

    def _next_fault(self) -> str:
        with self._lock:
            return self._faults.pop(0) if self._faults else ""

    # -- protocol -------------------------------------------------------------------------

    def _handshake(self, connection: ServerConnection, request: Request) -> Response | None:
        self.handshakes += 1
        if request.path != PATH:
            return connection.respond(HTTPStatus.NOT_FOUND, "no such route\n")
        auth = request.headers.get("Authorization", "")
        scheme, _, key = auth.partition(" ")
        if scheme.lower() != "bearer" or key != self.api_key:
            return connection.respond(HTTPStatus.UNAUTHORIZED, "Invalid API-key provided.\n")
        with self._lock:
            if self._faults and self._faults[0] == "reject":
                self._faults.pop(0)
                return connection.respond(HTTPStatus.TOO_MANY_REQUESTS, "Throttling\n")
        return None

    def _session(self, ws: ServerConnection) -> None:
        start = self._receive(ws)
        header, payload = start.get("header") or {}, start.get("payload") or {}
        task_id = str(header.get("task_id") or "")
        problem = _invalid_start(header, payload)
        voice = str((payload.get("parameters") or {}).get("voice") or "")
        if not problem and self.enrolled and voice.startswith("cosyvoice-"):
            problem = "" if self.enrolled(voice) else f"voice {voice!r} does not exist"
        fault = self._next_fault()
        if problem or fault.startswith("fail:"):
            code = "InvalidParameter" if problem else fault.removeprefix("fail:")
            self._event(ws, task_id, "task-failed", error_code=code,
                        error_message=problem or "fault injected by the fake")  # fmt: skip
            return
        model, params = str(payload["model"]), payload["parameters"]
        with self._lock:
            self.runs[model] += 1
        self._event(ws, task_id, "task-started")
        text = ""
        while True:
            message = self._receive(ws)
            action = (message.get("header") or {}).get("action")
            if (message.get("header") or {}).get("task_id") != task_id:
                self._event(ws, task_id, "task-failed", error_code="InvalidParameter",
                            error_message="task_id does not match run-task")  # fmt: skip
                return
            if action == "continue-task":
                text += str(((message.get("payload") or {}).get("input") or {}).get("text", ""))
            elif action == "finish-task":
                break
        count = billed(text)
        with self._lock:
            self.characters[model] += count
        audio = _tone(max(0.5, 0.08 * len(text)), int(params["sample_rate"]))
        self._event(ws, task_id, "result-generated",
                    output={"type": "sentence-begin", "original_text": text})  # fmt: skip
        for n, at in enumerate(range(0, len(audio), CHUNK)):
            self._event(ws, task_id, "result-generated", output={"type": "sentence-synthesis"})
            ws.send(audio[at : at + CHUNK])
            if n == 0 and fault == "drop":
                ws.socket.close()  # cut, no close frame: the client sees the session break
                return
        self._event(ws, task_id, "result-generated",
                    output={"type": "sentence-end"}, usage={"characters": count})  # fmt: skip
        self._event(ws, task_id, "task-finished", usage={"characters": count})

    def _receive(self, ws: ServerConnection) -> dict[str, Any]:
        message: dict[str, Any] = json.loads(ws.recv(timeout=10))
        with self._lock:
            self.messages.append(message)
        return message

    def _event(self, ws: ServerConnection, task_id: str, event: str, **fields: Any) -> None:
        header: dict[str, Any] = {"task_id": task_id, "event": event, "attributes": {}}
        payload: dict[str, Any] = {}
        for name in ("error_code", "error_message"):
            if name in fields:
                header[name] = fields.pop(name)
        if "output" in fields:
            payload["output"] = {"sentence": {"index": 0, "words": []}, **fields.pop("output")}
        payload.update(fields)
        ws.send(json.dumps({"header": header, "payload": payload}))


def _invalid_start(header: dict[str, Any], payload: dict[str, Any]) -> str:
    """What the real service refuses in a ``run-task`` (a subset), or ''."""
    if header.get("action") != "run-task" or header.get("streaming") != "duplex":
        return "the first message must be run-task with streaming=duplex"
    try:
        uuid.UUID(str(header.get("task_id")))
    except ValueError:
        return "header.task_id must be a UUID"
    expected = {"task_group": "audio", "task": "tts", "function": "SpeechSynthesizer"}
    if any(payload.get(k) != v for k, v in expected.items()) or payload.get("input") != {}:
        return "payload must be task_group=audio, task=tts, function=SpeechSynthesizer, input={}"
    params = payload.get("parameters") or {}
    if not str(payload.get("model") or "").startswith("cosyvoice-"):
        return f"model {payload.get('model')!r} is not a CosyVoice model"
    voice = str(params.get("voice") or "")
    if voice not in VOICES and not voice.startswith("cosyvoice-"):
        return f"voice {voice!r} does not exist"
    if params.get("format") != "pcm" or not isinstance(params.get("sample_rate"), int):
        return "the fake answers format=pcm with an integer sample_rate only"
    return ""


def _tone(seconds: float, rate: int) -> bytes:
    t = np.arange(int(seconds * rate)) / rate
    return (np.sin(2 * np.pi * 220 * t) * 8000).astype("<i2").tobytes()
