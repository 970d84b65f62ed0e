"""What the graph carries: small, serialisable, paths and ids rather than bytes.

Domain models come from ``schema.py``; this module only says which of them the graph holds
and how parallel shot results are merged (a dict keyed by shot id).
"""

from __future__ import annotations

from typing import Annotated, TypedDict

from pydantic import BaseModel

from dramaforge.schema import (
    Aspect,
    Asset,
    Critique,
    Cue,
    Episode,
    KeyframeReview,
    Language,
    Resolution,
    Script,
    ScriptFormat,
    Shot,
    ShotPlan,
    ShotResult,
    Stage,
    StyleBible,
    Subtitles,
    Take,
)


class RenderOptions(BaseModel):
    out_dir: str
    episode: str
    aspect: Aspect
    resolution: Resolution
    width: int
    height: int
    fps: int
    max_takes: int
    min_shot: float
    max_shot: float
    target_lufs: float
    true_peak: float
    language: Language | None = None
    format: ScriptFormat | None = None
    series: str | None = None
    series_file: str | None = None
    """Series bible (JSON) shared by every episode of ``series``."""
    subtitles: Subtitles | None = None
    """Bilingual subtitles (``zh+en``, top line first); None: the script's language only."""
    approve: bool = False
    """Stop after planning until a person approves (chat); batch and render never stop."""

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
