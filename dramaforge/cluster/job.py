"""A batch on the cluster: one driver, one Ray task per episode, state in PostgreSQL.

The batch id is a hash of the series, its scripts and the render settings, so the same batch
started twice is one batch: the first driver holds the batch's advisory lock and runs it,
recording in PostgreSQL who it is (host:pid), since when, and its Ray job (Ray assigns job ids
to drivers, so the batch id rides in the job's metadata instead). A second one says at once
who runs it, follows its progress and prints the same summary; stopping it only stops the
following; should the first die, it takes over. A driver killed and started again skips the
episodes PostgreSQL records as done and resumes the others (Ray ends the tasks of a dead
driver; their threads, journal and assets are all in PostgreSQL and the store).
"""

from __future__ import annotations

import hashlib
import logging
import os
import re
import socket
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import datetime
from pathlib import Path
from typing import Any

from dramaforge.cluster.blobs import Blobs, open_blobs
from dramaforge.cluster.episode import EpisodeSpec, deliverable_prefix
from dramaforge.cluster.gpu_pool import actor_names, start_gpu_actors, stop_gpu_actors
from dramaforge.cluster.pg import connect, dsn_of, lock_held, lock_key, require_init
from dramaforge.config import Settings
from dramaforge.errors import Busy, DramaforgeError
from dramaforge.graph.batch import BatchReport, EpisodeReport, collect, episode_names
from dramaforge.media.store import atomic_write

POLL = 0.5
"""Seconds between looks at the episodes' progress."""
SLOT = "episode_slot"
"""A node's custom Ray resource: how many episodes it runs at once (``ray start
--resources '{"episode_slot": 2}'``). Without it an episode takes one CPU."""
JOB_KEY = "dramaforge_batch"
"""The Ray job metadata key that names the batch a driver runs."""

_one_job = threading.Lock()
"""Held while this process is a batch's Ray job: a door serving many callers (MCP, the
studio) leads one cluster batch at a time, so each batch is its own Ray job."""


class StoppedFollowing(DramaforgeError):
    """The follower of a batch another driver runs was stopped; the batch itself runs on."""

    exit_code = 130


class BatchCancelled(DramaforgeError):
    """The leading driver was stopped by its caller: the episode tasks are cancelled, what
    was paid stays journaled, and the same batch again resumes."""

    exit_code = 130


def specs_of(paths: list[Path], settings: Settings, series: str | None) -> list[EpisodeSpec]:
    scripts = collect(paths)
    if not scripts:
        raise DramaforgeError(f"no scripts found in {', '.join(map(str, paths))}")
    name = series or (paths[0].resolve().name if paths[0].is_dir() else "series")
    names = episode_names(scripts)
    texts = {s: s.read_text(encoding="utf-8") for s in scripts}
    h = hashlib.sha256(name.encode())
    for s in scripts:
        h.update(f"\0{names[s]}\0{texts[s]}".encode())
    h.update(settings.render.model_dump_json().encode())
    h.update(settings.backends.model_dump_json().encode())
    slug = re.sub(r"[^\w\-]+", "_", name).strip("_")[:40] or "series"
    batch = f"{slug}-{h.hexdigest()[:12]}"
    return [
        EpisodeSpec(
            batch=batch,
            series=name,
            episode=names[s],
            script_name=names[s] + "".join(s.suffixes[-2:]),
            script_text=texts[s],
            source=str(s),
        )
        for s in scripts
    ]


def episode_options(resources: dict[str, float]) -> dict[str, Any]:
    """What one episode asks Ray for: an episode slot where nodes offer them (no CPU: the
    episode mostly waits on providers, the GPU actors and its own threads), else a CPU. Never
    a GPU: its ``diffusers:*`` shots go to the batch's GPU actors (``gpu_pool``)."""
    if resources.get(SLOT):
        return {"num_cpus": 0, "resources": {SLOT: 1}}
    return {"num_cpus": 1}


def _episode_task(spec: dict[str, Any], settings: Settings) -> dict[str, Any]:
    from dramaforge.cluster.episode import run

    return run(EpisodeSpec.model_validate(spec), settings)


