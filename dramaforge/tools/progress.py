"""What a backend tells the person while it works, on the line of the shot it works for.

A backend is handed a request, never the shot it is for; the shot's stages say which shot
they work on (``working_on``, set by the graph around each stage of the shot subgraph), and
every event a backend reports meanwhile (``report``: a ComfyUI sampler's steps, the DashScope
transport looking up a lost reply, a speech request asked again) carries that shot's id, so
the CLI, the studio and MCP show it on the shot's line, not the episode's. Outside a graph run
(a test, a script) nothing is listening and ``report`` does nothing.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from contextvars import ContextVar

_shot: ContextVar[str | None] = ContextVar("dramaforge_shot", default=None)


@contextmanager
def working_on(shot_id: str) -> Iterator[None]:
    """Within the block (this thread, and what it calls), backends work for ``shot_id``."""
    token = _shot.set(shot_id)
    try:
        yield
    finally:
        _shot.reset(token)


def current_shot() -> str | None:
    """The shot the code running now works for, if it works for one."""
    return _shot.get()


def report(stage: str, status: str, **extra: object) -> None:
    """Stream ``{"stage", "status", ...}`` with the current shot's id, when inside a graph run;
    nothing outside one (a test, a script, a thread of the backend's own)."""
    from langgraph.config import get_stream_writer  # only once a backend has something to say

    try:
        writer = get_stream_writer()
    except RuntimeError:
        return
    shot = current_shot()
    writer({"stage": stage, "status": status, **({"shot": shot} if shot else {}), **extra})
