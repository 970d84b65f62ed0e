"""One episode of a batch as a Ray task: one LangGraph thread, checkpointed in PostgreSQL,
held to itself by an advisory lock on the episode for the whole run (two writers on a thread
fork its history), its progress written where the driver reads it, its deliverables put in
the store.

A task Ray starts again after its node died runs here on another node: the thread's
checkpoints name files on the dead node (a node's thread ids include its own folders), so the
episode starts afresh on a thread of its own there; every asset
already made comes back from the store and every paid submit is found in the journal, so
nothing is paid twice and only local work is redone. On the same node it resumes.
"""

from __future__ import annotations

import json
import threading
import time
from pathlib import Path
from typing import Any

from pydantic import BaseModel

from dramaforge.cluster import worker
from dramaforge.cluster.blobs import open_blobs
from dramaforge.cluster.pg import connect, lock_key, require_init
from dramaforge.config import Settings
from dramaforge.graph.batch import EpisodeReport, render_one
from dramaforge.graph.session import Event
from dramaforge.media.files import atomic_file

LOCK_WAIT = 0.5
"""Seconds between tries of a thread's lock another process holds."""
PROGRESS_EVERY = 0.5
"""Seconds between progress writes of one episode (shot events come many at once)."""


class EpisodeSpec(BaseModel):
    batch: str
    series: str
    episode: str
    script_name: str
    script_text: str
    source: str = ""
    """The script's path where the batch was started (for the report)."""
    gpu_actors: list[str] = []
    """The batch's GPU actors (named by its driver), where its ``diffusers:*`` shots go."""


def deliverable_prefix(batch: str, episode: str) -> str:
    return f"episodes/{batch}/{episode}/"


def node_id() -> str:
    import ray

    return str(ray.get_runtime_context().get_node_id())


def run(spec: EpisodeSpec, settings: Settings) -> dict[str, Any]:
    """The Ray task's body: render, upload, record; returns the ``EpisodeReport`` as a dict.
    A failure of the episode itself is a report, not an exception (Ray retries node deaths)."""
    node = node_id()
    dsn = settings.cluster.database or ""
    here = settings.cluster.scratch / node[:12]
    local = settings.model_copy(update={"state_dir": here / "state"})  # its asset copies
    script = _script(settings.cluster.scratch, spec)
    out = here / "out" / spec.batch
    started = time.perf_counter()
    with connect(dsn, role=f"dramaforge episode {node[:12]}") as conn:
        require_init(conn)
        key = _hold(conn, spec)
        try:
            same_node = _start(conn, spec, node)
            progress = _Progress(conn, spec)
            report = _render(spec, local, script, out, node, same_node, progress)
            report.seconds = round(time.perf_counter() - started, 2)
            if report.status == "done":
                _deliver(settings, spec, out / spec.episode)
            conn.execute(
                "UPDATE dramaforge_episodes SET status = %s, report = %s, stage = NULL, "
                "updated_at = now() WHERE batch = %s AND episode = %s",
                (report.status, report.model_dump_json(), spec.batch, spec.episode),
            )
        finally:
            conn.execute("SELECT pg_advisory_unlock(%s)", (key,))
    return report.model_dump(mode="json")


def _script(scratch: Path, spec: EpisodeSpec) -> Path:
    """The script, at one path on every node (a thread's id depends on it)."""
    path = scratch / "scripts" / spec.batch / spec.script_name
    if not path.is_file() or path.read_text(encoding="utf-8") != spec.script_text:
        path.parent.mkdir(parents=True, exist_ok=True)
        with atomic_file(path) as tmp:
            tmp.write_text(spec.script_text, encoding="utf-8")
    return path


def _hold(conn: Any, spec: EpisodeSpec) -> int:
    """The episode's lock, held while its thread runs: one writer per episode on the whole
    cluster (a thread's id names the node's folders, so the lock is the episode's)."""
    key = lock_key("episode", f"{spec.batch}/{spec.episode}")
    while not conn.execute("SELECT pg_try_advisory_lock(%s)", (key,)).fetchone()[0]:
        time.sleep(LOCK_WAIT)  # a live run of this episode elsewhere: wait for it to end
    return key


def _start(conn: Any, spec: EpisodeSpec, node: str) -> bool:
    """Mark the episode running here; True when its last run was on this node too."""
    row = conn.execute(
        "SELECT node FROM dramaforge_episodes WHERE batch = %s AND episode = %s",
        (spec.batch, spec.episode),
    ).fetchone()
    conn.execute(
        "UPDATE dramaforge_episodes SET status = 'running', node = %s, attempts = attempts + 1, "
        "stage = 'start', updated_at = now() WHERE batch = %s AND episode = %s",
        (node, spec.batch, spec.episode),
    )
    return row is not None and row[0] == node


class _Progress:
    """Stage events written to the episode's row (at most every ``PROGRESS_EVERY`` s)."""

    def __init__(self, conn: Any, spec: EpisodeSpec) -> None:
        self.conn, self.spec = conn, spec
        self.last = 0.0
        self.lock = threading.Lock()

    def __call__(self, event: Event) -> None:
        now = time.monotonic()
        with self.lock:
            if now - self.last < PROGRESS_EVERY:
                return
            self.last = now
        stage = event.get("stage", "")
        shot = f"{event['shot']} " if "shot" in event else ""
        self.conn.execute(
            "UPDATE dramaforge_episodes SET stage = %s, updated_at = now() "
            "WHERE batch = %s AND episode = %s",
            (
                f"{shot}{stage} {event.get('status', '')}".strip(),
                self.spec.batch,
                self.spec.episode,
            ),
        )


def _render(
    spec: EpisodeSpec,
    settings: Settings,
    script: Path,
    out: Path,
    node: str,
    same_node: bool,
    progress: _Progress,
) -> EpisodeReport:
    root = settings.state_root(out)
    ctx = worker.context(settings, spec.batch, spec.batch, node, root, spec.gpu_actors)
    saver = worker.saver(settings.cluster.database or "", settings.cluster.pool_size, node)
    return render_one(
        script,
        out,
        settings,
        report_as=spec.script_name,
        series=spec.series,
        episode=spec.episode,
        ctx=ctx,
        saver=saver,
        on_event=progress,
        resume=same_node,
    )


def _deliver(settings: Settings, spec: EpisodeSpec, folder: Path) -> None:
    """The finished episode's own files (not its working folders) into the store, the
    manifest last: its presence says the rest is there."""
    blobs = open_blobs(settings.cluster)
    prefix = deliverable_prefix(spec.batch, spec.episode)
    files = sorted(p for p in folder.iterdir() if p.is_file() and not p.name.startswith("."))
    names = [p.name for p in files]
    listing = folder / ".delivered.json"
    listing.write_text(json.dumps(names), encoding="utf-8")
    for path in files:
        if path.name != "manifest.json":
            blobs.put(prefix + path.name, path)
    blobs.put(prefix + "files.json", listing)
    if (folder / "manifest.json").is_file():
        blobs.put(prefix + "manifest.json", folder / "manifest.json")
