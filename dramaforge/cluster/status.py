"""What ``dramaforge cluster status`` shows: the nodes, the episodes running, the provider
slots held and the spend, read from Ray and PostgreSQL."""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel

from dramaforge.cluster import slots
from dramaforge.cluster.gpu_actor import LOOK, PREFIX, ActorState
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
    gpu_actors: list[ActorState] = []
    """The GPU actors of the batches running now (``diffusers:*`` shots)."""
    running: list[RunningEpisode]
    slots: dict[str, tuple[int, int]]
    """model -> (held, limit seen)."""
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
        connections = {
            str(name): int(n)
            for name, n in conn.execute(
                "SELECT application_name, count(*) FROM pg_stat_activity "
                "WHERE application_name LIKE 'dramaforge%%' GROUP BY application_name"
            ).fetchall()
        }
    nodes = _nodes(settings.address) if settings.address else None
    return ClusterStatus(
        nodes=nodes,
        gpu_actors=_gpu_actors() if nodes is not None else [],
        running=running,
        slots=held,
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


def _gpu_actors() -> list[ActorState]:
    """What each batch's GPU actors report; one that does not answer within ``LOOK_WAIT``
    (busy starting, its node dying) is left out."""
    import ray

    from dramaforge.cluster.gpu_pool import LOOK_WAIT

    refs: list[Any] = []
    for name in ray.util.list_named_actors():
        if not name.startswith(PREFIX):
            continue
        try:
            actor = ray.get_actor(name)
        except ValueError:  # ended since it was listed
            continue
        refs.append(actor.state.options(concurrency_group=LOOK).remote())
    if not refs:
        return []
    ready, _ = ray.wait(refs, num_returns=len(refs), timeout=LOOK_WAIT)
    found = []
    for ref in ready:
        try:
            found.append(ray.get(ref))
        except ray.exceptions.RayError:
            continue
    return sorted(found, key=lambda s: s.name)
