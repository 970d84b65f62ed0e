"""The one DashScope transport: auth, submit, poll, reconcile, download, error mapping.

Adapters (image, video, speech) only translate requests and responses; everything that talks
HTTP lives here. Rules that protect the bill:

* A submit is never retried automatically once it may have reached the server. A 429 is the
  one exception (the server refused it before accepting). A submit whose reply never came
  (timeout, dropped connection, 5xx) is looked up in the task list before anything else.
* A task id is written to the journal before the first poll, so a crash never pays twice.
* Polls, downloads and task-list reads are idempotent and retried with tenacity.
"""

from __future__ import annotations

import logging
import os
import threading
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
from tenacity import (
    RetryCallState,
    Retrying,
    retry_if_exception,
    stop_after_attempt,
)

from dramaforge.config import ProviderSettings
from dramaforge.errors import ConfigError, ContentRejected, ProviderError
from dramaforge.tools.base import TaskJournal
from dramaforge.tools.dashscope.errors import (
    MODERATION_CODES,
    ExpiredResult,
    TransientError,
    map_error,
    retry_after_of,
)

log = logging.getLogger(__name__)

DEFAULT_BASE_URL = "https://dashscope.aliyuncs.com"
INTL_BASE_URL = "https://dashscope-intl.aliyuncs.com"
TERMINAL = {"SUCCEEDED", "FAILED", "CANCELED", "UNKNOWN"}
# A submit's reply may be lost; these tasks were created at most this long before we sent.
RECONCILE_SLACK = timedelta(minutes=2)

Verify = Callable[[Path], None]


def api_root(base_url: str | None) -> str:
    """``https://host/api/v1`` from a base URL given with or without ``/api/v1``.

    DASHSCOPE_HTTP_BASE_URL conventionally includes ``/api/v1`` (the SDK's default is
    ``https://dashscope.aliyuncs.com/api/v1``); a bare host is accepted too.
    """
    root = (base_url or DEFAULT_BASE_URL).rstrip("/")
    if root.endswith("/api/v1"):
        return root
    return f"{root}/api/v1"


class _LostReply(Exception):
    """The submit may have reached the server but no answer came back."""


@dataclass
class TaskResult:
    task_id: str
    output: dict[str, Any]
    usage: dict[str, Any]


_SEMAPHORES: dict[tuple[str, str], threading.BoundedSemaphore] = {}
_SEMAPHORES_LOCK = threading.Lock()
# Task ids this process already owns: reconciliation never adopts one of them twice.
_CLAIMED: set[str] = set()
_CLAIMED_LOCK = threading.Lock()


def _semaphore(root: str, model: str, size: int) -> threading.BoundedSemaphore:
    with _SEMAPHORES_LOCK:
        sem = _SEMAPHORES.get((root, model))
        if sem is None:
            sem = _SEMAPHORES[(root, model)] = threading.BoundedSemaphore(size)
        return sem


def _claim(task_id: str) -> None:
    with _CLAIMED_LOCK:
        _CLAIMED.add(task_id)