def run_cluster_batch(
    paths: list[Path],
    out: Path,
    settings: Settings,
    *,
    series: str | None = None,
    on_line: Callable[[str], None] = print,
    on_progress: Callable[[int, int], None] | None = None,
    stop: threading.Event | None = None,
    stages: bool = False,
) -> BatchReport:
    """Render the series on the cluster; write ``out/report.json``; never raise for one bad
    episode. Ctrl-C (or ``stop`` set, for a door whose caller gave up) cancels every episode
    task when this driver leads the batch (their paid work stays journaled), and only stops
    the following when another driver does. ``on_progress(ended, total)``: episodes done or
    failed, each time that changes."""
    specs = specs_of(paths, settings, series)
    dsn = dsn_of(settings.cluster)
    blobs = open_blobs(settings.cluster)
    with connect(dsn, role="dramaforge driver") as conn:
        require_init(conn)
        _register(conn, specs)
        watch = _Watch(conn, specs[0].batch, on_line, on_progress, stages)
        _run_or_follow(conn, specs, settings, watch, stop)
        reports = _collect(conn, specs, blobs, out)
    result = BatchReport(series=specs[0].series, episodes=reports)
    out.mkdir(parents=True, exist_ok=True)
    atomic_write(out / "report.json", result.model_dump_json(indent=2))
    return result


def _run_or_follow(
    conn: Any,
    specs: list[EpisodeSpec],
    settings: Settings,
    watch: _Watch,
    stop: threading.Event | None,
) -> None:
    """Run the batch holding its lock; while another driver holds it, say who at once and
    follow that one's progress to its end. A batch it finished or cancelled is left as it
    is; one whose driver died is taken over: what it finished is skipped, the rest run."""
    batch = specs[0].batch
    key = lock_key("batch", batch)
    while not conn.execute("SELECT pg_try_advisory_lock(%s)", (key,)).fetchone()[0]:
        driver, since = _holder(conn, batch)
        watch.on_line(
            f"batch {batch} is already running from {driver} since {since}; following it "
            "(stopping this only stops following)"
        )
        _follow(conn, batch, key, watch, stop, driver)
        status = _batch_status(conn, batch)
        if status == "finished":
            return
        if status == "cancelled":
            watch.on_line(f"batch {batch} was cancelled by {driver}; start it again to resume it")
            return
        watch.on_line(f"batch {batch}: its driver {driver} is gone; taking it over")
    try:
        conn.execute(
            "UPDATE dramaforge_batches SET status = 'running', driver = %s, driver_since = now(), "
            "ray_job = NULL, finished_at = NULL WHERE id = %s",
            (f"{socket.gethostname()}:{os.getpid()}", batch),
        )
        _lead(conn, specs, settings, watch, stop)
    finally:
        conn.execute("SELECT pg_advisory_unlock(%s)", (key,))


def _holder(conn: Any, batch: str) -> tuple[str, str]:
    """Who drives the batch (host:pid) and since when, as its lock's taker recorded them."""
    row = conn.execute(
        "SELECT driver, driver_since FROM dramaforge_batches WHERE id = %s", (batch,)
    ).fetchone()
    driver, since = (row[0], row[1]) if row else (None, None)
    shown = (
        since.astimezone().strftime("%Y-%m-%d %H:%M:%S %Z") if isinstance(since, datetime) else "?"
    )
    return str(driver or "another driver"), shown


def _batch_status(conn: Any, batch: str) -> str:
    row = conn.execute("SELECT status FROM dramaforge_batches WHERE id = %s", (batch,)).fetchone()
    return str(row[0]) if row else "new"


def _register(conn: Any, specs: list[EpisodeSpec]) -> None:
    batch = specs[0].batch
    with conn.transaction():
        conn.execute(
            "INSERT INTO dramaforge_batches (id, series, status) VALUES (%s, %s, 'new') "
            "ON CONFLICT (id) DO NOTHING",
            (batch, specs[0].series),
        )
        for spec in specs:
            conn.execute(
                "INSERT INTO dramaforge_episodes (batch, episode, script, status) "
                "VALUES (%s, %s, %s, 'pending') ON CONFLICT (batch, episode) DO NOTHING",
                (batch, spec.episode, spec.script_name),
            )


