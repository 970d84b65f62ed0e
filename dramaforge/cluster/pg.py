"""PostgreSQL: connections, the tables, and ``cluster init`` (the only place they are made).

Every connection is direct (advisory locks are session locks; a transaction-mode pooler would
hand the session to someone else) and keeps TCP keepalives on, so a node that vanished without
closing its socket frees its locks within seconds, not when the kernel gives up.
"""

from __future__ import annotations

import hashlib
from typing import TYPE_CHECKING, Any

from dramaforge.config import ClusterSettings, without_password
from dramaforge.errors import ConfigError

if TYPE_CHECKING:
    import psycopg

SCHEMA_VERSION = 2
"""2: a batch records when its driver took it and its Ray job (``dramaforge_batches``);
provider slots name the task holding them (``asset``, ``claim``, ``holder``, ``node``,
``taken_at``) instead of living in a row lock."""

TABLES = """
CREATE TABLE IF NOT EXISTS dramaforge_schema (version integer NOT NULL);
CREATE TABLE IF NOT EXISTS dramaforge_journal (
    asset text PRIMARY KEY,
    state text NOT NULL CHECK (state IN ('reserved', 'submitted', 'in_doubt', 'finished')),
    task_id text,
    intent jsonb,
    result text,
    node text,
    updated_at timestamptz NOT NULL DEFAULT now()
);
CREATE TABLE IF NOT EXISTS dramaforge_tasks (
    task_id text PRIMARY KEY,
    asset text,
    node text,
    claimed_at timestamptz NOT NULL DEFAULT now()
);
CREATE TABLE IF NOT EXISTS dramaforge_budget (
    scope text PRIMARY KEY,
    budget double precision,
    spent double precision NOT NULL DEFAULT 0
);
CREATE TABLE IF NOT EXISTS dramaforge_bible (
    series text NOT NULL,
    name text NOT NULL,
    look jsonb NOT NULL,
    reference text,
    PRIMARY KEY (series, name)
);
CREATE TABLE IF NOT EXISTS dramaforge_slots (
    model text NOT NULL,
    slot integer NOT NULL,
    asset text,
    claim bigint,
    holder text,
    node text,
    taken_at timestamptz,
    PRIMARY KEY (model, slot)
);
CREATE TABLE IF NOT EXISTS dramaforge_batches (
    id text PRIMARY KEY,
    series text NOT NULL,
    status text NOT NULL,
    driver text,
    driver_since timestamptz,
    ray_job text,
    started_at timestamptz NOT NULL DEFAULT now(),
    finished_at timestamptz
);
CREATE TABLE IF NOT EXISTS dramaforge_episodes (
    batch text NOT NULL REFERENCES dramaforge_batches (id),
    episode text NOT NULL,
    script text NOT NULL,
    status text NOT NULL,
    node text,
    stage text,
    attempts integer NOT NULL DEFAULT 0,
    report jsonb,
    updated_at timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (batch, episode)
);
"""

UPGRADES = """
ALTER TABLE dramaforge_batches
    ADD COLUMN IF NOT EXISTS driver_since timestamptz,
    ADD COLUMN IF NOT EXISTS ray_job text;
ALTER TABLE dramaforge_slots
    ADD COLUMN IF NOT EXISTS asset text,
    ADD COLUMN IF NOT EXISTS claim bigint,
    ADD COLUMN IF NOT EXISTS holder text,
    ADD COLUMN IF NOT EXISTS node text,
    ADD COLUMN IF NOT EXISTS taken_at timestamptz;
"""
"""What brings a database made by an older ``cluster init`` to ``SCHEMA_VERSION`` (a no-op on
one made now). A version 1 slot row has no holder columns: free, as it was when unlocked."""


def lock_key(kind: str, name: str) -> int:
    """A signed 64-bit advisory-lock key for ``kind:name`` (asset, thread, batch)."""
    digest = hashlib.sha256(f"dramaforge:{kind}:{name}".encode()).digest()
    return int.from_bytes(digest[:8], "big", signed=True)


