"""``dramaforge cluster init|status`` and the cluster door of ``batch --cluster``.

The cluster package (ray, psycopg, boto3) loads only inside these commands; their errors
(an unreachable database or bucket) are one line, never a traceback.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, TypeVar

import typer
from rich.markup import escape
from rich.table import Table

from dramaforge.cli.common import app, console, guard, out_console
from dramaforge.cli.flags import JsonOpt, settings_flags
from dramaforge.config import Settings
from dramaforge.errors import ConfigError

if TYPE_CHECKING:
    from dramaforge.graph.batch import BatchReport

T = TypeVar("T")

cluster_app = typer.Typer(
    no_args_is_help=True, help="A season on a Ray cluster: PostgreSQL state, a shared store."
)
app.add_typer(cluster_app, name="cluster")


def _cluster_errors(fn: Callable[[], T]) -> Callable[[], T]:
    """``fn`` with the cluster libraries' own errors turned into one clear ConfigError."""

    def run() -> T:
        try:
            from botocore.exceptions import BotoCoreError, ClientError
            from psycopg import Error as PgError
        except ImportError:
            raise ConfigError(
                "the cluster needs its extra: pip install 'dramaforge[cluster]'"
            ) from None
        try:
            return fn()
        except PgError as err:
            first = str(err).strip().splitlines()[0] if str(err).strip() else type(err).__name__
            raise ConfigError(f"PostgreSQL: {first}") from None
        except (BotoCoreError, ClientError) as err:
            raise ConfigError(f"the cluster store: {err}") from None

    return run


def cluster_batch(
    paths: list[Path], out: Path, settings: Settings, series: str | None
) -> BatchReport:
    """``batch --cluster``: one line per episode as it starts and ends, from every node."""
    from dramaforge.cluster.job import run_cluster_batch

    def line(text: str) -> None:
        console.print(escape(text), highlight=False, soft_wrap=True)

    return _cluster_errors(
        lambda: run_cluster_batch(paths, out, settings, series=series, on_line=line)
    )()


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
        ("cluster database", _cluster_errors(database)),
        ("cluster store", _cluster_errors(store)),
    ]


@cluster_app.command("init")
@settings_flags()
def init(settings: Settings) -> None:
    """Create the cluster's tables in PostgreSQL once (safe to run again)."""
    from dramaforge.cluster.pg import dsn_of
    from dramaforge.cluster.pg import init as make_tables

    made = guard(_cluster_errors(lambda: make_tables(dsn_of(settings.cluster))))
    for what in made:
        out_console.print(f"ready: {escape(what)}", highlight=False)


@cluster_app.command("status")
@settings_flags()
def status(settings: Settings, as_json: JsonOpt = False) -> None:
    """Nodes, running episodes, provider slots in use and spend."""
    from dramaforge.cluster.status import read_status

    found = guard(_cluster_errors(lambda: read_status(settings.cluster)))
    if as_json:
        typer.echo(found.model_dump_json(indent=2))
        return
    if found.nodes is None:
        out_console.print("Ray: no [cluster] address (or RAY_ADDRESS) set")
    else:
        nodes = Table(title=f"{sum(n.alive for n in found.nodes)} nodes alive")
        for col in ("node", "address", "alive", "CPU", "GPU", "episode slots"):
            nodes.add_column(col)
        for n in found.nodes:
            nodes.add_row(
                n.node[:12], n.address, "yes" if n.alive else "no",
                f"{n.cpus:g}", f"{n.gpus:g}", f"{n.episode_slots:g}",
            )  # fmt: skip
        out_console.print(nodes)
    running = Table(title=f"{len(found.running)} episodes running")
    for col in ("batch", "episode", "node", "stage", "tries"):
        running.add_column(col)
    for r in found.running:
        running.add_row(
            escape(r.batch), escape(r.episode), r.node[:12], escape(r.stage), str(r.attempts)
        )
    out_console.print(running)
    for model, (held, limit) in sorted(found.slots.items()):
        dead = found.orphaned.get(model, 0)
        note = f" ({dead} by a dead node's task)" if dead else ""
        out_console.print(f"slots {escape(model)}: {held} of {limit} in use{note}", highlight=False)
    for scope, spent in found.spend.items():
        out_console.print(f"spent {escape(scope)}: {spent:.2f}", highlight=False)
