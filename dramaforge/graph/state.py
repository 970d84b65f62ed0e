"""What the graph carries: small, serialisable, paths and ids rather than bytes.

Domain models come from ``schema.py``; this module only says which of them the graph holds
and how parallel shot results are merged (a dict keyed by shot id). The TypedDicts are
``typing_extensions``' (pydantic reads those on Python 3.11, so a LangGraph server publishes
the input and output schemas and LangGraph Studio shows an input form).
"""

from __future__ import annotations

from typing import Annotated

from pydantic import BaseModel, computed_field
from typing_extensions import TypedDict

from dramaforge.config import OutputSettings, frame_size
from dramaforge.schema import (
    Asset,
    Critique,
    Cue,
    Episode,
    KeyframeReview,
    Language,
    Script,
    ScriptFormat,
    Shot,
    ShotPlan,
    ShotResult,
    Stage,
    StyleBible,
    Take,
)


class RenderOptions(OutputSettings):
    """What an episode is made of (the settings rule, ``config.py``): the output settings,
    each with its settings default, plus where the episode goes and how its script is read.

    Every field has a default because a caller may give only some (LangGraph Server passes
    ``{"options": {"resolution": "360p"}}``); the frame size follows the aspect and the
    resolution. All of it is part of the thread id (``threads.thread_id``).
    """

    out_dir: str = "out"
    episode: str = ""
    """The episode's folder under ``out_dir``; empty: named after the script (``ingest``)."""
    format: ScriptFormat | None = None
    series: str | None = None
    series_file: str | None = None
    """Series bible (JSON) shared by every episode of ``series``."""
    approve: bool = False
    """Stop after planning until a person approves (chat); batch and render never stop."""

    @computed_field  # type: ignore[prop-decorator]
    @property
    def width(self) -> int:
        return frame_size(self.aspect, self.resolution)[0]

    @computed_field  # type: ignore[prop-decorator]
    @property
    def height(self) -> int:
        return frame_size(self.aspect, self.resolution)[1]

    @property
    def episode_dir(self) -> str:
        return f"{self.out_dir}/{self.episode}"


def merge_results(
    left: dict[str, ShotResult] | None, right: dict[str, ShotResult] | None
) -> dict[str, ShotResult]:
    """Parallel shot branches each add their own key; a re-rendered shot replaces its entry."""
    return {**(left or {}), **(right or {})}


class InputState(TypedDict):
    """What a caller must give to render an episode."""

    script_path: str
    options: RenderOptions


class EpisodeState(InputState, total=False):
    script: Script
    plan: ShotPlan
    bible: StyleBible
    results: Annotated[dict[str, ShotResult], merge_results]
    score: list[Asset]
    bed: str
    episode: Episode
    manifest: str


class ShotInput(TypedDict):
    shot: Shot
    bible: StyleBible
    options: RenderOptions
    language: Language
    fingerprint: str
    previous: list[Take]
    """Takes of earlier versions of this shot: kept, numbered before the new ones."""


class ShotState(ShotInput, total=False):
    tries: dict[Stage, int]
    voice: Asset
    cues: list[Cue]
    duration: float
    keyframe: Asset
    motion: Asset
    synced: Asset | None
    """The clip with its on-screen lines lip-synced (None: no lip-sync stage ran)."""
    lipsync_note: str | None
    """Why the lip-sync stage kept the clip as it was (a refusal no retry changes)."""
    critique: Critique
    rejected: str | None
    reviews: list[KeyframeReview]
    takes: list[Take]
    results: Annotated[dict[str, ShotResult], merge_results]


class ShotOutput(TypedDict):
    results: Annotated[dict[str, ShotResult], merge_results]


STATE_TYPES: list[type[BaseModel]] = [
    RenderOptions,
    Script,
    ShotPlan,
    Shot,
    StyleBible,
    ShotResult,
    Take,
    Asset,
    Critique,
    Cue,
    Episode,
    KeyframeReview,
]
