"""``dramaforge cluster init|status`` and the cluster door of ``batch --cluster``.

The cluster package (ray, psycopg, boto3) loads only inside these commands; their errors
(an unreachable database or bucket) are one line, never a traceback.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING

import typer
from rich.markup import escape
from rich.table import Table

from dramaforge.cli.common import app, console, guard, out_console
from dramaforge.cli.flags import JsonOpt, settings_flags
from dramaforge.cluster.door import cluster_errors
from dramaforge.config import Settings

if TYPE_CHECKING:
    from dramaforge.graph.batch import BatchReport

cluster_app = typer.Typer(
    no_args_is_help=True, help="A season on a Ray cluster: PostgreSQL state, a shared store."
)
app.add_typer(cluster_app, name="cluster")


def cluster_batch(
    paths: list[Path], out: Path, settings: Settings, series: str | None, stages: bool = False
) -> BatchReport:
    """``batch --cluster``: one line per episode as it starts and ends, from every node (with
    ``stages``, also as its shot stage changes). A batch another driver runs is followed;
    Ctrl-C then only stops the following (exit 130)."""
    from dramaforge.cluster.job import StoppedFollowing, run_cluster_batch

    def line(text: str) -> None:
        console.print(escape(text), highlight=False, soft_wrap=True)

    try:
        return cluster_errors(
            lambda: run_cluster_batch(
                paths, out, settings, series=series, on_line=line, stages=stages
            )
        )()
    except StoppedFollowing as stopped:
        line(str(stopped))
        raise typer.Exit(stopped.exit_code) from None


def cluster_checks(settings: Settings) -> list[tuple[str, Callable[[], str]]]:
    """``doctor``'s rows for a configured cluster: the database answers and is initialised,
    the store answers. None when no ``[cluster]`` database or store is set."""
    c = settings.cluster
    if not (c.database or c.store):
        return []

    def database() -> str:
        from dramaforge.cluster.pg import connect, dsn_of, require_init

        with connect(dsn_of(c), role="dramaforge doctor") as conn:
            require_init(conn)
            version = conn.execute("SHOW server_version").fetchone()
        return f"PostgreSQL {version[0] if version else '?'}, tables ready"

    def store() -> str:
        from dramaforge.cluster.blobs import open_blobs

        blobs = open_blobs(c)
        blobs.exists("doctor-probe")
        return f"{blobs.where} answers"

    return [
        ("cluster database", cluster_errors(database)),
        ("cluster store", cluster_errors(store)),
    ]


@cluster_app.command("init")
@settings_flags()
def init(settings: Settings) -> None:
    """Create the cluster's tables in PostgreSQL once (safe to run again)."""
    from dramaforge.cluster.pg import dsn_of
    from dramaforge.cluster.pg import init as make_tables

    made = guard(cluster_errors(lambda: make_tables(dsn_of(settings.cluster))))
    for what in made:
        out_console.print(f"ready: {escape(what)}", highlight=False)


@cluster_app.command("status")
@settings_flags()
def status(settings: Settings, as_json: JsonOpt = False) -> None:
    """Nodes, GPU actors, running episodes, provider slots in use and spend."""
    from dramaforge.cluster.status import read_status

    found = guard(cluster_errors(lambda: read_status(settings.cluster)))
    if as_json:
        typer.echo(found.model_dump_json(indent=2))
        return
    if found.nodes is None:
        out_console.print("Ray: no [cluster] address (or RAY_ADDRESS) set")
    else:
        _table(
            f"{sum(n.alive for n in found.nodes)} nodes alive",
            ("node", "address", "alive", "CPU", "GPU", "episode slots"),
            [
                (n.node[:12], n.address, "yes" if n.alive else "no",
                 f"{n.cpus:g}", f"{n.gpus:g}", f"{n.episode_slots:g}")
                for n in found.nodes
            ],
        )  # fmt: skip
    _table(
        f"{len(found.batches)} batches running",
        ("batch", "Ray job", "driver", "since", "done"),
        [
            (escape(b.batch), b.ray_job or "",
             escape(b.driver) if b.driving else f"{escape(b.driver)} (gone)",
             b.since.astimezone().strftime("%Y-%m-%d %H:%M:%S") if b.since else "",
             f"{b.done}/{b.episodes}")
            for b in found.batches
        ],
    )  # fmt: skip
    if found.gpu_actors:
        _table(
            f"{len(found.gpu_actors)} GPU actors",
            ("actor", "node", "GPU", "device", "models loaded", "queue"),
            [
                (escape(a.name), a.node[:12], a.gpu, a.device,
                 escape(", ".join(a.resident)) or "-", str(a.queue))
                for a in found.gpu_actors
            ],
        )  # fmt: skip
    _table(
        f"{len(found.running)} episodes running",
        ("batch", "episode", "node", "stage", "tries"),
        [
            (escape(r.batch), escape(r.episode), r.node[:12], escape(r.stage), str(r.attempts))
            for r in found.running
        ],
    )
    for model, (held, limit) in sorted(found.slots.items()):
        dead = found.orphaned.get(model, 0)
        note = f" ({dead} by a dead node's task)" if dead else ""
        out_console.print(f"slots {escape(model)}: {held} of {limit} in use{note}", highlight=False)
    for scope, spent in found.spend.items():
        out_console.print(f"spent {escape(scope)}: {spent:.2f}", highlight=False)


def _table(title: str, columns: tuple[str, ...], rows: list[tuple[str, ...]]) -> None:
    table = Table(title=title)
    for col in columns:
        table.add_column(col)
    for row in rows:
        table.add_row(*row)
    out_console.print(table)
