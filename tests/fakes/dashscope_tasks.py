"""The fake DashScope's tasks: scripted faults, task state, and the task list's reply shape.

The list reply follows the documented one: ``data`` items carry ``task_id``, ``model_name``,
``status``, ``request_id``, ``gmt_create``/``start_time``/``end_time`` (ms), region and key
ids; the page has ``total``, ``total_page``, ``page_no``, ``page_size``. Query times are
``YYYYMMDDhhmmss``, read here as Beijing time, and may span 24 hours at most.
"""

from __future__ import annotations

import random
import threading
import time
import uuid
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

BEIJING = timedelta(hours=8)


@dataclass
class Fault:
    """One scripted misbehaviour.

    kinds: ``status`` (answer ``status`` with a DashScope error body), ``slow`` (sleep ``delay``
    then behave), ``drop`` (do the work, then close the connection without a reply),
    ``fail`` (submit accepted; the task ends FAILED with ``code``/``message``),
    ``gateway`` (submit accepted, then a proxy's bare HTML page with ``status`` instead of
    the reply: the client cannot tell whether a task was made),
    ``hold`` (submit accepted, the reply held until ``release()``, then the connection closed:
    a client killed meanwhile never learns the task id),
    ``lag`` (the task list answers, but without any task yet),
    ``expired`` (download answers 403), ``truncated`` (download sends half the bytes).
    """

    kind: str
    status: int = 500
    code: str = "InternalError"
    message: str = "fault injected by the fake"
    retry_after: float | None = None
    delay: float = 0.0
    when: str = ""
    """Only a request whose JSON body holds this text meets the fault; others pass it by."""


@dataclass
class Chaos:
    """Faults drawn at random per request, when none is queued: a service having a bad day.

    Per endpoint, the chance of each fault kind; ``expired`` and ``truncated`` hit a result
    file's first download only (a re-read URL works), as with a URL that expired in transit.
    """

    seed: int = 0
    submit: dict[str, float] = field(default_factory=dict)
    tts: dict[str, float] = field(default_factory=dict)
    poll: dict[str, float] = field(default_factory=dict)
    download: dict[str, float] = field(default_factory=dict)
    drawn: dict[str, int] = field(default_factory=dict)
    """How often each ``endpoint:kind`` was drawn."""

    def __post_init__(self) -> None:
        self._random = random.Random(self.seed)
        self._lock = threading.Lock()

    def draw(self, endpoint: str) -> Fault | None:
        odds: dict[str, float] = getattr(self, endpoint, None) or {}
        with self._lock:
            roll = self._random.random()
        for kind, chance in odds.items():
            if roll < chance:
                key = f"{endpoint}:{kind}"
                with self._lock:
                    self.drawn[key] = self.drawn.get(key, 0) + 1
                return _chaos_fault(kind)
            roll -= chance
        return None


def _chaos_fault(kind: str) -> Fault:
    if kind == "429":
        return Fault("status", status=429, code="Throttling.RateQuota", retry_after=0.01)
    if kind == "5xx":
        return Fault("status", status=503, code="ServiceUnavailable")
    if kind == "fail":
        return Fault("fail", code="InternalError.Algo", message="the model failed")
    return Fault(kind)  # drop, expired, truncated


@dataclass
class Task:
    task_id: str
    model: str
    kind: str  # image | video
    body: dict[str, Any]
    created: float
    polls_left: int
    fail: Fault | None = None
    request_id: str = field(default_factory=lambda: uuid.uuid4().hex)
    started: float | None = None
    ended: float | None = None
    audio: bytes | None = None
    """The file behind ``input.audio_url``, as the server received it."""
    result: dict[str, Any] | None = None
    """Lip-sync tasks: the billed seconds and the file to return (``dashscope_lipsync``)."""
    status: str = "PENDING"
    output: dict[str, Any] = field(default_factory=dict)
    usage: dict[str, Any] = field(default_factory=dict)


