"""Per-model provider slots that hold cluster-wide: one row per slot, taken with
``SELECT … FOR UPDATE SKIP LOCKED`` inside a transaction held for the provider call and
released when it ends (or when the holder's session dies). Ray's resources only count per
node; an account's concurrency limit counts across every node.
"""

from __future__ import annotations

import random
import time
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from dramaforge.cluster.pg import connect

WAIT = 0.05
"""Seconds between looks for a free slot (with jitter, doubling up to ``MAX_WAIT``)."""
MAX_WAIT = 0.4


@contextmanager
def provider_slot(dsn: str, model: str, limit: int, holder: str) -> Iterator[int]:
    """Hold one of ``model``'s ``limit`` slots for the duration of the block; waits for one.

    The connection is not in autocommit: the row lock lives in the open transaction, which
    the block's end (or the holder's death) rolls back.
    """
    conn = connect(dsn, role=f"dramaforge slot {holder[:12]}", autocommit=False)
    try:
        conn.execute(
            "INSERT INTO dramaforge_slots (model, slot) SELECT %s, g FROM generate_series(1, %s) g "
            "ON CONFLICT DO NOTHING",
            (model, limit),
        )
        conn.commit()
        wait = WAIT
        while True:
            row = conn.execute(
                "SELECT slot FROM dramaforge_slots WHERE model = %s AND slot <= %s "
                "ORDER BY slot LIMIT 1 FOR UPDATE SKIP LOCKED",
                (model, limit),
            ).fetchone()
            if row is not None:
                break
            conn.rollback()
            time.sleep(wait * (0.5 + random.random()))
            wait = min(wait * 2, MAX_WAIT)
        try:
            yield int(row[0])
        finally:
            conn.rollback()
    finally:
        conn.close()


def in_use(conn: Any) -> dict[str, tuple[int, int]]:
    """``model -> (slots held, slots)`` as seen now: a held slot is a locked row (a free one is
    locked for an instant here and let go; a claimant skipping it looks again)."""
    total = dict(
        conn.execute("SELECT model, count(*) FROM dramaforge_slots GROUP BY model").fetchall()
    )
    with conn.transaction():
        free = dict(
            conn.execute(
                "SELECT model, count(*) FROM (SELECT model FROM dramaforge_slots "
                "FOR UPDATE SKIP LOCKED) f GROUP BY model"
            ).fetchall()
        )
    return {m: (int(n) - int(free.get(m, 0)), int(n)) for m, n in total.items()}
