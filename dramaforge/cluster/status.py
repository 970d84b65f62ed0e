"""What ``dramaforge cluster status`` shows: the nodes, the episodes running, the provider
slots held and the spend, read from Ray and PostgreSQL."""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel

from dramaforge.cluster import slots
from dramaforge.cluster.pg import connect, dsn_of, require_init
from dramaforge.config import ClusterSettings


class NodeInfo(BaseModel):
    node: str
    address: str
    alive: bool
    cpus: float = 0.0
    gpus: float = 0.0
    episode_slots: float = 0.0


class RunningEpisode(BaseModel):
    batch: str
    episode: str
    node: str
    stage: str
    attempts: int


class ClusterStatus(BaseModel):
    nodes: list[NodeInfo] | None
    """None when no Ray address is configured (the database is still read)."""
    running: list[RunningEpisode]
    slots: dict[str, tuple[int, int]]
    """model -> (taken, slots): by calls running now and by dead nodes' tasks."""
    orphaned: dict[str, int] = {}
    """model -> slots taken by a dead node's task (a retry adopts it, or its lease ends)."""
    spend: dict[str, float]
    """Budget scope (batch) -> money spent."""
    connections: dict[str, int]
    """PostgreSQL connections open per client name (dramaforge roles)."""


def read_status(settings: ClusterSettings) -> ClusterStatus:
    with connect(dsn_of(settings), role="dramaforge status") as conn:
        require_init(conn)
        running = [
            RunningEpisode(batch=b, episode=e, node=n or "", stage=s or "", attempts=a)
            for b, e, n, s, a in conn.execute(
                "SELECT batch, episode, node, stage, attempts FROM dramaforge_episodes "
                "WHERE status = 'running' ORDER BY batch, episode"
            ).fetchall()
        ]
        spend = {
            str(scope): float(spent)
            for scope, spent in conn.execute(
                "SELECT scope, spent FROM dramaforge_budget ORDER BY scope"
            ).fetchall()
        }
        held = slots.in_use(conn)
        orphaned = slots.orphans(conn)
        connections = {
            str(name): int(n)
            for name, n in conn.execute(
                "SELECT application_name, count(*) FROM pg_stat_activity "
                "WHERE application_name LIKE 'dramaforge%%' GROUP BY application_name"
            ).fetchall()
        }
    return ClusterStatus(
        nodes=_nodes(settings.address) if settings.address else None,
        running=running,
        slots=held,
        orphaned=orphaned,
        spend=spend,
        connections=connections,
    )


def _nodes(address: str) -> list[NodeInfo]:
    import ray

    if not ray.is_initialized():
        ray.init(address=address, namespace="dramaforge", log_to_driver=False)
    found: list[dict[str, Any]] = ray.nodes()  # type: ignore[no-untyped-call]
    return [
        NodeInfo(
            node=str(n["NodeID"]),
            address=str(n.get("NodeManagerAddress", "")),
            alive=bool(n.get("Alive")),
            cpus=float(n.get("Resources", {}).get("CPU", 0)),
            gpus=float(n.get("Resources", {}).get("GPU", 0)),
            episode_slots=float(n.get("Resources", {}).get("episode_slot", 0)),
        )
        for n in found
    ]