def list_reply(tasks: list[Task], query: dict[str, list[str]]) -> tuple[int, dict[str, Any]]:
    """``GET /api/v1/tasks`` as DashScope answers it (status, body), newest first."""
    first = {k: v[0] for k, v in query.items() if v}
    try:
        start, end = _time_range(first.get("start_time"), first.get("end_time"))
        page_no = int(first.get("page_no", 1))
        page_size = int(first.get("page_size", 10))
    except ValueError as err:
        return 400, {"request_id": uuid.uuid4().hex, "code": "InvalidParameter",
                     "message": str(err)}  # fmt: skip
    tasks = sorted(tasks, key=lambda t: t.created, reverse=True)
    wanted = [
        t
        for t in tasks
        if start <= t.created <= end
        and first.get("model_name") in (None, t.model)
        and first.get("status") in (None, t.status)
    ]
    page = wanted[(page_no - 1) * page_size : page_no * page_size]
    return 200, {
        "request_id": uuid.uuid4().hex,
        "data": [_list_item(t) for t in page],
        "total": len(wanted),
        "total_page": max(1, -(-len(wanted) // page_size)),
        "page_no": page_no,
        "page_size": page_size,
    }


def _beijing(value: str) -> float:
    if len(value) != 14 or not value.isdigit():
        raise ValueError("start_time and end_time must be YYYYMMDDhhmmss")
    local = datetime.strptime(value, "%Y%m%d%H%M%S").replace(tzinfo=UTC)
    return (local - BEIJING).timestamp()


def _time_range(start: str | None, end: str | None) -> tuple[float, float]:
    """The window the real list searches: at most 24 hours, the last 24 if none is given."""
    day = 24 * 3600.0
    lo = _beijing(start) if start else None
    hi = _beijing(end) if end else None
    if lo is None and hi is None:
        hi = time.time()
    if lo is None:
        assert hi is not None
        lo = hi - day
    if hi is None:
        hi = lo + day
    if hi - lo > day:
        raise ValueError("the time range between start_time and end_time must not exceed 24h")
    return lo, hi + 0.999  # the end second is inclusive


def _list_item(task: Task) -> dict[str, Any]:
    item: dict[str, Any] = {
        "api_key_id": "15xxxx",
        "caller_parent_id": "1000000000000000",
        "caller_uid": "1000000000000000",
        "gmt_create": int(task.created * 1000),
        "model_name": task.model,
        "region": "cn-beijing",
        "request_id": task.request_id,
        "status": task.status,
        "task_id": task.task_id,
        "user_api_unique_key": f"apikey:v1:aigc:{task.kind}:{task.model}",
    }
    if task.started is not None:
        item["start_time"] = int(task.started * 1000)
    if task.ended is not None:
        item["end_time"] = int(task.ended * 1000)
    return item


def params_of(task: Task) -> dict[str, Any]:
    params: dict[str, Any] = task.body.get("parameters") or {}
    return params


def succeed(task: Task, url: str) -> None:
    """The task's output once SUCCEEDED: the result URL and the prompt as received
    (``orig_prompt``/``actual_prompt``, per result for images, top level for video)."""
    task.status = "SUCCEEDED"
    prompt = str((task.body.get("input") or {}).get("prompt") or "")
    if task.kind == "image":
        result = {"url": url, "orig_prompt": prompt, "actual_prompt": prompt}
        task.output = {"results": [result]}
        task.usage = {"image_count": 1}
    else:
        task.output = {"video_url": url, "orig_prompt": prompt, "actual_prompt": prompt}
        task.usage = {"video_duration": int(params_of(task).get("duration", 5)), "video_count": 1}


def detail_reply(task: Task) -> dict[str, Any]:
    """``GET /api/v1/tasks/{id}``: status, times, and the output once finished."""
    output = {"task_id": task.task_id, "task_status": task.status, **task.output}
    for name, at in (("submit_time", task.created), ("scheduled_time", task.started),
                     ("end_time", task.ended)):  # fmt: skip
        if at is not None:
            output[name] = _stamp(at)
    reply: dict[str, Any] = {"request_id": uuid.uuid4().hex, "output": output}
    if task.usage:
        reply["usage"] = task.usage
    return reply


def _stamp(at: float) -> str:
    """A task detail's time, as DashScope writes it (Beijing time, milliseconds)."""
    local = datetime.fromtimestamp(at, UTC) + BEIJING
    return local.strftime("%Y-%m-%d %H:%M:%S.") + f"{local.microsecond // 1000:03d}"