def _lead(
    conn: Any,
    specs: list[EpisodeSpec],
    settings: Settings,
    watch: _Watch,
    stop: threading.Event | None,
) -> None:
    import ray

    batch = specs[0].batch
    done = {
        str(r[0])
        for r in conn.execute(
            "SELECT episode FROM dramaforge_episodes WHERE batch = %s AND status = 'done'",
            (batch,),
        ).fetchall()
    }
    todo = [s for s in specs if s.episode not in done]
    watch.on_line(f"batch {batch}: {len(specs)} episodes, {len(done)} already done")
    if todo:
        with ray_job(batch, settings) as job:
            conn.execute("UPDATE dramaforge_batches SET ray_job = %s WHERE id = %s", (job, batch))
            offered: dict[str, float] = ray.cluster_resources()  # type: ignore[no-untyped-call]
            task = ray.remote(_episode_task).options(
                max_retries=settings.cluster.episode_retries,
                retry_exceptions=False,
                **episode_options(offered),
            )
            actors = start_gpu_actors(batch, settings, watch.on_line)
            names = actor_names(batch, len(actors))
            refs = {task.remote(s.model_dump() | {"gpu_actors": names}, settings): s for s in todo}
            try:
                pending = list(refs)
                while pending and not (stop is not None and stop.is_set()):
                    ready, pending = ray.wait(pending, num_returns=len(pending), timeout=POLL)
                    for ref in ready:
                        _settle(conn, refs[ref], ref)
                    watch.look()
                watch.look()
            except KeyboardInterrupt:
                _cancel(conn, batch, refs)
                raise
            finally:
                stop_gpu_actors(actors)
            if pending:  # stopped by the caller
                _cancel(conn, batch, refs)
                raise BatchCancelled(
                    f"batch {batch} cancelled; what was paid stays journaled: start it again "
                    "to resume it"
                )
    conn.execute(
        "UPDATE dramaforge_batches SET status = 'finished', finished_at = now() WHERE id = %s",
        (batch,),
    )


@contextmanager
def ray_job(batch: str, settings: Settings) -> Iterator[str]:
    """This process connected to Ray as the batch's job (``JOB_KEY`` in its metadata) for as
    long as the block; the job's id. A process already connected by its caller stays that
    caller's job (and its metadata)."""
    import ray
    from ray.job_config import JobConfig

    if not _one_job.acquire(blocking=False):
        raise Busy(
            f"this process drives another cluster batch now; start batch {batch} when it "
            "ends, or from another process"
        )
    mine = not ray.is_initialized()
    try:
        if mine:
            ray.init(
                address=settings.cluster.address,
                namespace="dramaforge",
                log_to_driver=False,
                logging_level=logging.WARNING,
                job_config=JobConfig(metadata={JOB_KEY: batch}),
            )
        yield str(ray.get_runtime_context().get_job_id())
    finally:
        if mine:
            ray.shutdown()
        _one_job.release()


def _cancel(conn: Any, batch: str, refs: dict[Any, EpisodeSpec]) -> None:
    import ray

    for ref in refs:
        ray.cancel(ref, force=True)
    conn.execute("UPDATE dramaforge_batches SET status = 'cancelled' WHERE id = %s", (batch,))


def _settle(conn: Any, spec: EpisodeSpec, ref: Any) -> None:
    """A finished task: its report is in PostgreSQL already, unless the task itself died
    (its node lost more often than the retries allow)."""
    import ray

    try:
        ray.get(ref)
    except Exception as err:  # ray's task errors: the episode failed, the batch goes on
        report = EpisodeReport(
            script=spec.script_name, status="failed", error=f"{type(err).__name__}: {err}"[:500]
        )
        conn.execute(
            "UPDATE dramaforge_episodes SET status = 'failed', report = %s, updated_at = now() "
            "WHERE batch = %s AND episode = %s",
            (report.model_dump_json(), spec.batch, spec.episode),
        )


