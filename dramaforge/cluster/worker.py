"""What one worker process keeps for every episode it runs: one checkpointer with a small
pool (one saver serialises its calls, so parallelism comes from processes), the shared store,
and a render context per batch whose store, budget and provider limits are the cluster's."""

from __future__ import annotations

import threading
from dataclasses import dataclass, fields
from pathlib import Path
from typing import TYPE_CHECKING, Any

from dramaforge.cluster import claims, slots
from dramaforge.cluster.bible import PgBook
from dramaforge.cluster.blobs import Blobs, open_blobs
from dramaforge.cluster.budget import PgLedger
from dramaforge.cluster.gpu_shots import gpu_backends
from dramaforge.cluster.store import ClusterStore
from dramaforge.config import Settings
from dramaforge.graph.context import RenderContext, build_context
from dramaforge.tools.protocols import Generated

if TYPE_CHECKING:
    from langgraph.checkpoint.postgres import PostgresSaver

_lock = threading.Lock()
_savers: dict[str, PostgresSaver] = {}
_contexts: dict[tuple[str, str], RenderContext] = {}


@dataclass
class ClusterContext(RenderContext):
    """A render context whose paid calls hold one of the model's cluster-wide slots, as the
    asset being made in this thread (``claims.making``): a retry takes over its slot."""

    dsn: str = ""
    node: str = ""

    def paid(self, backend: str, units: float, what: str, call: Any) -> Generated:
        provider, _, model = backend.partition(":")
        if provider != "dashscope" or not model:
            return super().paid(backend, units, what, call)
        dashscope = self.settings.dashscope
        with slots.provider_slot(
            self.dsn,
            model,
            dashscope.limit(model),
            self.node,
            lease=slots.lease_for(dashscope),
            claim=claims.making.get(),
        ):
            return super().paid(backend, units, what, call)


def saver(dsn: str, pool_size: int, node: str) -> PostgresSaver:
    """This process's checkpointer (tables made by ``cluster init``, never here)."""
    from langgraph.checkpoint.postgres import PostgresSaver
    from langgraph.checkpoint.serde.jsonplus import JsonPlusSerializer
    from psycopg.rows import dict_row
    from psycopg_pool import ConnectionPool

    from dramaforge.graph.state import STATE_TYPES

    with _lock:
        if dsn not in _savers:
            pool: ConnectionPool[Any] = ConnectionPool(
                dsn,
                min_size=1,
                max_size=pool_size,
                kwargs={
                    "autocommit": True,
                    "prepare_threshold": 0,
                    "row_factory": dict_row,
                    "application_name": f"dramaforge checkpoints {node[:12]}",
                    "keepalives": 1,
                    "keepalives_idle": 10,
                },
                open=True,
            )
            serde = JsonPlusSerializer(allowed_msgpack_modules=STATE_TYPES)
            _savers[dsn] = PostgresSaver(pool, serde=serde)
        return _savers[dsn]


def context(
    settings: Settings,
    batch: str,
    scope: str,
    node: str,
    root: Path,
    gpu_actors: list[str] | None = None,
) -> RenderContext:
    """The batch's render context in this process (made once: its backends, its store);
    its ``diffusers:*`` shots go to ``gpu_actors``, the batch's GPU actors."""
    with _lock:
        key = (batch, node)
        if key not in _contexts:
            dsn = settings.cluster.database or ""
            blobs: Blobs = open_blobs(settings.cluster)
            base = build_context(settings, root, **gpu_backends(settings, gpu_actors or []))
            parts = {f.name: getattr(base, f.name) for f in fields(base)}
            parts["store"] = ClusterStore(root / "assets", blobs, dsn, node)
            parts["ledger"] = PgLedger(budget=settings.budget, dsn=dsn, scope=scope).open()
            parts["series_book"] = PgBook(dsn, blobs, node)
            _contexts[key] = ClusterContext(**parts, dsn=dsn, node=node)
        return _contexts[key]
