"""The one DashScope transport: auth, submit, poll, download, error mapping.

Adapters (image, video, speech) only translate requests and responses; everything that talks
HTTP lives here. Rules that protect the bill:

* An intent (model, body hash, time) is journaled durably *before* a submit is sent, and the
  task id as soon as the reply arrives, before the first poll. A run killed anywhere and
  resumed polls the recorded task, or looks a lost reply's task up in the task list
  (``reconcile``) before anything is submitted again.
* A lost reply (timeout, dropped connection, a 5xx that is not DashScope's own error reply)
  means "paid state unknown", never "nothing was paid": the task list is read again with
  backoff until ``timeout + list_lag`` after the send (the list shows new tasks late), outside
  the model's submit lock, so other shots' submits go on meanwhile, and the wait is told to
  the shot's progress line. Still not found, the shot stops saying so and the next run
  resolves it. DashScope's own error reply (JSON with its ``request_id`` and a documented
  code, ``says_no_task``) says no task was made: the journal is cleared at once. DashScope
  documents no idempotency header for submits, so none is sent; the journal and the task list
  are the only guard.
* Every id submitted or adopted goes to the account-wide ledger (``[dashscope] ledger``),
  so no output folder on the machine adopts another's task.
* A submit is never retried automatically once it may have reached the server. A 429 and a
  5xx that says no task was made are the exceptions (the server refused it).
* Submits of one model go out one at a time per process, so a crash leaves at most one
  unresolved intent per model to reconcile; polls run concurrently up to the model's limit.
* Polls, downloads and task-list reads are idempotent and retried with tenacity.
"""

from __future__ import annotations

import copy
import functools
import json
import logging
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Concatenate, ParamSpec, TypeVar

import httpx
from tenacity import (
    RetryCallState,
    Retrying,
    retry_if_exception,
    stop_after_attempt,
)

from dramaforge.config import DashScopeSettings, ProviderSettings
from dramaforge.errors import ConfigError, ContentRejected, ProviderError
from dramaforge.media.store import MemoryJournal, file_digest
from dramaforge.tools.dashscope import lookup, pace, reconcile, uploads
from dramaforge.tools.dashscope.download import Policy, Verify, fetch_verified
from dramaforge.tools.dashscope.endpoints import api_root
from dramaforge.tools.dashscope.error_codes import (
    MODERATION_CODES,
    ExpiredResult,
    TransientError,
    map_error,
    redact,
    retry_after_of,
    says_no_task,
)
from dramaforge.tools.protocols import SubmitIntent, TaskJournal

log = logging.getLogger(__name__)

TERMINAL = {"SUCCEEDED", "FAILED", "CANCELED", "UNKNOWN"}


P = ParamSpec("P")
R = TypeVar("R")


def _redacting(
    method: Callable[Concatenate[Transport, P], R],
) -> Callable[Concatenate[Transport, P], R]:
    """The method with every error leaving it masked (the key, URL credentials)."""

    @functools.wraps(method)
    def run(self: Transport, /, *args: P.args, **kwargs: P.kwargs) -> R:
        with self._redacted():
            return method(self, *args, **kwargs)

    return run


class _LostReply(Exception):
    """The submit may have reached the server but no answer came back."""


def sse_events(lines: Iterator[str]) -> list[dict[str, Any]]:
    """The JSON ``data:`` of each server-sent event; an event that carries an error (its
    ``code``, no ``output``) is raised as the provider's error."""
    events: list[dict[str, Any]] = []
    for line in lines:
        if not line.startswith("data:"):
            continue
        try:
            data = json.loads(line[5:].strip())
        except ValueError:  # a garbled event: the stream is judged by its last good one
            continue
        if isinstance(data, dict) and data.get("code") and not data.get("output"):
            raise ProviderError(
                f"DashScope stream: {data.get('code')}: {data.get('message', '')}",
                retryable=True,
                maybe_paid=True,
            )
        if isinstance(data, dict):
            events.append(data)
    return events


