"""The SQLite checkpointer, with an explicit allow-list of the types the state may hold."""

from __future__ import annotations

import sqlite3
import time
from pathlib import Path

from langgraph.checkpoint.serde.jsonplus import JsonPlusSerializer
from langgraph.checkpoint.sqlite import SqliteSaver

from dramaforge.graph.state import STATE_TYPES


def open_checkpointer(state_root: Path) -> SqliteSaver:
    """``<state_root>/state.db``; one connection shared by the graph's worker threads."""
    state_root.mkdir(parents=True, exist_ok=True)
    # Episodes of a batch each hold a connection: wait for a writer instead of failing.
    conn = sqlite3.connect(state_root / "state.db", check_same_thread=False, timeout=60)
    _wal(conn)
    serde = JsonPlusSerializer(allowed_msgpack_modules=STATE_TYPES)
    return SqliteSaver(conn, serde=serde)


def _wal(conn: sqlite3.Connection, wait: float = 60.0) -> None:
    """Put the database in WAL mode (kept in the file: once is enough). Two processes opening
    a new database at once both ask for it, and SQLite answers one of them "locked" at once,
    without waiting for the busy timeout: ask again for a while instead of failing."""
    deadline = time.monotonic() + wait
    while True:
        try:
            if conn.execute("PRAGMA journal_mode").fetchone()[0] != "wal":
                conn.execute("PRAGMA journal_mode=WAL")
            return
        except sqlite3.OperationalError as err:
            if "locked" not in str(err) or time.monotonic() > deadline:
                raise
            time.sleep(0.05)
