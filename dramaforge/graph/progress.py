"""Progress events, streamed to whoever runs the graph (CLI progress, MCP notifications).

Outside a streaming run the writer is a no-op, so nodes can always call these.
"""

from __future__ import annotations

from langgraph.config import get_stream_writer

from dramaforge.tools import notices


def stage_event(stage: str, status: str, **extra: object) -> None:
    get_stream_writer()({"stage": stage, "status": status, **extra})


def shot_event(shot_id: str, stage: str, status: str = "start", **extra: object) -> None:
    """One step of a shot. A stage that starts also hears what its backend tells while it
    waits (a lost reply being looked up, a request asked again): shown on the shot's line."""
    writer = get_stream_writer()
    writer({"shot": shot_id, "stage": stage, "status": status, **extra})
    if status == "start":
        notices.listen(lambda note: writer({"shot": shot_id, "stage": stage, "status": note}))
