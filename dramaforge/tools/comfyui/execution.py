"""One shot's job on a ComfyUI server, queued once however often the render is resumed.

The prompt id is chosen here (``uuid5`` of the asset's key) and journaled with its server
*before* the prompt is sent. A resumed render finds the id in the server's queue (waits for
it) or history (takes its files) instead of queueing it again; only an id the server no
longer knows at all (it restarted, losing its queue) is queued once more. A finished job of
the same key that failed, or was interrupted, is never adopted: the next id of that key is.

Waiting listens to the websocket (progress per node and step, shown per shot) and checks the
queue, then the history, now and then and whenever the socket says the prompt ended or drops.
Ctrl-C, a timeout or the program shutting down cancels the job on the server (queue delete,
interrupt when it is the one running) before the error goes up.
"""

from __future__ import annotations

import contextlib
import hashlib
import logging
import signal
import threading
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from types import FrameType
from typing import TYPE_CHECKING, Any

from dramaforge.config import ComfyUISettings
from dramaforge.errors import ProviderError
from dramaforge.media.store import MemoryJournal
from dramaforge.tools.comfyui.api import Client, Refused, Unreachable, message
from dramaforge.tools.comfyui.workflow import Workflow
from dramaforge.tools.protocols import TaskJournal

if TYPE_CHECKING:
    from websockets.sync.client import ClientConnection

log = logging.getLogger(__name__)
NAMESPACE = uuid.UUID("6b1f3c52-3a4e-5d0c-9a57-2f1c0de4c0f1")
SNAPPED = ("width", "height", "frames")
"""Values moved onto the node's own grid (``step``, ``min``, ``max`` from /object_info)."""
Report = Callable[[str], None]
MAX_MESSAGE = 64 * 1024 * 1024
"""Largest websocket message read: ComfyUI sends sampler previews as binary frames."""


@dataclass
class Job:
    """A filled workflow: the values by marker and the local files its inputs upload."""

    workflow: Workflow
    key: str
    what: str
    values: dict[str, Any] = field(default_factory=dict)
    files: dict[str, Path] = field(default_factory=dict)


@dataclass
class Finished:
    client: Client
    prompt_id: str
    outputs: dict[str, Any]

    def files(self, node: str) -> list[dict[str, Any]]:
        """The files ``node`` wrote, in ComfyUI's ``{filename, subfolder, type}`` shape."""
        out = self.outputs.get(node) or {}
        refs: list[dict[str, Any]] = []
        for name in ("images", "gifs", "videos", "video", "audio"):
            refs.extend(r for r in out.get(name) or [] if isinstance(r, dict) and "filename" in r)
        return refs


def prompt_id(key: str, attempt: int = 0) -> str:
    return str(uuid.uuid5(NAMESPACE, key if attempt == 0 else f"{key}#{attempt}"))


_SIGINTS = [0]
"""Ctrl-Cs seen by this process: a job in a worker thread stops when the count moves (the
main thread's KeyboardInterrupt waits for the graph's running tasks, so they must end)."""


def watch_ctrl_c() -> None:
    """Count Ctrl-Cs, keeping Python's own behaviour (KeyboardInterrupt in the main thread).

    Only from the main thread, and only over Python's default handler: a program that set
    its own keeps it (its jobs then stop on a timeout or when the program ends)."""
    if threading.current_thread() is not threading.main_thread():
        return
    if signal.getsignal(signal.SIGINT) is not signal.default_int_handler:
        return

    def counted(signum: int, frame: FrameType | None) -> None:
        _SIGINTS[0] += 1
        signal.default_int_handler(signum, frame)

    signal.signal(signal.SIGINT, counted)


def _shutting_down() -> bool:
    """The main thread has ended: jobs in worker threads stop."""
    return not threading.main_thread().is_alive()


