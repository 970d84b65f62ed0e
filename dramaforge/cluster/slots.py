"""Per-model provider slots that hold cluster-wide: one row per slot in ``dramaforge_slots``.

A slot belongs to the provider task, not to a connection. Taking one writes who holds it (the
asset whose paid call it is, that asset's claim, a token, the node, when) in one short
statement; the call's end clears it. A holder that dies leaves its row taken, because its task
runs on at the provider and still counts against the account's limit. Two things free it:

* **The asset's next maker adopts it.** Only the holder of an asset's claim (``claims``) makes
  the asset, so a row naming that asset and taken before the claim was acquired belongs to a
  dead predecessor. The successor (Ray's retry of the episode reaches the same content key)
  takes that row over rather than a second slot, polls the recorded task, and clears it.
  No deadlock when every slot is held by the dead: adopting needs no free slot.
* **The lease ends** (``lease_for``): a row taken longer ago than a provider task can run, whose
  asset no live session claims, is free again (a batch cancelled after a node died never
  comes back for its task). A live holder is never robbed: its claim is held.

No connection is held for the call: the statements run on the asset claim's connection (open
while the asset is made anyway), or on a short one of their own for a call with no asset.
Ray's resources only count per node; an account's limit counts across every node.
"""

from __future__ import annotations

import random
import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from typing import TYPE_CHECKING, Any

from dramaforge.cluster.pg import connect

if TYPE_CHECKING:
    from dramaforge.cluster.claims import AssetClaim
    from dramaforge.config import ProviderSettings

WAIT = 0.05
"""Seconds between looks for a free slot (with jitter, doubling up to ``MAX_WAIT``)."""
MAX_WAIT = 0.4

CLAIM_HELD = """EXISTS (
    SELECT 1 FROM pg_locks l
    WHERE l.locktype = 'advisory' AND l.granted AND l.objsubid = 1
      AND l.database = (SELECT oid FROM pg_database WHERE datname = current_database())
      AND l.classid = ((s.claim >> 32) & 4294967295)::oid
      AND l.objid = (s.claim & 4294967295)::oid)"""
"""Whether a live session holds the claim of row ``s``'s asset (pg_locks shows a bigint
advisory key as its high and low 32 bits, with objsubid 1)."""

ADOPT = """
UPDATE dramaforge_slots SET holder = %(holder)s, node = %(node)s, taken_at = now()
WHERE model = %(model)s AND asset = %(asset)s AND taken_at < %(since)s
RETURNING slot"""

TAKE = f"""
UPDATE dramaforge_slots SET asset = %(asset)s, claim = %(claim)s, holder = %(holder)s,
    node = %(node)s, taken_at = now()
WHERE (model, slot) = (
    SELECT s.model, s.slot FROM dramaforge_slots s
    WHERE s.model = %(model)s AND s.slot <= %(limit)s
      AND (s.holder IS NULL OR (
          s.taken_at < now() - make_interval(secs => %(lease)s)
          AND (s.claim IS NULL OR NOT {CLAIM_HELD})))
    ORDER BY s.holder IS NOT NULL, s.slot LIMIT 1
    FOR UPDATE SKIP LOCKED)
RETURNING slot"""


def lease_for(settings: ProviderSettings) -> float:
    """Seconds after which a slot whose holder died is free again though nobody adopted it:
    a provider task runs at most ``poll_timeout`` (its poller gives up then) after a submit,
    before a download, each a few requests of at most ``timeout``."""
    return settings.poll_timeout + 4 * settings.timeout


@contextmanager
def provider_slot(
    dsn: str,
    model: str,
    limit: int,
    node: str,
    *,
    lease: float,
    claim: AssetClaim | None = None,
) -> Iterator[int]:
    """Hold one of ``model``'s ``limit`` slots for the block; waits for one. Under an asset's
    ``claim``, a slot a dead predecessor left taken for that asset is taken over first."""
    holder = f"{node[:12]}/{uuid.uuid4().hex}"
    params = {
        "model": model,
        "limit": limit,
        "lease": lease,
        "node": node,
        "holder": holder,
        "asset": claim.asset if claim else None,
        "claim": claim.key if claim else None,
        "since": claim.since if claim else None,
    }
    if claim is not None:
        slot = _take(claim.conn, params)
    else:
        with connect(dsn, role=f"dramaforge slot {node[:12]}") as conn:
            slot = _take(conn, params)
    try:
        yield slot
    finally:
        if claim is not None:
            _release(claim.conn, model, holder)
        else:
            with connect(dsn, role=f"dramaforge slot {node[:12]}") as conn:
                _release(conn, model, holder)


def _take(conn: Any, params: dict[str, Any]) -> int:
    """The adopted slot, or the first free (or lapsed) one, waiting with jittered backoff."""
    conn.execute(
        "INSERT INTO dramaforge_slots (model, slot) SELECT %s, g FROM generate_series(1, %s) g "
        "ON CONFLICT DO NOTHING",
        (params["model"], params["limit"]),
    )
    if params["asset"] is not None and params["since"] is not None:
        row = conn.execute(ADOPT, params).fetchone()
        if row is not None:
            return int(row[0])
    wait = WAIT
    while True:
        row = conn.execute(TAKE, params).fetchone()
        if row is not None:
            return int(row[0])
        time.sleep(wait * (0.5 + random.random()))
        wait = min(wait * 2, MAX_WAIT)


def _release(conn: Any, model: str, holder: str) -> None:
    """Free what this holder took (a row a successor adopted carries its token, not ours)."""
    conn.execute(
        "UPDATE dramaforge_slots SET asset = NULL, claim = NULL, holder = NULL, node = NULL, "
        "taken_at = NULL WHERE model = %s AND holder = %s",
        (model, holder),
    )


def in_use(conn: Any) -> dict[str, tuple[int, int]]:
    """``model -> (slots taken, slots)``: taken by a call running now or by a dead node's task
    nobody has adopted yet (``orphans`` says how many of those)."""
    rows = conn.execute(
        "SELECT model, count(holder), count(*) FROM dramaforge_slots GROUP BY model"
    ).fetchall()
    return {str(m): (int(taken), int(n)) for m, taken, n in rows}


def orphans(conn: Any) -> dict[str, int]:
    """``model -> slots taken for an asset nobody is making now``: their holder died while its
    provider task may still run (freed by the asset's next maker, or by the lease)."""
    rows = conn.execute(
        "SELECT s.model, count(*) FROM dramaforge_slots s WHERE s.holder IS NOT NULL "
        f"AND s.claim IS NOT NULL AND NOT {CLAIM_HELD} GROUP BY s.model"
    ).fetchall()
    return {str(m): int(n) for m, n in rows}