class _Watch:
    """One line per episode each time its status or node changes (and, with ``stages``, each
    time the shot stage it reports changes: sampled every ``POLL`` s, not every event);
    ``on_progress`` told how many episodes have ended (done or failed) of how many, before
    the lines that changed it."""

    def __init__(
        self,
        conn: Any,
        batch: str,
        on_line: Callable[[str], None],
        on_progress: Callable[[int, int], None] | None = None,
        stages: bool = False,
    ) -> None:
        self.conn, self.batch, self.on_line, self.on_progress = conn, batch, on_line, on_progress
        self.stages = stages
        self.seen: dict[str, tuple[str, str]] = {}
        self.stage: dict[str, str] = {}
        self.ended = -1

    def look(self) -> list[tuple[str, str]]:
        rows = self.conn.execute(
            "SELECT episode, status, coalesce(node, ''), report, coalesce(stage, '') "
            "FROM dramaforge_episodes WHERE batch = %s ORDER BY episode",
            (self.batch,),
        ).fetchall()
        ended = sum(1 for r in rows if r[1] in ("done", "failed"))
        if ended != self.ended and self.on_progress is not None:
            self.on_progress(ended, len(rows))
        self.ended = ended
        for episode, status, node, report, stage in rows:
            now = (str(status), str(node))
            if self.seen.get(episode) != now and status != "pending":
                self.on_line(_line(str(episode), str(status), str(node), report))
            self.seen[episode] = now
            if self.stages and status == "running" and stage and self.stage.get(episode) != stage:
                self.on_line(f"{episode}: {stage} (node {str(node)[:12]})")
            self.stage[episode] = str(stage)
        return [(str(r[0]), str(r[1])) for r in rows]


def _line(episode: str, status: str, node: str, report: Any) -> str:
    where = f" on node {node[:12]}" if node else ""
    if status == "done" and report:
        return (
            f"{episode}: done{where} ({report.get('shots', 0)} shots, "
            f"{report.get('duration', 0):.1f}s, {report.get('seconds', 0):.0f}s to make)"
        )
    if status == "failed" and report:
        return f"{episode}: failed{where}: {report.get('error')}"
    return f"{episode}: {status}{where}"


def _follow(
    conn: Any,
    batch: str,
    key: int,
    watch: _Watch,
    stop: threading.Event | None,
    driver: str,
) -> None:
    """Print another driver's progress for as long as it holds the batch's lock. Ctrl-C (or
    ``stop``) ends the following only: the batch is that driver's."""
    try:
        while lock_held(conn, key) and not (stop is not None and stop.is_set()):
            watch.look()
            time.sleep(POLL)
    except KeyboardInterrupt:
        pass
    else:
        if not (stop is not None and stop.is_set()):
            watch.look()
            return
    raise StoppedFollowing(
        f"stopped following batch {batch}; it runs on from {driver} "
        "(`dramaforge cluster status` shows it)"
    )


def _collect(conn: Any, specs: list[EpisodeSpec], blobs: Blobs, out: Path) -> list[EpisodeReport]:
    """Every episode's report, and each finished one's files brought into ``out``."""
    rows = {
        str(r[0]): r[1]
        for r in conn.execute(
            "SELECT episode, report FROM dramaforge_episodes WHERE batch = %s", (specs[0].batch,)
        ).fetchall()
    }
    reports = []
    for spec in specs:
        data = rows.get(spec.episode)
        if not data:
            reports.append(
                EpisodeReport(script=spec.script_name, status="failed", error="not rendered")
            )
            continue
        report = EpisodeReport.model_validate(data)
        report.script = spec.source or report.script
        if report.status == "done":
            folder = _fetch_episode(blobs, spec, out)
            if report.episode:
                report.episode = str(folder / Path(report.episode).name)
        reports.append(report)
    return reports


def _fetch_episode(blobs: Blobs, spec: EpisodeSpec, out: Path) -> Path:
    import json

    prefix = deliverable_prefix(spec.batch, spec.episode)
    folder = out / spec.episode
    listing = folder / ".delivered.json"
    if not blobs.get(prefix + "files.json", listing):
        raise DramaforgeError(f"{spec.episode}: its files are missing from {blobs.where}")
    for name in [*json.loads(listing.read_text(encoding="utf-8")), "manifest.json"]:
        blobs.get(prefix + name, folder / name)
    listing.unlink(missing_ok=True)
    return folder