class Runner:
    """The configured servers, and the discipline every job follows on them."""

    def __init__(self, settings: ComfyUISettings, report: Report | None = None) -> None:
        self.settings = settings
        self.clients = {
            url: Client(url, timeout=settings.request_seconds) for url in settings.servers()
        }
        self.report = report or (lambda text: log.info("%s", text))
        watch_ctrl_c()

    def client(self, url: str) -> Client:
        if url not in self.clients:  # journaled by a run with another [comfyui] url
            self.clients[url] = Client(url, timeout=self.settings.request_seconds)
        return self.clients[url]

    # -- the job ------------------------------------------------------------------------

    def run(self, job: Job, journal: TaskJournal | None) -> Finished:
        journal = journal if journal is not None else MemoryJournal()
        ctrl_c = _SIGINTS[0]
        recorded = journal.read().task_id
        if recorded and "@" in recorded:
            pid, _, url = recorded.partition("@")
            client = self.client(url)
            fresh = self._where(client, pid) == "unknown"
            if fresh:
                self.report(f"{job.what}: {client.shown} no longer knows the job; queued again")
        else:
            client = self.pick(job.key)
            pid, known = self._fresh(client, job.key)
            journal.record(f"{pid}@{client.url}")
            fresh = not known
        tick = min(self.settings.poll_seconds, 1.0)
        with Socket(client, pid, tick) as sock:
            sock.open()  # before queueing: messages go only to sockets already there
            try:
                if fresh:
                    pid = sock.pid = self._queue(client, pid, job, journal, sock.cid)
                return self._wait(client, pid, job, journal, sock, ctrl_c)
            except (KeyboardInterrupt, SystemExit):
                self._cancel(client, pid, journal)
                raise

    def pick(self, key: str) -> Client:
        """The reachable server with the shortest queue (ties spread by the key)."""
        clients = list(self.clients.values())
        if len(clients) == 1:
            return clients[0]
        spread = int(hashlib.sha256(key.encode()).hexdigest()[:8], 16)
        best: tuple[int, int, Client] | None = None
        down = []
        for i, c in enumerate(clients):
            try:
                running, pending = c.queue()
            except Unreachable:
                down.append(c.shown)
                continue
            rank = (len(running) + len(pending), (i - spread) % len(clients), c)
            if best is None or rank[:2] < best[:2]:
                best = rank
        if best is None:
            raise Unreachable(f"no ComfyUI server answers ({', '.join(down)}); start one")
        return best[2]

    def _where(self, client: Client, pid: str) -> str:
        """``queued`` (running or pending), ``done`` (in the history) or ``unknown``.

        The queue is read before the history: ComfyUI writes the history and drops the
        running item in one step, so an id in neither is truly unknown.
        """
        running, pending = client.queue()
        if pid in running or pid in pending:
            return "queued"
        return "done" if client.history(pid) is not None else "unknown"

    def _fresh(self, client: Client, key: str) -> tuple[str, bool]:
        """The first id of ``key`` not spent on a failed job, and whether the server has it."""
        for attempt in range(1000):
            pid = prompt_id(key, attempt)
            where = self._where(client, pid)
            if where == "unknown":
                return pid, False
            if where == "queued":
                return pid, True
            entry = client.history(pid)
            if entry is not None and _succeeded(entry):
                return pid, True
        raise ProviderError(f"ComfyUI at {client.shown} holds 1000 failed jobs of one shot")

    def _queue(self, client: Client, pid: str, job: Job, journal: TaskJournal, cid: str) -> str:
        """Upload the inputs and queue the prompt as ``pid`` for the websocket session
        ``cid``; the id the server took.

        ComfyUI before client-chosen ids (spring 2025) picks its own: that one is journaled
        then, so a resume still finds the job (only the look-up by key is lost)."""
        values = dict(job.values)
        for marker, path in job.files.items():
            digest = hashlib.sha256(path.read_bytes()).hexdigest()[:20]
            values[marker] = client.upload(path, f"dramaforge-{digest}{path.suffix.lower()}")
        graph = job.workflow.filled(snapped(job.workflow, values, _info(client)))
        try:
            taken, errors = client.submit(graph, pid, cid)
        except Refused as err:
            journal.forget()  # refused outright: nothing is queued
            raise ProviderError(refusal(job.workflow, err.body, client.shown)) from None
        if taken != pid:
            journal.record(f"{taken}@{client.url}")
        if any(
            job.workflow.output in (e or {}).get("dependent_outputs", []) for e in errors.values()
        ):
            # queued for its other outputs only: ours would never come
            client.cancel(taken)
            journal.forget()
            raise ProviderError(refusal(job.workflow, {"node_errors": errors}, client.shown))
        return taken

    def _cancel(self, client: Client, pid: str, journal: TaskJournal) -> None:
        try:
            client.cancel(pid)
        except ProviderError as err:  # unreachable: the journal keeps the id for a resume
            log.warning("could not cancel ComfyUI prompt %s: %s", pid, err)
            return
        journal.forget()

    def _wait(
        self,
        client: Client,
        pid: str,
        job: Job,
        journal: TaskJournal,
        sock: Socket,
        ctrl_c: int,
    ) -> Finished:
        s = self.settings
        deadline = time.monotonic() + s.job_minutes * 60
        watch = Progress(job, self.report)
        requeued = 0
        next_check = 0.0
        while True:
            self._guard(client, pid, job, journal, deadline, ctrl_c)
            if sock.listen(watch):
                next_check = 0.0
            if time.monotonic() < next_check:
                continue
            next_check = time.monotonic() + s.poll_seconds
            try:  # a server going down between any two of these calls is waited for
                where = self._where(client, pid)
                if where == "done":
                    entry = client.history(pid)
                    if entry is not None:
                        sock.drain(watch)
                        return self._finished(client, pid, entry, job, journal)
                elif where == "unknown":
                    if requeued >= s.requeues:
                        journal.forget()
                        raise ProviderError(
                            f"{job.what}: ComfyUI at {client.shown} lost the job "
                            f"{requeued + 1} times (restarted mid-job); giving up "
                            "([comfyui] requeues)",
                            retryable=True,
                        )
                    requeued += 1
                    self.report(f"{job.what}: {client.shown} lost the job; queued again")
                    pid = sock.pid = self._queue(client, pid, job, journal, sock.cid)
            except Unreachable:
                self._down(client, job, sock)
                continue
            sock.up()

    def _guard(
        self,
        client: Client,
        pid: str,
        job: Job,
        journal: TaskJournal,
        deadline: float,
        ctrl_c: int,
    ) -> None:
        """Cancel the job on Ctrl-C, when the program is ending or past its time."""
        if _shutting_down() or _SIGINTS[0] != ctrl_c:
            self._cancel(client, pid, journal)
            raise ProviderError(f"{job.what}: cancelled (Ctrl-C)")
        if time.monotonic() > deadline:
            self._cancel(client, pid, journal)
            minutes = self.settings.job_minutes
            raise ProviderError(
                f"{job.what}: ComfyUI at {client.shown} did not finish in {minutes:g} minutes; "
                "cancelled ([comfyui] job_minutes)",
                retryable=True,
            )

    def _down(self, client: Client, job: Job, sock: Socket) -> None:
        """The server does not answer: wait for it (a restart), up to a point."""
        sock.down()
        minutes = self.settings.unreachable_minutes
        if sock.down_for() > minutes * 60:
            raise ProviderError(
                f"{job.what}: ComfyUI at {client.shown} has not answered for {minutes:g} "
                "minutes; the job is kept and looked up when the render is resumed",
                retryable=True,
            ) from None

    def _finished(
        self, client: Client, pid: str, entry: dict[str, Any], job: Job, journal: TaskJournal
    ) -> Finished:
        status = entry.get("status") or {}
        if _succeeded(entry):
            return Finished(client, pid, dict(entry.get("outputs") or {}))
        journal.forget()  # the next try takes the key's next id
        messages = dict(_messages(status))
        if "execution_interrupted" in messages:
            raise ProviderError(
                f"{job.what}: the job was interrupted on ComfyUI at {client.shown}", retryable=True
            )
        error = messages.get("execution_error") or {}
        node = str(error.get("node_id", ""))
        where = job.workflow.describe(node) if node in job.workflow.graph else f"node {node}"
        kind = error.get("exception_type", "error")
        raise ProviderError(
            f"{job.what}: ComfyUI node {where} failed: {kind}: "
            f"{error.get('exception_message', '?')}".rstrip()
        )


