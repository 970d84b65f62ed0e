"""Resolving a submit whose reply never arrived: recorded, found in the task list, or none.

A lost reply (timeout, dropped connection, 5xx) leaves the paid state unknown. DashScope's
task list shows a new task only after a lag, so "not in the list" means "not created" only
once the list has surely caught up: ``timeout + list_lag`` seconds after the send. Until
then the list is read again with backoff; the caller decides what an unresolved intent means
(a fresh submit stops the shot, a resumed run may submit once the list has caught up).

Submits of one model go out one at a time per process (``submit_lock``), so a crash leaves
at most one unresolved intent per model to look up; polls run up to the model's limit
(``semaphore``).
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable
from typing import Any, Protocol

from dramaforge.config import DashScopeSettings
from dramaforge.errors import ProviderError
from dramaforge.tools import progress
from dramaforge.tools.dashscope import reconcile
from dramaforge.tools.protocols import SubmitIntent, TaskJournal


class Transport(Protocol):
    """What a lookup needs of the transport (``transport.Transport``): its settings and API
    root, a GET, a poll and a way to record a found task id."""

    root: str
    settings: DashScopeSettings

    def get_json(self, url: str, what: str, params: dict[str, Any] | None = None) -> Any: ...

    def poll(self, task_id: str, what: str) -> tuple[str, dict[str, Any]]: ...

    def record(self, journal: TaskJournal, task_id: str) -> None: ...


log = logging.getLogger(__name__)

clock: Callable[[], float] = time.time
"""Wall time for intents and the lost-reply wait; a test swaps both to model long lags."""
pause: Callable[[float], None] = time.sleep

_SEMAPHORES: dict[tuple[str, str], threading.BoundedSemaphore] = {}
_SUBMITS: dict[tuple[str, str], threading.Lock] = {}
_LOCKS = threading.Lock()


def semaphore(root: str, model: str, size: int) -> threading.BoundedSemaphore:
    with _LOCKS:
        sem = _SEMAPHORES.get((root, model))
        if sem is None:
            sem = _SEMAPHORES[(root, model)] = threading.BoundedSemaphore(size)
        return sem


def submit_lock(root: str, model: str) -> threading.Lock:
    with _LOCKS:
        return _SUBMITS.setdefault((root, model), threading.Lock())


def settled(t: Transport, intent: SubmitIntent) -> float:
    """When the task list surely shows the intent's task, if one was created."""
    return intent.sent_at + t.settings.timeout + t.settings.list_lag


def resume(t: Transport, journal: TaskJournal, what: str, body: dict[str, Any]) -> str | None:
    """The task an earlier try submitted: recorded, or found for a recorded intent.

    An intent whose task the list does not show is resubmitted only once the list has surely
    caught up (``settled``); until then it is looked up again with backoff.
    """
    entry = journal.read()
    if entry.task_id is not None:
        t.record(journal, entry.task_id)  # again: the ledger may have missed it
        return entry.task_id
    if entry.intent is None:
        return None
    # Outside the model's submit lock, as after a fresh submit: other shots go on meanwhile.
    found = look_until_settled(t, entry.intent, journal, what, body)
    if found is not None:
        t.record(journal, found)
        return found
    log.info("DashScope %s: the earlier submit created no task; submitting anew", what)
    return None


def look_until_settled(
    t: Transport, intent: SubmitIntent, journal: TaskJournal, what: str, body: dict[str, Any]
) -> str | None:
    """Read the task list, again with backoff, until the intent's task shows or the list has
    surely caught up; None means no task was created.

    Each look is told to the shot's progress line (the wait is the shot's, not a hang). A look
    that cannot decide (another shot's submit in flight, whose task shows before its reply is
    recorded; a list read that failed) is tried again until the list has caught up."""
    delay = t.settings.poll_interval
    while True:
        left = settled(t, intent) - clock()
        progress.report(
            "dashscope",
            f"waiting: a submit got no reply; looking for its task in the task list "
            f"({max(left, 0.0):.0f}s left)",
        )
        try:
            found = find(t, intent, journal, what, body)
        except ProviderError as err:
            if settled(t, intent) - clock() <= 0:
                raise
            log.info("DashScope %s: task list undecided (%s); looking again", what, err)
            found = None
        left = settled(t, intent) - clock()
        if found is not None or left <= 0:
            return found
        pause(min(delay, left))
        delay = min(delay * 2, max(t.settings.list_lag, t.settings.poll_interval))


def find(
    t: Transport, intent: SubmitIntent, journal: TaskJournal, what: str, body: dict[str, Any]
) -> str | None:
    """One look at the task list (and candidates' details); see ``reconcile.find_task``."""

    def page(params: dict[str, Any]) -> dict[str, Any]:
        reply: dict[str, Any] = t.get_json(f"{t.root}/tasks", f"{what} (task list)", params)
        return reply

    def detail(task_id: str) -> dict[str, Any]:  # a finished task shows its prompt
        return t.poll(task_id, f"{what} (candidate task)")[1]

    return reconcile.find_task(
        intent,
        journal,
        t.settings.timeout,
        page,
        what,
        ledger=t.settings.ledger,
        prompt=reconcile.prompt_of(body),
        detail=detail,
    )
