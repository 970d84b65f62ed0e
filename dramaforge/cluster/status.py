"""What ``dramaforge cluster status`` shows: the nodes, the batches and their drivers, the
episodes running, the provider slots held and the spend, read from Ray and PostgreSQL; and
one batch's episodes, for a door that shows a batch while it runs."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from pydantic import BaseModel

from dramaforge.cluster import slots
from dramaforge.cluster.gpu_actor import LOOK, PREFIX, ActorState
from dramaforge.cluster.pg import connect, dsn_of, lock_held, lock_key, require_init
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


class EpisodeRow(BaseModel):
    """One episode of a batch as its task last wrote it."""

    episode: str
    status: str
    """pending, running, done or failed."""
    node: str
    stage: str
    attempts: int


class BatchRun(BaseModel):
    """A batch and who drives it: the batch id is dramaforge's, the Ray job id Ray's (a
    driver's job carries the batch id in its metadata)."""

    batch: str
    series: str
    status: str
    """new, running, finished or cancelled, as its last driver left it."""
    driver: str
    """host:pid of the driver that took the batch's lock last."""
    since: datetime | None
    ray_job: str | None
    driving: bool
    """Whether a driver holds the batch's lock now (running without one: its driver died)."""
    done: int
    episodes: int


class ClusterStatus(BaseModel):
    nodes: list[NodeInfo] | None
    """None when no Ray address is configured (the database is still read)."""
    batches: list[BatchRun]
    """Batches running, or left running by a driver that died."""
    gpu_actors: list[ActorState] = []
    """The GPU actors of the batches running now (``diffusers:*`` shots)."""
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
        batches = _batches(conn, "status = 'running'", ())
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
    nodes = _nodes(settings.address) if settings.address else None
    return ClusterStatus(
        nodes=nodes,
        batches=batches,
        gpu_actors=_gpu_actors() if nodes is not None else [],
        running=running,
        slots=held,
        orphaned=orphaned,
        spend=spend,
        connections=connections,
    )


def read_batch(settings: ClusterSettings, batch: str) -> tuple[BatchRun | None, list[EpisodeRow]]:
    """One batch and its episodes (None and none before its driver registered it)."""
    with connect(dsn_of(settings), role="dramaforge status") as conn:
        require_init(conn)
        found = _batches(conn, "id = %s", (batch,))
        rows = [
            EpisodeRow(episode=e, status=st, node=n or "", stage=sg or "", attempts=a)
            for e, st, n, sg, a in conn.execute(
                "SELECT episode, status, node, stage, attempts FROM dramaforge_episodes "
                "WHERE batch = %s ORDER BY episode",
                (batch,),
            ).fetchall()
        ]
    return (found[0] if found else None), rows


def _batches(conn: Any, where: str, args: tuple[Any, ...]) -> list[BatchRun]:
    rows = conn.execute(
        "SELECT b.id, b.series, b.status, b.driver, b.driver_since, b.ray_job, "
        "count(e.episode) FILTER (WHERE e.status = 'done'), count(e.episode) "
        "FROM dramaforge_batches b LEFT JOIN dramaforge_episodes e ON e.batch = b.id "
        f"WHERE b.{where} GROUP BY b.id ORDER BY b.driver_since NULLS LAST, b.id",
        args,
    ).fetchall()
    return [
        BatchRun(
            batch=str(b),
            series=str(series),
            status=str(status),
            driver=str(driver or ""),
            since=since,
            ray_job=job,
            driving=lock_held(conn, lock_key("batch", str(b))),
            done=int(done),
            episodes=int(total),
        )
        for b, series, status, driver, since, job, done, total in rows
    ]


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
