"""The SQLite checkpointer, with an explicit allow-list of the types the state may hold."""

from __future__ import annotations

import sqlite3
from pathlib import Path

from langgraph.checkpoint.serde.jsonplus import JsonPlusSerializer
from langgraph.checkpoint.sqlite import SqliteSaver

from dramaforge.graph.state import STATE_TYPES


def open_checkpointer(state_root: Path) -> SqliteSaver:
    """``<state_root>/state.db``; one connection shared by the graph's worker threads."""
    state_root.mkdir(parents=True, exist_ok=True)
    # Episodes of a batch each hold a connection: wait for a writer instead of failing.
    conn = sqlite3.connect(state_root / "state.db", check_same_thread=False, timeout=60)
    conn.execute("PRAGMA journal_mode=WAL")
    serde = JsonPlusSerializer(allowed_msgpack_modules=STATE_TYPES)
    return SqliteSaver(conn, serde=serde)
