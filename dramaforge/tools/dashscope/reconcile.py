"""Finding the task a submit created when its reply never reached the journal.

A submit's reply can be lost in two ways: the connection fails (timeout, reset, 5xx), or the
process dies after DashScope accepted the request but before the task id was written down.
Either way the journal holds the *intent* written before the request went out (model, hash
of the body, time sent), and the task, if one was created, is in DashScope's task list
(``GET /api/v1/tasks``), which gives per task its id, model name and creation time
(``gmt_create``, ms) but not the request body.

A candidate is a task of the intent's model, created in a window around the time sent, whose
id no render on this machine has recorded: the account-wide ledger (``[dashscope] ledger``,
in the user's cache, shared by every output folder), this store's journals and this process.
The task detail (``GET /api/v1/tasks/{id}``) shows a finished task's ``orig_prompt`` (top
level for video, per result for images): a candidate whose prompt differs from the request's
is someone else's and is dropped, one whose prompt matches is adopted. A candidate that shows
no prompt (not finished, failed) is adopted only if it is the sole candidate and no rival
intent (another asset's lost submit of the same model, with a different body, whose window
also holds it) competes. Anything else stops with an error rather than guess and give one
shot another's picture.
"""

from __future__ import annotations

import hashlib
import json
import logging
import threading
import time
from collections.abc import Callable
from contextlib import AbstractContextManager
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from dramaforge.errors import ProviderError
from dramaforge.media.files import append_line, atomic_file, file_lock
from dramaforge.tools.protocols import SubmitIntent, TaskJournal

log = logging.getLogger(__name__)

SLACK = 120.0
"""Seconds either side of the send time that a task's creation time may differ (clock skew)."""
PAGE_SIZE = 50
MAX_PAGES = 20
# The list's time filter is 'YYYYMMDDhhmmss' in an undocumented zone, and a window may span
# 24 hours at most: the query starts at the send time read as UTC and ends read as Beijing
# time (UTC+8), which holds the true window whichever zone the server assumes.
BEIJING = timedelta(hours=8)

KEEP = 3 * 24 * 3600.0
"""Seconds a claim is kept: DashScope keeps tasks 24 hours, the list's window is a day."""
PRUNE_BYTES = 512 * 1024

_CLAIMED: set[str] = set()
_CLAIMED_LOCK = threading.Lock()

ListPage = Callable[[dict[str, Any]], dict[str, Any]]
Detail = Callable[[str], dict[str, Any]]
"""A task's detail reply (``GET /api/v1/tasks/{id}``), by id."""


def claim(task_id: str, ledger: Path | None = None) -> None:
    """Mark ``task_id`` as owned by an asset; it is never adopted again, by this process or,
    with ``ledger``, by any render on the machine.

    The ledger holds ``<task id> <unix time>`` lines; past ``PRUNE_BYTES`` the ones older than
    the task list keeps (``KEEP``) are dropped, since they can never be candidates again. A
    ledger that cannot be written is a warning, not a failure: the task is already paid for.
    """
    with _CLAIMED_LOCK:
        _CLAIMED.add(task_id)
    if ledger is None:
        return
    try:
        if task_id in read_ledger(ledger):
            return
        with _ledger_lock(ledger, shared=True):
            append_line(ledger, f"{task_id} {int(time.time())}", private=True)
        if ledger.stat().st_size > PRUNE_BYTES:
            _prune(ledger)
    except OSError as err:
        log.warning(
            "DashScope task ledger %s: %s; task %s is claimed here only", ledger, err, task_id
        )


def claimed_here() -> set[str]:
    with _CLAIMED_LOCK:
        return set(_CLAIMED)


def read_ledger(ledger: Path) -> set[str]:
    """Task ids in the ledger (the first word of each line)."""
    try:
        text = ledger.read_text(encoding="utf-8")
    except FileNotFoundError:
        return set()
    return {line.split()[0] for line in text.splitlines() if line.strip()}


def _ledger_lock(ledger: Path, *, shared: bool) -> AbstractContextManager[None]:
    """Appenders share the lock; pruning, which replaces the file, holds it alone."""
    return file_lock(ledger.with_name(ledger.name + ".lock"), shared=shared)


def _prune(ledger: Path) -> None:
    cutoff = time.time() - KEEP
    with _ledger_lock(ledger, shared=False):
        lines = ledger.read_text(encoding="utf-8").splitlines()
        kept = [
            line
            for line in lines
            if len(parts := line.split()) >= 1
            and (len(parts) < 2 or not parts[1].isdigit() or int(parts[1]) >= cutoff)
        ]
        with atomic_file(ledger) as tmp:
            tmp.write_text("".join(f"{line}\n" for line in kept), encoding="utf-8")


def prompt_of(body: dict[str, Any]) -> str | None:
    """The prompt a request sends (``input.prompt``), which the task detail echoes back."""
    value = (body.get("input") or {}).get("prompt")
    return str(value) if value is not None else None


