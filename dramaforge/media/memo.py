"""Measurements of a file remembered while the file is unchanged.

A take's files are immutable (the asset store never rewrites one), yet every render of an
episode, after a one-line edit too, had the critic decode each unchanged clip again for its
luma and motion figures and meter each voice again. In a long-lived process (a chat session,
the MCP server, a batch) the answer is kept, keyed by the file's identity and the arguments:
path, inode, size and modification time, so a file rewritten in place is measured afresh.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from pathlib import Path
from typing import Any, TypeVar

T = TypeVar("T")
LIMIT = 4096  # entries kept; the oldest go first

_seen: dict[tuple[Any, ...], Any] = {}
_lock = threading.Lock()


def remembered(kind: str, path: Path, measure: Callable[[], T], *args: object) -> T:
    """``measure()``, or what it returned before for the same unchanged file and arguments."""
    try:
        st = path.stat()
    except OSError:
        return measure()
    key = (kind, str(path.resolve()), st.st_ino, st.st_size, st.st_mtime_ns, *args)
    with _lock:
        if key in _seen:
            found: T = _seen[key]
            return found
    value = measure()
    with _lock:
        if len(_seen) >= LIMIT:
            _seen.pop(next(iter(_seen)))
        _seen[key] = value
    return value