def lock_held(conn: psycopg.Connection[Any], key: int) -> bool:
    """Whether any session holds the advisory lock ``key`` (pg_locks shows a bigint key as
    its high and low 32 bits, with objsubid 1)."""
    row = conn.execute(
        "SELECT count(*) FROM pg_locks WHERE locktype = 'advisory' AND granted "
        "AND classid = %s::bigint::oid AND objid = %s::bigint::oid AND objsubid = 1",
        ((key >> 32) & 0xFFFFFFFF, key & 0xFFFFFFFF),
    ).fetchone()
    return bool(row and row[0])


def dsn_of(settings: ClusterSettings) -> str:
    if not settings.database:
        raise ConfigError(
            "the cluster needs a PostgreSQL database: set [cluster] database = "
            '"postgresql://user:password@host:5432/db" (or DRAMAFORGE_CLUSTER__DATABASE)'
        )
    return settings.database


def connect(
    dsn: str, *, role: str = "dramaforge", autocommit: bool = True, **extra: Any
) -> psycopg.Connection[Any]:
    """A direct connection with keepalives (autocommit unless asked); a refused one is one
    clear error."""
    import psycopg

    try:
        return psycopg.connect(
            dsn,
            autocommit=autocommit,
            application_name=role[:63],
            connect_timeout=10,
            keepalives=1,
            keepalives_idle=10,
            keepalives_interval=5,
            keepalives_count=3,
            **extra,
        )
    except psycopg.OperationalError as err:
        first = str(err).strip().splitlines()[0] if str(err).strip() else type(err).__name__
        raise ConfigError(f"cannot reach PostgreSQL at {without_password(dsn)}: {first}") from None


def init(dsn: str) -> list[str]:
    """Create the tables and the checkpointer's once; safe to run again, and from two shells
    at once (one waits for the other: the checkpointer's ``setup()`` races with itself)."""
    from langgraph.checkpoint.postgres import PostgresSaver
    from psycopg.rows import dict_row

    done: list[str] = []
    with connect(dsn, role="dramaforge init") as conn:
        conn.execute("SELECT pg_advisory_lock(%s)", (lock_key("init", "schema"),))
        try:
            conn.execute(TABLES)
            conn.execute(UPGRADES)
            row = conn.execute("SELECT max(version) FROM dramaforge_schema").fetchone()
            if row is None or row[0] is None:
                conn.execute("INSERT INTO dramaforge_schema VALUES (%s)", (SCHEMA_VERSION,))
                done.append("dramaforge tables")
            elif row[0] < SCHEMA_VERSION:
                conn.execute("UPDATE dramaforge_schema SET version = %s", (SCHEMA_VERSION,))
                done.append(f"dramaforge tables (upgraded from version {row[0]})")
            else:
                done.append("dramaforge tables")
            with connect(dsn, role="dramaforge init", prepare_threshold=0) as saver_conn:
                saver_conn.row_factory = dict_row
                PostgresSaver(saver_conn).setup()
            done.append("LangGraph checkpoint tables")
        finally:
            conn.execute("SELECT pg_advisory_unlock(%s)", (lock_key("init", "schema"),))
    return done


def require_init(conn: psycopg.Connection[Any]) -> None:
    """Refuse to run on a database ``cluster init`` has not prepared, or prepared for an older
    dramaforge (workers never create or alter tables: the checkpointer's ``setup()`` run by
    several at once fails)."""
    row = conn.execute("SELECT to_regclass('dramaforge_schema') IS NOT NULL").fetchone()
    if not row or not row[0]:
        raise ConfigError(
            "the cluster database has no dramaforge tables: run `dramaforge cluster init` once"
        )
    found = conn.execute("SELECT max(version) FROM dramaforge_schema").fetchone()
    version = found[0] if found and found[0] is not None else 0
    if version < SCHEMA_VERSION:
        raise ConfigError(
            f"the cluster database's tables are version {version}, this dramaforge needs "
            f"{SCHEMA_VERSION}: run `dramaforge cluster init` once to upgrade them (it adds "
            "what is missing, keeping every row)"
        )
