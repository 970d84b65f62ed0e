"""What a paid backend reports and records: the result's cost, the submit it is about to send,
and the journal that keeps both across a crash.

These sit beside the asset store (``store.py`` keeps one journal per asset) so the editing
engine depends on no backend; the tool agents' Protocols (``dramaforge.tools.protocols``)
take a ``TaskJournal`` and return ``Generated``.
"""

from __future__ import annotations

from typing import Protocol

from pydantic import BaseModel


class Generated(BaseModel):
    """What a backend reports besides the file: duration of media made, money spent."""

    duration: float | None = None
    cost: float = 0.0
    model: str = ""
    gpu_seconds: float | None = None
    """Device time a local model held a GPU (or CPU) for this result; its ``cost`` is these
    seconds at the configured price per GPU-hour."""
    note: str = ""
    """What the person should know about how it was made (e.g. possibly paid twice)."""
    node: str | None = None
    """The machine that made it when that is not the one that asked: on a cluster, the node
    of the GPU actor that ran a ``diffusers:*`` shot for an episode elsewhere."""


class SubmitIntent(BaseModel):
    """A paid submit about to be sent, written to the journal *before* the request goes out.

    If the process dies between the provider accepting the submit and the task id reaching
    the journal, this is what is left: enough to find the task in the provider's task list
    (model, time sent) and to tell it from a sibling's (hash of the request body).
    """

    model: str
    body_sha256: str
    sent_at: float
    """UNIX time (seconds) just before the request was sent."""


class JournalEntry(BaseModel):
    """What one asset's journal holds: a task id, or an intent whose reply never arrived."""

    task_id: str | None = None
    intent: SubmitIntent | None = None
    result: str | None = None
    """A synchronous reply's file URL, kept before it is downloaded: a run killed between the
    reply and the stored file fetches it again instead of paying for a second reply."""


class TaskJournal(Protocol):
    """Where a paid backend records what it submitted, so a crash never pays twice.

    Order of writes for one submit: ``intend`` (before the request), then ``record`` (as soon
    as the task id is known), then polling. A render killed at any point and resumed finds
    either the task id (polled, not resubmitted) or the intent (looked up in the provider's
    task list before anything is resubmitted). One journal belongs to one asset (store key);
    ``claimed`` and ``rivals`` look at the other assets of the same store.
    """

    def read(self) -> JournalEntry:
        """The task id or intent recorded for this asset (empty if nothing was submitted)."""
        ...

    def intend(self, intent: SubmitIntent) -> None:
        """Persist ``intent`` durably before returning; it replaces anything recorded."""
        ...

    def record(self, task_id: str) -> None:
        """Persist ``task_id`` durably before returning; it resolves the intent."""
        ...

    def record_result(self, url: str) -> None:
        """Persist a synchronous reply's file URL durably before returning."""
        ...

    def forget(self) -> None:
        """Drop the record (the task failed for good, or no task was created)."""
        ...

    def claimed(self) -> set[str]:
        """Task ids ever recorded by any asset of this store: never adopted by another."""
        ...

    def rivals(self) -> list[SubmitIntent]:
        """Unresolved intents of the store's *other* assets (their replies were lost too)."""
        ...
