"""The episode operations other programs get (and the batch of a series), declared once.

Each operation is its name, what it does (the text a calling model reads), its arguments as a
pydantic model (the schema both MCP and LangChain publish) and the ``Workspace`` call it makes.
``serve/mcp.py`` and ``serve/langchain.py`` adapt this list; neither declares an operation.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from pydantic import BaseModel, Field

from dramaforge.graph.session import Event
from dramaforge.schema import Aspect, Resolution
from dramaforge.serve.workspace import Workspace

OnEvent = Callable[[Event], None]


class ScriptArgs(BaseModel):
    script: str | None = Field(None, description="script file, relative to the workspace")
    text: str | None = Field(None, description="or the script's text itself")


class RenderArgs(ScriptArgs):
    name: str = Field("episode", description="file name for a script given as text")
    aspect: Aspect | None = Field(None, description="9:16, 16:9 or 1:1")
    resolution: Resolution | None = Field(None, description="360p, 480p, 720p or 1080p")
    budget: float | None = Field(
        None, ge=0, allow_inf_nan=False, description="stop before paid work would exceed this"
    )


class RerenderArgs(BaseModel):
    episode: str = Field(description="episode name, as list_episodes shows it")
    shot: int | str = Field(description="shot number (from 1), or shot id such as s01-02")
    prompt: str | None = Field(None, description="new visual prompt for the shot")
    take: int | None = Field(None, description="restore this earlier take instead (free)")


class EpisodeArgs(BaseModel):
    episode: str = Field(description="episode name, as list_episodes shows it")


class NoArgs(BaseModel):
    pass


class BatchArgs(BaseModel):
    scripts: list[str] = Field(
        min_length=1, description="script files and/or folders of them, relative to the workspace"
    )
    out: str = Field("out", description="folder for the episodes and report.json")
    series: str | None = Field(None, description="series name (default: the first folder's)")
    cluster: bool = Field(
        False,
        description="one Ray task per episode on the configured [cluster] instead of here; the "
        "same batch already running is followed, not started twice",
    )
    jobs: int = Field(1, ge=1, le=16, description="episodes at once when rendered here")
    aspect: Aspect | None = Field(None, description="9:16, 16:9 or 1:1")
    resolution: Resolution | None = Field(None, description="360p, 480p, 720p or 1080p")
    budget: float | None = Field(
        None, ge=0, allow_inf_nan=False, description="stop before paid work would exceed this"
    )


@dataclass(frozen=True)
class Operation:
    """One thing another program may do to the workspace."""

    name: str
    description: str
    args: type[BaseModel]
    run: Callable[[Workspace, Any, OnEvent | None, threading.Event | None], Any]
    """(workspace, validated arguments, progress callback, set when the caller gave up)
    -> JSON-able result. Most operations stop at their next progress event instead."""
    reports_progress: bool = False
    batch: bool = False
    """Its events count episodes (``ended`` of ``total``) and carry lines to log."""


def _render(w: Workspace, a: RenderArgs, on_event: OnEvent | None, _stop: Any) -> Any:
    return w.render_episode(
        a.script,
        a.text,
        a.name,
        aspect=a.aspect,
        resolution=a.resolution,
        budget=a.budget,
        on_event=on_event,
    )


def _batch(w: Workspace, a: BatchArgs, on_event: OnEvent | None, stop: Any) -> Any:
    return w.render_batch(
        a.scripts,
        a.out,
        a.series,
        jobs=a.jobs,
        cluster=a.cluster,
        aspect=a.aspect,
        resolution=a.resolution,
        budget=a.budget,
        on_event=on_event,
        stop=stop,
    )


OPERATIONS: tuple[Operation, ...] = (
    Operation(
        "plan_episode",
        "Shot list and estimated cost of a script (a workspace path, or its text); free, "
        "nothing is rendered and text given here is not saved.",
        ScriptArgs,
        lambda w, a, _e, _s: w.plan_episode(a.script, a.text),
    ),
    Operation(
        "render_episode",
        "Render a script (workspace path, or text saved as scripts/<name>.txt, never over a "
        "different file of that name) into "
        "out/<episode>/: episode.mp4, episode.srt, manifest.json, storyboard.html. Long-running; "
        "reports progress; spends money with paid models. The same script again returns the "
        "finished episode.",
        RenderArgs,
        _render,
        reports_progress=True,
    ),
    Operation(
        "rerender_shot",
        "Redo one shot of a rendered episode (shot number from 1, or id): with a new visual "
        "prompt, as a fresh take, or restoring earlier take number `take` (free); the episode "
        "is re-assembled.",
        RerenderArgs,
        lambda w, a, e, _s: w.rerender_shot(a.episode, a.shot, a.prompt, a.take, e),
        reports_progress=True,
    ),
    Operation(
        "get_episode",
        "The manifest of a rendered episode: shots, takes, prompts, seeds, costs, review.",
        EpisodeArgs,
        lambda w, a, _e, _s: w.get_episode(a.episode),
    ),
    Operation(
        "list_episodes",
        "Every rendered episode in the workspace, newest first.",
        NoArgs,
        lambda w, _a, _e, _s: {"episodes": w.list_episodes()},
    ),
    Operation(
        "render_batch",
        "Render several scripts (files or folders of them in the workspace) as one series into "
        "<out>/<episode>/ with <out>/report.json: here, or with cluster=true on the configured "
        "Ray cluster (refused when [cluster] is not set up). Long-running; reports progress per "
        "episode; spends money with paid models. Finished episodes are skipped when run again; "
        "returns every episode's status, length, shots, takes and cost.",
        BatchArgs,
        _batch,
        reports_progress=True,
        batch=True,
    ),
)