def _messages(status: dict[str, Any]) -> list[tuple[str, dict[str, Any]]]:
    found = []
    for item in status.get("messages") or []:
        if isinstance(item, list | tuple) and len(item) == 2 and isinstance(item[1], dict):
            found.append((str(item[0]), item[1]))
    return found


def _succeeded(entry: dict[str, Any]) -> bool:
    status = entry.get("status") or {}
    return bool(status.get("completed")) or status.get("status_str") == "success"


def client_id(pid: str) -> str:
    """The websocket session of one prompt: the same after a resume, so its messages
    (sent only to the client that queued it) reach the resumed render too."""
    return f"dramaforge-{pid}"


def _info(client: Client) -> dict[str, Any]:
    try:
        return client.object_info()
    except ProviderError:
        return {}


def snapped(wf: Workflow, values: dict[str, Any], info: dict[str, Any]) -> dict[str, Any]:
    """``values`` with sizes and frame counts moved onto each bound input's grid."""
    out = dict(values)
    for marker in SNAPPED:
        if marker not in values:
            continue
        for b in wf.bindings.get(marker, []):
            spec = _input_spec(info, str(wf.graph[b.node]["class_type"]), b.input)
            if spec:
                out[marker] = _snap(int(values[marker]), spec, up=marker == "frames")
    return out


def _input_spec(info: dict[str, Any], class_type: str, name: str) -> dict[str, Any]:
    inputs = (info.get(class_type) or {}).get("input") or {}
    for group in ("required", "optional"):
        spec = (inputs.get(group) or {}).get(name)
        if isinstance(spec, list | tuple) and len(spec) > 1 and isinstance(spec[1], dict):
            return spec[1]
    return {}


