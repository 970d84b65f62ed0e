"""Paid once across machines: an asset's submit is claimed under a session advisory lock on a
direct connection, journaled, sent and recorded in PostgreSQL.

The protocol, per asset key (``AssetClaim`` + ``PgJournal``):

* ``pg_try_advisory_lock(asset)``: not acquired means a live owner is working on it (a session
  lock dies with its session, so a killed owner never holds it): come back later.
* Holding it, read the journal row. None: write ``reserved`` (the intent), send, write
  ``submitted`` with the task id. ``reserved`` found by a new owner: the last one died between
  sending and recording, so the row becomes ``in_doubt`` and the transport reconciles it
  against the provider's task list; it never resubmits blindly. ``submitted``/``finished``:
  poll the recorded task, never submit.
* Every task id recorded goes to the cluster's task ledger (``dramaforge_tasks``), which no
  other asset's lost submit may adopt.
"""

from __future__ import annotations

import json
from contextvars import ContextVar
from datetime import datetime
from typing import TYPE_CHECKING, Any

from dramaforge.cluster.pg import connect, lock_key
from dramaforge.media.journal import JournalEntry, SubmitIntent

if TYPE_CHECKING:
    import psycopg


class AssetClaim:
    """The per-asset session lock, on a connection of its own (closed on release)."""

    def __init__(self, dsn: str, asset: str, node: str) -> None:
        self.asset = asset
        self.node = node
        self.key = lock_key("asset", asset)
        self.conn: psycopg.Connection[Any] = connect(dsn, role=f"dramaforge claim {node[:12]}")
        self.held = False
        self.since: datetime | None = None
        """PostgreSQL's clock when the lock was taken: what the asset's predecessors left
        (a provider slot) is older."""

    def try_acquire(self) -> bool:
        row = self.conn.execute("SELECT pg_try_advisory_lock(%s), now()", (self.key,)).fetchone()
        self.held = bool(row and row[0])
        self.since = row[1] if row and self.held else None
        return self.held

    def release(self) -> None:
        try:
            if self.held:
                self.conn.execute("SELECT pg_advisory_unlock(%s)", (self.key,))
        finally:
            self.held = False
            self.conn.close()  # the lock would go with the session anyway

    def journal(self) -> PgJournal:
        return PgJournal(self.conn, self.asset, self.node)


making: ContextVar[AssetClaim | None] = ContextVar("dramaforge_making", default=None)
"""The claim of the asset this thread is making (set by ``ClusterStore`` around its ``make``):
the paid call inside takes its provider slot as that asset's."""


class PgJournal:
    """A ``TaskJournal`` in ``dramaforge_journal``, written only by the holder of the asset's
    claim. Each write is its own committed statement: durable before the method returns."""

    def __init__(self, conn: psycopg.Connection[Any], asset: str, node: str) -> None:
        self.conn = conn
        self.asset = asset
        self.node = node
        self._wrote = False  # an intent this owner wrote is its own, not a dead owner's

    def __repr__(self) -> str:
        return f"PgJournal({self.asset!r})"

    def state(self) -> str | None:
        row = self.conn.execute(
            "SELECT state FROM dramaforge_journal WHERE asset = %s", (self.asset,)
        ).fetchone()
        return str(row[0]) if row else None

    def read(self) -> JournalEntry:
        row = self.conn.execute(
            "SELECT state, task_id, intent, result FROM dramaforge_journal WHERE asset = %s",
            (self.asset,),
        ).fetchone()
        if row is None:
            return JournalEntry()
        state, task_id, intent, result = row
        if state == "reserved" and not self._wrote:
            # The owner that wrote it is gone (we hold the lock): its submit may have been paid.
            self._set("in_doubt")
        return JournalEntry(
            task_id=task_id,
            intent=SubmitIntent.model_validate(intent) if intent else None,
            result=result,
        )

    def _set(self, state: str) -> None:
        self.conn.execute(
            "UPDATE dramaforge_journal SET state = %s, updated_at = now() WHERE asset = %s",
            (state, self.asset),
        )

    def intend(self, intent: SubmitIntent) -> None:
        self._wrote = True
        self.conn.execute(
            """INSERT INTO dramaforge_journal (asset, state, intent, node, updated_at)
               VALUES (%s, 'reserved', %s, %s, now())
               ON CONFLICT (asset) DO UPDATE SET state = 'reserved', intent = excluded.intent,
                   task_id = NULL, result = NULL, node = excluded.node, updated_at = now()""",
            (self.asset, json.dumps(intent.model_dump(mode="json")), self.node),
        )

    def record(self, task_id: str) -> None:
        """Journal and ledger in one transaction; recording the same id again is harmless."""
        with self.conn.transaction():
            self.conn.execute(
                """INSERT INTO dramaforge_journal (asset, state, task_id, node, updated_at)
                   VALUES (%s, 'submitted', %s, %s, now())
                   ON CONFLICT (asset) DO UPDATE SET state = 'submitted',
                       task_id = excluded.task_id, node = excluded.node, updated_at = now()""",
                (self.asset, task_id, self.node),
            )
            self.conn.execute(
                """INSERT INTO dramaforge_tasks (task_id, asset, node) VALUES (%s, %s, %s)
                   ON CONFLICT (task_id) DO NOTHING""",
                (task_id, self.asset, self.node),
            )

    def record_result(self, url: str) -> None:
        self.conn.execute(
            """INSERT INTO dramaforge_journal (asset, state, result, node, updated_at)
               VALUES (%s, 'submitted', %s, %s, now())
               ON CONFLICT (asset) DO UPDATE SET state = 'submitted', result = excluded.result,
                   intent = NULL, task_id = NULL, node = excluded.node, updated_at = now()""",
            (self.asset, url, self.node),
        )

    def forget(self) -> None:
        self.conn.execute("DELETE FROM dramaforge_journal WHERE asset = %s", (self.asset,))

    def finish(self) -> None:
        """The asset is stored: kept as ``finished`` (its task id stays claimed)."""
        self.conn.execute(
            "UPDATE dramaforge_journal SET state = 'finished', updated_at = now() WHERE asset = %s",
            (self.asset,),
        )

    def claimed(self) -> set[str]:
        rows = self.conn.execute(
            "SELECT task_id FROM dramaforge_tasks UNION "
            "SELECT task_id FROM dramaforge_journal WHERE task_id IS NOT NULL"
        ).fetchall()
        return {str(r[0]) for r in rows}

    def rivals(self) -> list[SubmitIntent]:
        rows = self.conn.execute(
            "SELECT intent FROM dramaforge_journal WHERE asset <> %s AND task_id IS NULL "
            "AND intent IS NOT NULL AND state IN ('reserved', 'in_doubt')",
            (self.asset,),
        ).fetchall()
        return [SubmitIntent.model_validate(r[0]) for r in rows]
