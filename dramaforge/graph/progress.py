"""Progress events, streamed to whoever runs the graph (CLI progress, MCP notifications).

Outside a streaming run the writer is a no-op, so nodes can always call these. A stage of the
shot subgraph runs ``for_shot``: what it and its backends report lands on the shot's line.
"""

from __future__ import annotations

from functools import wraps
from typing import Protocol, TypeVar

from langgraph.config import get_stream_writer
from langgraph.runtime import Runtime

from dramaforge.graph.context import RenderContext
from dramaforge.graph.state import ShotState
from dramaforge.tools.progress import current_shot, working_on

R = TypeVar("R", covariant=True)


class ShotNode(Protocol[R]):
    """A stage of the shot subgraph, as LangGraph calls it (``runtime`` by keyword)."""

    def __call__(self, state: ShotState, runtime: Runtime[RenderContext]) -> R: ...


def stage_event(stage: str, status: str, **extra: object) -> None:
    """A stage's event; inside a shot's stage it carries the shot's id."""
    shot = current_shot()
    get_stream_writer()(
        {"stage": stage, "status": status, **({"shot": shot} if shot else {}), **extra}
    )


def shot_event(shot_id: str, stage: str, status: str = "start", **extra: object) -> None:
    """One step of a shot; what its backend reports meanwhile comes through ``for_shot``."""
    get_stream_writer()({"shot": shot_id, "stage": stage, "status": status, **extra})


def for_shot(node: ShotNode[R]) -> ShotNode[R]:
    """``node``, a stage of the shot subgraph, run with its shot as the one backends work for
    (``tools.progress.working_on``): a backend cannot see the shot id, its progress events
    get it from there."""

    @wraps(node)
    def stage(state: ShotState, runtime: Runtime[RenderContext]) -> R:
        with working_on(state["shot"].id):
            return node(state, runtime)

    return stage