def _snap(value: int, spec: dict[str, Any], *, up: bool) -> int:
    low = int(spec.get("min", 0))
    step = max(int(spec.get("step", 1)), 1)
    k = (value - low) / step
    k = -int(-k // 1) if up else round(k)  # frames: never fewer than the shot needs
    snapped = low + max(int(k), 0) * step
    high = spec.get("max")
    return min(snapped, int(high)) if high is not None else snapped


def refusal(wf: Workflow, body: dict[str, Any], server: str) -> str:
    """ComfyUI's 400 reply to a prompt as one line: each failing node by its title."""
    error = body.get("error")
    head = error.get("message", "") if isinstance(error, dict) else str(error or "")
    details = error.get("details", "") if isinstance(error, dict) else ""
    parts = []
    for node, info in (body.get("node_errors") or {}).items():
        reasons = "; ".join(
            f"{e.get('message', '')}: {e.get('details', '')}".strip(": ")
            for e in (info or {}).get("errors", [])
        )
        where = wf.describe(str(node)) if str(node) in wf.graph else f"node {node}"
        parts.append(f"{where}: {reasons}")
    why = "; ".join(parts) or f"{head}{': ' + details if details else ''}"
    return f"ComfyUI at {server} refused workflow {wf.path.name}: {why}"


class Socket:
    """The prompt's websocket session, opened again after it drops (not while the server is
    down: the queue check says when it is back)."""

    def __init__(self, client: Client, pid: str, tick: float) -> None:
        self.client = client
        self.pid = pid
        self.cid = client_id(pid)
        """The session stays the one the prompt was first queued for, whatever id it has."""
        self.tick = tick
        self.ws: ClientConnection | None = None
        self.down_since: float | None = None
        self.retry_at = 0.0
        """When to try the socket again after it could not be opened (a proxy without
        websockets): until then the queue checks alone follow the job."""
        self._stack = contextlib.ExitStack()

    def __enter__(self) -> Socket:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def close(self) -> None:
        self._stack.close()
        self._stack = contextlib.ExitStack()
        self.ws = None

    def open(self) -> None:
        """Connect unless connected, or the server is known to be down."""
        from websockets.exceptions import ConnectionClosed, InvalidHandshake
        from websockets.sync.client import connect

        if self.ws is not None or self.down_since is not None:
            return
        if time.monotonic() < self.retry_at:
            return
        url = self.client.ws_url(self.cid)
        try:
            session = connect(url, open_timeout=5, close_timeout=1, max_size=MAX_MESSAGE)
            self.ws = self._stack.enter_context(session)
            self.ws.recv(timeout=5)  # "status": sent once the server has registered us
        except (OSError, InvalidHandshake, TimeoutError, ConnectionClosed):
            self.close()
            self.retry_at = time.monotonic() + 10.0

    def down(self) -> None:
        self.close()
        if self.down_since is None:
            self.down_since = time.monotonic()

    def up(self) -> None:
        """The server answers again: the socket may be opened at once."""
        if self.down_since is not None:
            self.retry_at = 0.0
        self.down_since = None

    def down_for(self) -> float:
        return 0.0 if self.down_since is None else time.monotonic() - self.down_since

    def drain(self, watch: Progress) -> None:
        """Show what the socket already holds (a fast job ends before it is all read)."""
        from websockets.exceptions import ConnectionClosed

        while self.ws is not None:
            try:
                msg = message(self.ws.recv(timeout=0))
            except (TimeoutError, ConnectionClosed):
                return
            if msg is not None:
                watch.seen(msg, self.pid)

    def listen(self, watch: Progress) -> bool:
        """Wait up to a tick for a message; True when the queue should be looked at now
        (the prompt ended, or the socket dropped as it does when the server restarts)."""
        from websockets.exceptions import ConnectionClosed

        self.open()
        if self.ws is None:
            time.sleep(self.tick)
            return False
        try:
            msg = message(self.ws.recv(timeout=self.tick))
        except TimeoutError:
            return False
        except ConnectionClosed:
            self.close()
            return True
        return msg is not None and watch.seen(msg, self.pid)


class Progress:
    """The websocket's messages about one prompt, turned into a line per change."""

    def __init__(self, job: Job, report: Report) -> None:
        self.job = job
        self.report = report
        self.node = ""
        self.last = ""

    def seen(self, msg: dict[str, Any], pid: str) -> bool:
        """Note ``msg``; True when it says the prompt ended (look in the history now)."""
        kind, data = msg.get("type"), msg.get("data") or {}
        if not isinstance(data, dict) or data.get("prompt_id", pid) != pid:
            return False
        wf = self.job.workflow
        if kind == "executing":
            node = data.get("node")
            if node is None:
                return True
            self.node = wf.title(str(node))
            self._say(self.node)
        elif kind == "progress":
            node = data.get("node")
            title = wf.title(str(node)) if node is not None else self.node
            self._say(f"{title} {data.get('value', 0)}/{data.get('max', 0)}")
        elif kind == "execution_start":
            self._say("started")
        return kind in ("execution_success", "execution_error", "execution_interrupted")

    def _say(self, text: str) -> None:
        if text != self.last:
            self.last = text
            self.report(f"{self.job.what}: {text}")
