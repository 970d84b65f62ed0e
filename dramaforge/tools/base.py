"""One Protocol per modality. Backends write a file at ``dest`` and report what it cost.

Paid backends use ``journal`` to record a provider task id before polling; local ones ignore it.

Nodes build the request, look it up in the asset store by its key, and call the backend
only on a miss; backends never see the store, the graph or the settings.
"""

from __future__ import annotations

from pathlib import Path
from typing import Protocol, runtime_checkable

from pydantic import BaseModel, Field

from dramaforge.schema import CameraMove, Framing, Language, Voice


class ImageRequest(BaseModel):
    """A keyframe: the prompt plus everything a storyboard renderer needs to compose it."""

    prompt: str
    width: int
    height: int
    seed: int
    framing: Framing
    scene_heading: str
    time_of_day: str = ""
    mood: str = "neutral"
    palette: list[str] = Field(default_factory=list)
    # name -> (hex colour, slot index): fixed per character by the style bible
    characters: dict[str, tuple[str, int]] = Field(default_factory=dict)
    focus: str | None = None
    caption: str = ""
    language: Language = "zh"


class VideoRequest(BaseModel):
    prompt: str
    keyframe: str
    width: int
    height: int
    fps: int
    duration: float
    camera: CameraMove
    seed: int


class SpeechRequest(BaseModel):
    text: str
    language: Language
    voice: Voice


class SoundRequest(BaseModel):
    """Music, ambience or one sound effect, described in words (any language)."""

    kind: str  # "music" | "ambience" | "sfx"
    description: str
    duration: float
    seed: int


class Generated(BaseModel):
    """What a backend reports besides the file: duration of media made, money spent."""

    duration: float | None = None
    cost: float = 0.0
    model: str = ""


class TaskJournal(Protocol):
    """Where a paid backend records a provider task id *before* it polls.

    A render killed after submitting and resumed later finds the id here and polls that task
    instead of paying for a second one. One journal belongs to one asset (one store key).
    """

    def recall(self) -> str | None:
        """The task id recorded for this asset, if a submit already happened."""
        ...

    def record(self, task_id: str) -> None:
        """Persist ``task_id`` durably (atomic write) before returning."""
        ...

    def forget(self) -> None:
        """Drop the record (the task failed for good and may be submitted again)."""
        ...


@runtime_checkable
class ImageBackend(Protocol):
    name: str

    def generate(
        self, request: ImageRequest, dest: Path, journal: TaskJournal | None = None
    ) -> Generated:
        """Write a PNG image at ``dest``."""
        ...


@runtime_checkable
class VideoBackend(Protocol):
    name: str

    def generate(
        self, request: VideoRequest, dest: Path, journal: TaskJournal | None = None
    ) -> Generated:
        """Write an H.264 MP4 (no audio) of exactly ``duration`` seconds at ``dest``."""
        ...


@runtime_checkable
class SpeechBackend(Protocol):
    name: str

    def check(self, language: Language) -> None:
        """Raise ConfigError naming what to install if ``language`` cannot be spoken."""
        ...

    def voices(self, language: Language) -> list[Voice]:
        """Distinct, stable voices for ``language``; the bible gives the first to the narrator."""
        ...

    def synthesize(
        self, request: SpeechRequest, dest: Path, journal: TaskJournal | None = None
    ) -> Generated:
        """Write a mono WAV of the spoken text at ``dest``; ``duration`` is its length."""
        ...


@runtime_checkable
class SoundBackend(Protocol):
    name: str

    def generate(
        self, request: SoundRequest, dest: Path, journal: TaskJournal | None = None
    ) -> Generated:
        """Write a stereo 48 kHz WAV of ``duration`` seconds at ``dest``."""
        ...