class Transport:
    """HTTP to DashScope for one provider configuration. Thread-safe; one per backend."""

    def __init__(self, settings: ProviderSettings, *, client: httpx.Client | None = None) -> None:
        if settings.api_key is None or not settings.api_key.get_secret_value():
            raise ConfigError(
                "DashScope backends need an API key: set DASHSCOPE_API_KEY "
                "(or DRAMAFORGE_DASHSCOPE__API_KEY)"
            )
        self.settings = settings
        self.root = api_root(settings.base_url)
        self._key = settings.api_key
        self._client = client or httpx.Client(timeout=settings.timeout, follow_redirects=True)

    def __repr__(self) -> str:
        return f"Transport(root={self.root!r})"

    # -- plumbing -------------------------------------------------------------------------

    def _headers(self, *, async_task: bool = False) -> dict[str, str]:
        headers = {
            "Authorization": f"Bearer {self._key.get_secret_value()}",
            "Content-Type": "application/json",
        }
        if async_task:
            headers["X-DashScope-Async"] = "enable"
        return headers

    def _retrying(self) -> Retrying:
        base = self.settings.poll_interval

        def wait(state: RetryCallState) -> float:
            err = state.outcome.exception() if state.outcome else None
            backoff = min(base * 2 ** (state.attempt_number - 1), max(base * 16, base))
            hint = err.retry_after if isinstance(err, TransientError) else None
            return min(hint, self.settings.poll_timeout) if hint is not None else backoff

        return Retrying(
            retry=retry_if_exception(lambda e: isinstance(e, ProviderError) and e.retryable),
            stop=stop_after_attempt(self.settings.max_retries + 1),
            wait=wait,
            reraise=True,
        )

    def _get_json(self, url: str, what: str, params: dict[str, Any] | None = None) -> Any:
        for attempt in self._retrying():
            with attempt:
                try:
                    response = self._client.get(url, params=params, headers=self._headers())
                except httpx.TransportError as err:
                    raise TransientError(f"DashScope {what}: {type(err).__name__}") from None
                if response.status_code != 200:
                    raise map_error(response, what)
                return response.json()
        raise AssertionError("unreachable")  # pragma: no cover

    def post_sync(self, path: str, body: dict[str, Any], what: str) -> dict[str, Any]:
        """A synchronous call (Qwen-TTS). Only a 429 is retried: any other retry may pay twice."""
        try:
            reply: dict[str, Any] = self._post(path, body, what, async_task=False)
        except _LostReply:
            raise ProviderError(
                f"DashScope {what}: no reply (timeout, dropped connection or server error); "
                "trying again may bill the call twice",
                retryable=True,
            ) from None
        return reply

    def result_file(
        self,
        result: TaskResult,
        url_of: Callable[[TaskResult], str],
        dest: Path,
        verify: Verify,
        *,
        journal: TaskJournal | None,
        what: str,
    ) -> None:
        """Download a task's result now (URLs expire); an expired URL is re-read once.

        If the task's result is gone for good the journal is cleared, so a retry submits anew.
        """
        try:
            self.download(url_of(result), dest, verify, what)
            return
        except ExpiredResult:
            fresh = self.refresh(result.task_id, what)
        try:
            self.download(url_of(fresh), dest, verify, what)
        except ExpiredResult as err:
            if journal is not None:
                journal.forget()
            raise ProviderError(
                f"{err}; the task's result is lost, a retry submits a new task", retryable=True
            ) from None

    def _post(self, path: str, body: dict[str, Any], what: str, *, async_task: bool) -> Any:
        url = f"{self.root}/{path.lstrip('/')}"
        for attempt in range(self.settings.max_retries + 1):
            try:
                response = self._client.post(
                    url, json=body, headers=self._headers(async_task=async_task)
                )
            except (httpx.TimeoutException, httpx.NetworkError, httpx.RemoteProtocolError):
                raise _LostReply from None
            if response.status_code == 200:
                return response.json()
            err = map_error(response, what)
            if response.status_code == 429 and attempt < self.settings.max_retries:
                delay = retry_after_of(response)
                time.sleep(delay if delay is not None else self.settings.poll_interval * 2**attempt)
                continue
            if response.status_code >= 500:
                raise _LostReply from None
            raise err
        raise AssertionError("unreachable")  # pragma: no cover

    # -- async tasks ----------------------------------------------------------------------

    def run_task(
        self,
        path: str,
        body: dict[str, Any],
        *,
        journal: TaskJournal | None,
        what: str,
    ) -> TaskResult:
        """Submit (or resume) a task and poll it to SUCCEEDED; one slot of the model's limit.

        With a journal: a recorded id is polled instead of submitting; a new id is recorded
        before the first poll; a task that failed for good is forgotten.
        """
        model = str(body["model"])
        sem = _semaphore(self.root, model, self.settings.limit(model))
        with sem:
            task_id = journal.recall() if journal is not None else None
            if task_id is not None:
                _claim(task_id)
                status, data = self._poll(task_id, what)
                if status == "SUCCEEDED":
                    return self._result(task_id, data)
                log.info("recorded DashScope task %s is %s; submitting anew", task_id, status)
                if journal is not None:
                    journal.forget()
            task_id = self._submit(path, body, what)
            if journal is not None:
                journal.record(task_id)
            status, data = self._poll(task_id, what)
            if status == "SUCCEEDED":
                return self._result(task_id, data)
            if journal is not None:
                journal.forget()
            raise self._task_error(task_id, status, data, what)

    def refresh(self, task_id: str, what: str) -> TaskResult:
        """Read a finished task again (result URLs may have been re-signed)."""
        status, data = self._poll_once(task_id, what)
        if status != "SUCCEEDED":
            raise self._task_error(task_id, status, data, what)
        return self._result(task_id, data)

    def _submit(self, path: str, body: dict[str, Any], what: str) -> str:
        sent = datetime.now(UTC)
        try:
            reply = self._post(path, body, what, async_task=True)
        except _LostReply:
            return self._reconcile(str(body["model"]), sent, what)
        task_id = str((reply.get("output") or {}).get("task_id") or "")
        if not task_id:
            raise ProviderError(f"DashScope {what}: the submit reply has no task_id")
        _claim(task_id)
        return task_id

    def _reconcile(self, model: str, sent: datetime, what: str) -> str:
        """Find the task a lost submit created, so it is polled instead of paid for again."""
        # The list's time filter is 'YYYYMMDDhhmmss'; its zone is not documented, so the
        # window spans both UTC and Beijing time and candidates are narrowed by gmt_create.
        start = (sent - RECONCILE_SLACK).strftime("%Y%m%d%H%M%S")
        end = (datetime.now(UTC) + timedelta(hours=8) + RECONCILE_SLACK).strftime("%Y%m%d%H%M%S")
        params = {
            "model_name": model,
            "start_time": start,
            "end_time": end,
            "page_no": 1,
            "page_size": 50,
        }
        listing = self._get_json(f"{self.root}/tasks", f"{what} (task list)", params)
        earliest = (sent - RECONCILE_SLACK).timestamp() * 1000
        candidates: list[str] = []
        with _CLAIMED_LOCK:
            for item in listing.get("data") or []:
                task_id = str(item.get("task_id") or "")
                created = item.get("gmt_create")
                if not task_id or task_id in _CLAIMED:
                    continue
                if item.get("model_name") not in (None, model):
                    continue
                if isinstance(created, int | float) and created < earliest:
                    continue
                candidates.append(task_id)
            if len(candidates) == 1:
                _CLAIMED.add(candidates[0])
        if len(candidates) == 1:
            log.warning("DashScope %s: reply lost; adopted task %s", what, candidates[0])
            return candidates[0]
        if not candidates:
            raise ProviderError(
                f"DashScope {what}: the submit got no reply and the task list shows no new "
                f"{model} task; nothing was paid, it is safe to try again",
                retryable=True,
            )
        raise ProviderError(
            f"DashScope {what}: the submit got no reply and {len(candidates)} new {model} tasks "
            f"could be it ({', '.join(candidates)}); not submitting again to avoid paying twice"
        )

    def _poll_once(self, task_id: str, what: str) -> tuple[str, dict[str, Any]]:
        # An id DashScope does not know is answered 200 with task_status UNKNOWN.
        data = self._get_json(f"{self.root}/tasks/{task_id}", f"{what} (poll)")
        status = str((data.get("output") or {}).get("task_status") or "UNKNOWN")
        return status, data

    def _poll(self, task_id: str, what: str) -> tuple[str, dict[str, Any]]:
        deadline = time.monotonic() + self.settings.poll_timeout
        interval = self.settings.poll_interval
        while True:
            status, data = self._poll_once(task_id, what)
            if status in TERMINAL:
                return status, data
            if time.monotonic() + interval > deadline:
                raise ProviderError(
                    f"DashScope {what}: task {task_id} still {status} after "
                    f"{self.settings.poll_timeout:.0f}s; it is recorded and will be polled "
                    "again on the next run",
                    retryable=True,
                )
            time.sleep(interval)
            interval = min(interval * 1.5, self.settings.poll_interval * 8)

    def _result(self, task_id: str, data: dict[str, Any]) -> TaskResult:
        return TaskResult(task_id, data.get("output") or {}, data.get("usage") or {})

    def _task_error(
        self, task_id: str, status: str, data: dict[str, Any], what: str
    ) -> ProviderError:
        output = data.get("output") or {}
        code, message = str(output.get("code") or ""), str(output.get("message") or "")
        text = f"DashScope {what}: task {task_id} {status}: {code} {message}".strip()
        if code in MODERATION_CODES or "inspection" in code.lower():
            return ContentRejected(text)
        return ProviderError(text, retryable=status in ("UNKNOWN", "CANCELED"))

    # -- downloads ------------------------------------------------------------------------

    def download(self, url: str, dest: Path, verify: Verify, what: str) -> None:
        """Fetch ``url`` into ``dest`` via a temp file; truncated or undecodable -> again."""
        for attempt in self._retrying():
            with attempt:
                tmp = dest.with_name(f".{dest.name}.{uuid.uuid4().hex[:8]}.part")
                try:
                    self._fetch(url, tmp, what)
                    try:
                        verify(tmp)
                    except Exception as err:
                        raise TransientError(
                            f"DashScope {what}: downloaded file does not decode ({err})"
                        ) from None
                    os.replace(tmp, dest)
                finally:
                    tmp.unlink(missing_ok=True)

    def _fetch(self, url: str, tmp: Path, what: str) -> None:
        try:
            with self._client.stream("GET", url) as response:
                if response.status_code in (403, 404):
                    raise ExpiredResult(
                        f"DashScope {what}: result URL answered {response.status_code} "
                        "(expired or removed)"
                    )
                if response.status_code != 200:
                    raise TransientError(
                        f"DashScope {what}: download HTTP {response.status_code}",
                        retry_after=retry_after_of(response),
                    )
                expected = response.headers.get("Content-Length")
                written = 0
                with tmp.open("wb") as fh:
                    for chunk in response.iter_bytes():
                        fh.write(chunk)
                        written += len(chunk)
                if expected is not None and written != int(expected):
                    raise TransientError(f"DashScope {what}: download truncated")
        except httpx.TransportError as err:
            raise TransientError(f"DashScope {what}: download {type(err).__name__}") from None