def shown_prompt(detail: dict[str, Any]) -> str | None:
    """``orig_prompt`` from a task detail: ``output.orig_prompt`` (video) or per result."""
    output = detail.get("output") or {}
    if output.get("orig_prompt") is not None:
        return str(output["orig_prompt"])
    for result in output.get("results") or []:
        if isinstance(result, dict) and result.get("orig_prompt") is not None:
            return str(result["orig_prompt"])
    return None


def body_digest(body: dict[str, Any], extra: dict[str, str] | None = None) -> str:
    """sha256 of the request body as sent (keys sorted), plus digests of files it uploads."""
    blob = json.dumps([body, extra or {}], sort_keys=True, ensure_ascii=False)
    return hashlib.sha256(blob.encode()).hexdigest()


def window(intent: SubmitIntent, timeout: float) -> tuple[float, float]:
    """UNIX seconds in which the intent's task, if any, was created."""
    return intent.sent_at - SLACK, intent.sent_at + timeout + SLACK


def query(intent: SubmitIntent, timeout: float) -> dict[str, Any]:
    """Task-list parameters (without the page) covering the intent's window."""
    lo, hi = window(intent, timeout)
    start = datetime.fromtimestamp(lo, UTC)
    end = datetime.fromtimestamp(hi, UTC) + BEIJING
    return {
        "model_name": intent.model,
        "start_time": start.strftime("%Y%m%d%H%M%S"),
        "end_time": end.strftime("%Y%m%d%H%M%S"),
        "page_size": PAGE_SIZE,
    }


def list_tasks(intent: SubmitIntent, timeout: float, page: ListPage) -> list[dict[str, Any]]:
    """Every task the list shows for the intent's model and window, page by page."""
    items: list[dict[str, Any]] = []
    params = query(intent, timeout)
    for number in range(1, MAX_PAGES + 1):
        reply = page(params | {"page_no": number})
        items.extend(item for item in reply.get("data") or [] if isinstance(item, dict))
        if number >= int(reply.get("total_page") or 1):
            return items
    log.warning("DashScope task list: more than %d pages; later tasks not checked", MAX_PAGES)
    return items


def _created(item: dict[str, Any]) -> float | None:
    value = item.get("gmt_create")
    return float(value) / 1000 if isinstance(value, int | float) else None


def _inside(item: dict[str, Any], intent: SubmitIntent, timeout: float) -> bool:
    created = _created(item)
    lo, hi = window(intent, timeout)
    return created is None or lo <= created <= hi


def choose(
    intent: SubmitIntent,
    items: list[dict[str, Any]],
    *,
    claimed: set[str],
    rivals: list[SubmitIntent],
    timeout: float,
    what: str,
    prompt: str | None = None,
    detail: Detail | None = None,
) -> str | None:
    """The task the intent created, or None if it created none; raise if that is unclear."""
    candidates = [
        str(item["task_id"])
        for item in items
        if item.get("task_id")
        and str(item["task_id"]) not in claimed
        and item.get("model_name") in (None, intent.model)
        and _inside(item, intent, timeout)
    ]
    if candidates and prompt is not None and detail is not None:
        shown = {task_id: shown_prompt(detail(task_id)) for task_id in candidates}
        same = [task_id for task_id in candidates if shown[task_id] == prompt]
        if len(same) == 1:
            return same[0]
        candidates = [task_id for task_id in candidates if shown[task_id] is None] + same
    if not candidates:
        return None
    by_id = {str(item.get("task_id")): item for item in items}
    competing = [
        rival
        for rival in rivals
        if rival.model == intent.model
        and rival.body_sha256 != intent.body_sha256
        and any(_inside(by_id[c], rival, timeout) for c in candidates)
    ]
    if len(candidates) == 1 and not competing:
        return candidates[0]
    raise ProviderError(
        f"DashScope {what}: a submit's reply was lost and {len(candidates)} unrecorded "
        f"{intent.model} task(s) ({', '.join(candidates)}) could be its, with "
        f"{len(competing)} other lost submit(s) of the same model; not submitting again to "
        "avoid paying twice. Delete this shot's .task.json in the asset store to submit anew."
    )


def find_task(
    intent: SubmitIntent,
    journal: TaskJournal,
    timeout: float,
    page: ListPage,
    what: str,
    *,
    ledger: Path | None = None,
    prompt: str | None = None,
    detail: Detail | None = None,
) -> str | None:
    """Look the intent's task up in the task list; see ``choose``."""
    items = list_tasks(intent, timeout, page)
    claimed = journal.claimed() | claimed_here()
    if ledger is not None:
        claimed |= read_ledger(ledger)
    found = choose(
        intent,
        items,
        claimed=claimed,
        rivals=journal.rivals(),
        timeout=timeout,
        what=what,
        prompt=prompt,
        detail=detail,
    )
    if found is not None:
        log.warning("DashScope %s: reply lost; adopted task %s from the task list", what, found)
    return found