@dataclass
class TaskResult:
    task_id: str
    output: dict[str, Any]
    usage: dict[str, Any]


class Transport:
    """HTTP to DashScope for one provider configuration. Thread-safe; one per backend."""

    def __init__(self, settings: ProviderSettings, *, client: httpx.Client | None = None) -> None:
        key = settings.api_key
        if key is None or not key.get_secret_value():
            raise ConfigError(
                "DashScope backends need an API key: set DASHSCOPE_API_KEY "
                "(or DRAMAFORGE_DASHSCOPE__API_KEY)"
            )
        if not isinstance(settings, DashScopeSettings):
            settings = DashScopeSettings.model_validate(dict(settings))
        self.settings: DashScopeSettings = settings
        self.root = api_root(settings.base_url)
        self._key = key
        self._client = client or httpx.Client(timeout=settings.timeout, follow_redirects=True)

    @contextmanager
    def _redacted(self) -> Iterator[None]:
        """Errors leave the transport with the key and URL credentials masked."""
        try:
            yield
        except ProviderError as err:
            err.args = tuple(redact(str(a), self._key.get_secret_value()) for a in err.args)
            raise

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

    @_redacting
    def get_json(self, url: str, what: str, params: dict[str, Any] | None = None) -> Any:
        """GET and decode JSON; transport errors, 429 and 5xx are retried."""
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

    def post_sync(
        self, path: str, body: dict[str, Any], what: str, files: dict[str, Path] | None = None
    ) -> dict[str, Any]:
        """A synchronous call (Qwen-TTS, an image check). Only a 429 is retried: any other
        retry may pay twice. ``files`` as for ``run_task``: uploaded, then sent as URLs."""
        sent, headers = body, {}
        if files:
            sent = copy.deepcopy(body)
            model = str(body["model"])
            with self._redacted():
                for field, local in files.items():
                    url = uploads.upload(self._client, self.root, self.get_json, model, local, what)
                    uploads.set_at(sent, field, url)
            headers = {uploads.RESOLVE_HEADER: "enable"}
        try:
            with self._redacted():
                reply: dict[str, Any] = self._post(
                    path, sent, what, async_task=False, headers=headers
                )
        except _LostReply:
            raise ProviderError(
                f"DashScope {what}: no reply (timeout, dropped connection or gateway error); "
                "it may have been charged, and asking again (a synchronous call has no task "
                "to look up) may charge it twice",
                retryable=True,
                maybe_paid=True,
            ) from None
        return reply

    def post_stream(self, path: str, body: dict[str, Any], what: str) -> list[dict[str, Any]]:
        """The same synchronous call streamed (``X-DashScope-SSE: enable``): its events, in
        order, the last one finished. Refusals are handled as ``post_sync`` does; a stream
        that breaks or ends before it is finished is a lost reply (it may have been charged)."""
        url = f"{self.root}/{path.lstrip('/')}"
        sent = self._headers() | {"X-DashScope-SSE": "enable", "Accept": "text/event-stream"}
        with self._redacted():
            for attempt in range(self.settings.max_retries + 1):
                try:
                    with self._client.stream("POST", url, json=body, headers=sent) as response:
                        if response.status_code != 200:
                            response.read()
                            if self._refused(response, attempt):
                                continue
                            if response.status_code >= 500:
                                raise _LostReply
                            raise map_error(response, what)
                        events = sse_events(response.iter_lines())
                except (httpx.TimeoutException, httpx.NetworkError, httpx.RemoteProtocolError):
                    events = []
                except _LostReply:
                    events = []
                if events and str((events[-1].get("output") or {}).get("finish_reason")) == "stop":
                    return events
                raise ProviderError(
                    f"DashScope {what}: the stream broke off (timeout, dropped connection or "
                    "gateway error); it may have been charged, and asking again (a synchronous "
                    "call has no task to look up) may charge it twice",
                    retryable=True,
                    maybe_paid=True,
                )
        raise AssertionError("unreachable")  # pragma: no cover

    def _refused(self, response: httpx.Response, attempt: int) -> bool:
        """A 429, or DashScope's own 5xx error reply, with tries left: waited for, True."""
        refused = response.status_code == 429 or (
            response.status_code >= 500 and says_no_task(response)
        )
        if not refused or attempt >= self.settings.max_retries:
            return False
        delay = retry_after_of(response)
        time.sleep(delay if delay is not None else self.settings.poll_interval * 2**attempt)
        return True

    @_redacting
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

    def _post(
        self,
        path: str,
        body: dict[str, Any],
        what: str,
        *,
        async_task: bool,
        headers: dict[str, str] | None = None,
        before_send: Callable[[], None] | None = None,
    ) -> Any:
        url = f"{self.root}/{path.lstrip('/')}"
        sent = self._headers(async_task=async_task) | (headers or {})
        for attempt in range(self.settings.max_retries + 1):
            if before_send is not None:
                before_send()
            try:
                response = self._client.post(url, json=body, headers=sent)
            except (httpx.TimeoutException, httpx.NetworkError, httpx.RemoteProtocolError):
                raise _LostReply from None
            if response.status_code == 200:
                return response.json()
            err = map_error(response, what)
            refused = response.status_code == 429 or (
                response.status_code >= 500 and says_no_task(response)
            )
            if refused and attempt < self.settings.max_retries:
                delay = retry_after_of(response)
                time.sleep(delay if delay is not None else self.settings.poll_interval * 2**attempt)
                continue
            if response.status_code >= 500 and not refused:
                raise _LostReply from None
            raise err
        raise AssertionError("unreachable")  # pragma: no cover

    # -- async tasks ----------------------------------------------------------------------

    @_redacting
    def run_task(
        self,
        path: str,
        body: dict[str, Any],
        *,
        journal: TaskJournal | None,
        what: str,
        files: dict[str, Path] | None = None,
    ) -> TaskResult:
        """Submit (or resume) a task and poll it to SUCCEEDED; one slot of the model's limit.

        A recorded task is polled instead of submitting; a recorded intent is reconciled
        against the task list first; a task that failed for good is forgotten. ``files`` maps
        a dotted body field (``input.audio_url``) to a local file, uploaded to temporary
        storage only when a submit goes out.
        """
        model = str(body["model"])
        journal = journal if journal is not None else MemoryJournal()
        with lookup.semaphore(self.root, model, self.settings.limit(model)):
            task_id = lookup.resume(self, journal, what, body)
            if task_id is not None:
                status, data = self.poll(task_id, what)
                if status == "SUCCEEDED":
                    return self._result(task_id, data)
                log.info("recorded DashScope task %s is %s; submitting anew", task_id, status)
                journal.forget()
            task_id = self._submit(path, body, journal, what, files or {})
            status, data = self.poll(task_id, what, model=model, since=time.monotonic())
            if status == "SUCCEEDED":
                return self._result(task_id, data)
            journal.forget()
            raise self._task_error(task_id, status, data, what)

    def refresh(self, task_id: str, what: str) -> TaskResult:
        """Read a finished task again (result URLs may have been re-signed)."""
        with self._redacted():
            status, data = self._poll_once(task_id, what)
        if status != "SUCCEEDED":
            raise self._task_error(task_id, status, data, what)
        return self._result(task_id, data)

    def record(self, journal: TaskJournal, task_id: str) -> None:
        """The asset's journal first, then the account-wide ledger (claimed for good)."""
        journal.record(task_id)
        reconcile.claim(task_id, self.settings.ledger)

    def _submit(
        self,
        path: str,
        body: dict[str, Any],
        journal: TaskJournal,
        what: str,
        files: dict[str, Path],
    ) -> str:
        """Upload inputs, journal the intent, send, journal the id. One per model at a time."""
        model = str(body["model"])
        digest = reconcile.body_digest(body, {k: file_digest(v) for k, v in files.items()})
        sent = copy.deepcopy(body)
        for field, local in files.items():
            url = uploads.upload(self._client, self.root, self.get_json, model, local, what)
            uploads.set_at(sent, field, url)
        headers = {uploads.RESOLVE_HEADER: "enable"} if files else {}
        intents: list[SubmitIntent] = []

        def stamp() -> None:  # before every attempt: a 429's wait moves the window
            intents.append(SubmitIntent(model=model, body_sha256=digest, sent_at=lookup.clock()))
            journal.intend(intents[-1])

        with lookup.submit_lock(self.root, model):
            try:
                reply = self._post(
                    path, sent, what, async_task=True, headers=headers, before_send=stamp
                )
            except _LostReply:
                reply = None
            except ProviderError:
                journal.forget()  # refused outright: no task exists
                raise
            if reply is not None:
                task_id = str((reply.get("output") or {}).get("task_id") or "")
                if not task_id:
                    raise ProviderError(f"DashScope {what}: the submit reply has no task_id")
                self.record(journal, task_id)
                return task_id
        # Looked up outside the submit lock: the other shots' submits go on meanwhile (each
        # recorded at once, so never a candidate for this one).
        found = lookup.look_until_settled(self, intents[-1], journal, what, body)
        if found is None:
            wait = self.settings.timeout + self.settings.list_lag
            raise ProviderError(
                f"DashScope {what}: the submit got no reply (timeout, dropped "
                f"connection or a gateway error) and the task list showed no {model} "
                f"task for it within {wait:.0f}s; paid state unknown. The submit is "
                "kept in the journal and will be resolved on the next run (looked up "
                "again before anything is submitted)"
            )
        self.record(journal, found)
        return found

    def _poll_once(self, task_id: str, what: str) -> tuple[str, dict[str, Any]]:
        # An id DashScope does not know is answered 200 with task_status UNKNOWN.
        data = self.get_json(f"{self.root}/tasks/{task_id}", f"{what} (poll)")
        status = str((data.get("output") or {}).get("task_status") or "UNKNOWN")
        return status, data

    def poll(
        self, task_id: str, what: str, *, model: str | None = None, since: float | None = None
    ) -> tuple[str, dict[str, Any]]:
        """Poll until a terminal status (or ``poll_timeout``, a retryable error). Given the
        ``model`` and ``since`` (monotonic) of a task just submitted, the polls follow the
        model's learned run time (``pace``), and learn from it."""
        deadline = time.monotonic() + self.settings.poll_timeout
        learn = model if since is not None else None
        due = pace.expected(self.root, learn) if learn is not None else None
        pacer = pace.Pacer(self.settings.poll_interval, due)
        running = 0.0  # age at the last poll that found it running: its end came after
        while True:
            status, data = self._poll_once(task_id, what)
            age = time.monotonic() - (since or 0.0)
            if status in TERMINAL:
                if learn is not None and status == "SUCCEEDED":
                    pace.observe(self.root, learn, running)
                return status, data
            running, interval = age, pacer.next(age)
            if time.monotonic() + interval > deadline:
                raise ProviderError(
                    f"DashScope {what}: task {task_id} still {status} after "
                    f"{self.settings.poll_timeout:.0f}s; it is recorded and will be polled "
                    "again on the next run",
                    retryable=True,
                )
            time.sleep(interval)

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
        with self._redacted():
            for attempt in self._retrying():
                with attempt:
                    fetch_verified(self._client, url, dest, verify, what, self._policy())

    def _policy(self) -> Policy:
        allowed = {h.lower() for h in self.settings.download_hosts}
        api_host = httpx.URL(self.root).host
        if api_host:
            allowed.add(api_host.lower())
        caps = {k: int(v * 1024 * 1024) for k, v in self.settings.max_download_mb.items()}
        return Policy(allowed_hosts=frozenset(allowed), max_bytes=caps)
