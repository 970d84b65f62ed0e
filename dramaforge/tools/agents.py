"""The director and the critic as backends: what the graph needs of each, found through the
same registry as image, video and speech (``local:rules``, ``openai:<model>``, a plugin).
"""

from __future__ import annotations

from pathlib import Path
from typing import Protocol, runtime_checkable

from dramaforge.schema import Critique, Cue, Language, Script, Shot, ShotPlan, StyleBible
from dramaforge.tools.media.store import AssetStore

Frame = tuple[int, int]


@runtime_checkable
class Director(Protocol):
    """What the graph needs of a director: a plan, and a rewrite of a refused prompt."""

    name: str

    def direct(self, script: Script) -> ShotPlan: ...

    def rewrite(self, shot: Shot, prompt: str, reason: str, language: Language) -> str: ...


@runtime_checkable
class Reviewer(Protocol):
    """What the graph's critic node needs: the heuristic Critic, a vision critic, a plugin."""

    name: str

    def with_bible(self, bible: StyleBible) -> Reviewer:
        """The same reviewer, told the episode's characters and look."""
        ...

    def with_store(self, store: AssetStore) -> Reviewer:
        """The same reviewer, keeping paid verdicts in ``store`` so none is paid for twice."""
        ...

    def review_keyframe(
        self, shot: Shot, *, keyframe: Path, asset_key: str | None = None
    ) -> Critique:
        """Judge the keyframe alone, before it is sent to the (far dearer) video model.

        ``asset_key`` names the generation that made it (the store's key), so a kept verdict
        is found again for the same generation and never shared with another one.
        """
        ...

    def review(
        self,
        shot: Shot,
        *,
        keyframe: Path,
        motion: Path,
        voice: Path,
        duration: float,
        cues: list[Cue] | None = None,
        frame: Frame | None = None,
    ) -> Critique:
        """Judge a finished take; ``frame`` is the render's (width, height), when known."""
        ...
