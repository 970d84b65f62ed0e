"""Progress events, streamed to whoever runs the graph (CLI progress, MCP notifications).

Outside a streaming run the writer is a no-op, so nodes can always call these.
"""

from __future__ import annotations

from langgraph.config import get_stream_writer


def stage_event(stage: str, status: str, **extra: object) -> None:
    get_stream_writer()({"stage": stage, "status": status, **extra})


def shot_event(shot_id: str, stage: str, status: str = "start", **extra: object) -> None:
    get_stream_writer()({"shot": shot_id, "stage": stage, "status": status, **extra})
