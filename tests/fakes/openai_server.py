"""A fake OpenAI-compatible chat server: real HTTP on 127.0.0.1, scripted replies.

It speaks the non-streaming ``POST /v1/chat/completions`` protocol closely enough for the
official ``openai`` client (and so langchain-openai): a reply is either a message with
``content`` (json_schema and json_mode requests) or a ``tool_calls`` entry (requests that
carry ``tools``), or an HTTP error with the usual ``{"error": {...}}`` body. Every request
body is recorded so tests can assert what was sent.

Replies come from ``queue`` first (one each, in order), then from ``handler(request)``.
"""

from __future__ import annotations

import json
import re
import threading
import time
from collections import deque
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

Request = dict[str, Any]


@dataclass
class Reply:
    status: int = 200
    body: dict[str, Any] = field(default_factory=dict)
    headers: dict[str, str] = field(default_factory=dict)
    delay: float = 0.0


Handler = Callable[[Request], Reply]


class FakeOpenAI:
    def __init__(self, handler: Handler | None = None, prefix: str = "/v1") -> None:
        """``prefix`` is where the API lives: ``/v1``, or ``/compatible-mode/v1`` as on
        DashScope's OpenAI-compatible mode."""
        self.prefix = prefix
        self.handler: Handler = handler or cover_all
        self.queue: deque[Handler] = deque()
        self.requests: list[Request] = []
        self.in_flight = 0
        self.max_in_flight = 0
        self._lock = threading.Lock()
        self._server = ThreadingHTTPServer(("127.0.0.1", 0), self._handler_class())
        self._server.daemon_threads = True
        self._thread = threading.Thread(
            target=self._server.serve_forever, args=(0.02,), daemon=True
        )

    @property
    def base_url(self) -> str:
        return f"{self.host_url}{self.prefix}"

    @property
    def host_url(self) -> str:
        return f"http://127.0.0.1:{self._server.server_address[1]}"

    def start(self) -> FakeOpenAI:
        self._thread.start()
        return self

    def stop(self) -> None:
        self._server.shutdown()
        self._server.server_close()

    def then(self, *replies: Handler) -> FakeOpenAI:
        """Answer the next requests with ``replies``, one each, before the handler."""
        self.queue.extend(replies)
        return self

    def _reply(self, request: Request) -> Reply:
        with self._lock:
            self.requests.append(request)
            self.in_flight += 1
            self.max_in_flight = max(self.max_in_flight, self.in_flight)
            step = self.queue.popleft() if self.queue else self.handler
        try:
            reply = step(request)
            if reply.delay:
                time.sleep(reply.delay)
            return reply
        finally:
            with self._lock:
                self.in_flight -= 1

    def _handler_class(self) -> type[BaseHTTPRequestHandler]:
        fake = self

        class _Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                if self.path.rstrip("/") != f"{fake.prefix}/chat/completions":
                    self._send(Reply(404, error_body("no such route", "not_found")))
                    return
                length = int(self.headers.get("Content-Length", "0"))
                request = json.loads(self.rfile.read(length) or b"{}")
                request["_headers"] = {k.lower(): v for k, v in self.headers.items()}
                self._send(fake._reply(request))

            def _send(self, reply: Reply) -> None:
                data = json.dumps(reply.body, ensure_ascii=False).encode()
                self.send_response(reply.status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(data)))
                for k, v in reply.headers.items():
                    self.send_header(k, v)
                self.end_headers()
                self.wfile.write(data)

            def log_message(self, format: str, *args: Any) -> None:
                pass

        return _Handler


@contextmanager
def fake_openai(handler: Handler | None = None, prefix: str = "/v1") -> Iterator[FakeOpenAI]:
    server = FakeOpenAI(handler, prefix).start()
    try:
        yield server
    finally:
        server.stop()


# -- reading a request -----------------------------------------------------------------------


def messages_text(request: Request, role: str | None = None) -> str:
    parts = []
    for m in request.get("messages", []):
        if role is None or m.get("role") == role:
            content = m.get("content")
            parts.append(content if isinstance(content, str) else json.dumps(content))
    return "\n".join(parts)


def first_user(request: Request) -> str:
    return next((m["content"] for m in request.get("messages", []) if m.get("role") == "user"), "")


def line_count(request: Request) -> int:
    """How many spoken lines ``[Ln]`` the scene in the first user message has."""
    return len(re.findall(r"^\[L\d+\]", first_user(request), re.MULTILINE))


def scene_number(request: Request) -> int:
    """Which scene a director request is for (``Scene 2:`` or ``第 2 场``); 0 if none."""
    found = re.search(r"^(?:Scene (\d+):|第 (\d+) 场)", first_user(request), re.MULTILINE)
    return int(found.group(1) or found.group(2)) if found else 0


def text_parts(request: Request, role: str | None = None) -> str:
    """The text of messages, including the ``text`` parts of multi-part (vision) content."""
    parts = []
    for m in request.get("messages", []):
        if role is None or m.get("role") == role:
            content = m.get("content")
            if isinstance(content, str):
                parts.append(content)
            elif isinstance(content, list):
                parts.extend(p["text"] for p in content if p.get("type") == "text")
    return "\n".join(parts)


def image_urls(request: Request) -> list[str]:
    """The ``image_url`` parts of every message (data URIs for inline images)."""
    return [
        part["image_url"]["url"]
        for m in request.get("messages", [])
        if isinstance(m.get("content"), list)
        for part in m["content"]
        if part.get("type") == "image_url"
    ]


def mode(request: Request) -> str:
    if request.get("tools"):
        return "function_calling"
    rf = request.get("response_format") or {}
    return "json_schema" if rf.get("type") == "json_schema" else "json_mode"


# -- building replies ------------------------------------------------------------------------


def plan_for(count: int) -> dict[str, Any]:
    """A valid scene plan: an establishing wide shot, then one close-up per spoken line."""
    shots: list[dict[str, Any]] = [
        {
            "framing": "wide",
            "camera": "pan_right",
            "lines": [],
            "action": "establishing",
            "visual_prompt": "wide establishing shot",
            "characters": [],
            "focus": None,
            "sfx": [],
        }
    ]
    for n in range(1, count + 1):
        shots.append(
            {
                "framing": "close_up",
                "camera": "static",
                "lines": [n],
                "action": f"line {n}",
                "visual_prompt": f"close-up for line {n}",
                "characters": [],
                "focus": None,
                "sfx": [],
            }
        )
    return {"shots": shots}


def completion(
    request: Request,
    *,
    content: str | None = None,
    arguments: str | None = None,
    finish_reason: str = "stop",
) -> Reply:
    """A chat.completion: ``arguments`` as a tool call if the request has tools, else content."""
    message: dict[str, Any] = {"role": "assistant", "content": content}
    if arguments is not None and request.get("tools"):
        name = request["tools"][0]["function"]["name"]
        message["content"] = None
        message["tool_calls"] = [
            {"id": "call_1", "type": "function", "function": {"name": name, "arguments": arguments}}
        ]
        finish_reason = "tool_calls" if finish_reason == "stop" else finish_reason
    elif arguments is not None:
        message["content"] = arguments
    body = {
        "id": "chatcmpl-fake",
        "object": "chat.completion",
        "created": 0,
        "model": request.get("model", "fake"),
        "choices": [
            {"index": 0, "message": message, "finish_reason": finish_reason, "logprobs": None}
        ],
        "usage": {"prompt_tokens": 10, "completion_tokens": 10, "total_tokens": 20},
    }
    return Reply(200, body)


def json_reply(plan: dict[str, Any] | Callable[[Request], dict[str, Any]]) -> Handler:
    def reply(request: Request) -> Reply:
        data = plan(request) if callable(plan) else plan
        return completion(request, arguments=json.dumps(data, ensure_ascii=False))

    return reply


def cover_all(request: Request) -> Reply:
    """The default handler: a valid plan covering every line of the requested scene."""
    return json_reply(lambda r: plan_for(line_count(r)))(request)


def invalid_json(request: Request) -> Reply:
    return completion(request, arguments='{"shots": [{"framing": "wide", oops')


def truncated_json(request: Request) -> Reply:
    text = json.dumps(plan_for(line_count(request)))
    return completion(request, arguments=text[: len(text) // 2], finish_reason="length")


def error_body(message: str, kind: str, code: str | None = None) -> dict[str, Any]:
    return {"error": {"message": message, "type": kind, "param": None, "code": code}}


def rate_limited(retry_after: str = "0.01") -> Handler:
    def reply(request: Request) -> Reply:
        body = error_body("Rate limit reached", "rate_limit_exceeded", "rate_limit_exceeded")
        return Reply(429, body, {"Retry-After": retry_after})

    return reply


def server_error(request: Request) -> Reply:
    return Reply(500, error_body("The server had an error", "server_error"))


def unauthorized(request: Request) -> Reply:
    key = request["_headers"].get("authorization", "").removeprefix("Bearer ")
    return Reply(
        401,
        error_body(
            f"Incorrect API key provided: {key}", "invalid_request_error", "invalid_api_key"
        ),
    )


# -- tool-calling conversations (chat agents) ------------------------------------------------


def tool_names(request: Request) -> list[str]:
    return [t["function"]["name"] for t in request.get("tools") or []]


def tool_results(request: Request) -> list[dict[str, Any]]:
    """The ``role: tool`` messages of a request: what the agent's tools answered."""
    return [m for m in request.get("messages", []) if m.get("role") == "tool"]


def tool_call(name: str, arguments: dict[str, Any], call_id: str = "call_1") -> Handler:
    """Answer with one call of tool ``name``; a 400 if the request does not offer it."""

    def reply(request: Request) -> Reply:
        if name not in tool_names(request):
            return Reply(400, error_body(f"no tool {name!r} in the request", "invalid_request"))
        call = {
            "id": call_id,
            "type": "function",
            "function": {"name": name, "arguments": json.dumps(arguments, ensure_ascii=False)},
        }
        answer = completion(request, finish_reason="tool_calls")
        answer.body["choices"][0]["message"] = {
            "role": "assistant",
            "content": None,
            "tool_calls": [call],
        }
        return answer

    return reply


def says(text: str) -> Handler:
    """Answer with plain assistant text (the end of an agent's turn)."""

    def reply(request: Request) -> Reply:
        return completion(request, content=text)

    return reply
