"""One Protocol per modality. Backends write a file at ``dest`` and report what it cost.

Paid backends use ``journal`` to record what they submit before polling; local ones ignore it.

Nodes build the request, look it up in the asset store by its key, and call the backend
only on a miss; backends never see the store, the graph or the settings.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, ClassVar, Protocol, runtime_checkable

from pydantic import BaseModel, Field, SerializerFunctionWrapHandler, model_serializer

from dramaforge.schema import CameraMove, Framing, Language, Voice


class Keyed(BaseModel):
    """A request whose dump is its store key. Optional inputs added after keys were first made
    (``LATER``) are left out of the dump when None, so the keys of requests made without them
    are what they were."""

    LATER: ClassVar[tuple[str, ...]] = ()

    @model_serializer(mode="wrap")
    def _drop_later_none(self, handler: SerializerFunctionWrapHandler) -> dict[str, Any]:
        data: dict[str, Any] = handler(self)
        for name in self.LATER:
            if data.get(name, "") is None:
                del data[name]
        return data


class ImageRequest(Keyed):
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
    reference: str | None = None
    """The focus character's reference image (series bible), for models that draw from one;
    others ignore it. Left out of the dump when None, so existing store keys are unchanged."""

    LATER = ("reference",)


class VideoRequest(Keyed):
    prompt: str
    keyframe: str
    width: int
    height: int
    fps: int
    duration: float
    camera: CameraMove
    seed: int
    audio: str | None = None
    """The shot's voice track (WAV), for backends that make the clip in sync with it
    (``takes_audio``); others ignore it. Left out of the dump when None, so the store keys of
    clips made without audio are what they were before this field existed."""

    LATER = ("audio",)


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


class SubmitIntent(BaseModel):
    """A paid submit about to be sent, written to the journal *before* the request goes out.

    If the process dies between the provider accepting the submit and the task id reaching
    the journal, this is what is left: enough to find the task in the provider's task list
    (model, time sent) and to tell it from a sibling's (hash of the request body).
    """

    model: str
    body_sha256: str
    sent_at: float
    """UNIX time (seconds) just before the request was sent."""


class JournalEntry(BaseModel):
    """What one asset's journal holds: a task id, or an intent whose reply never arrived."""

    task_id: str | None = None
    intent: SubmitIntent | None = None
    result: str | None = None
    """A synchronous reply's file URL, kept before it is downloaded: a run killed between the
    reply and the stored file fetches it again instead of paying for a second reply."""


class TaskJournal(Protocol):
    """Where a paid backend records what it submitted, so a crash never pays twice.

    Order of writes for one submit: ``intend`` (before the request), then ``record`` (as soon
    as the task id is known), then polling. A render killed at any point and resumed finds
    either the task id (polled, not resubmitted) or the intent (looked up in the provider's
    task list before anything is resubmitted). One journal belongs to one asset (store key);
    ``claimed`` and ``rivals`` look at the other assets of the same store.
    """

    def read(self) -> JournalEntry:
        """The task id or intent recorded for this asset (empty if nothing was submitted)."""
        ...

    def intend(self, intent: SubmitIntent) -> None:
        """Persist ``intent`` durably before returning; it replaces anything recorded."""
        ...

    def record(self, task_id: str) -> None:
        """Persist ``task_id`` durably before returning; it resolves the intent."""
        ...

    def record_result(self, url: str) -> None:
        """Persist a synchronous reply's file URL durably before returning."""
        ...

    def forget(self) -> None:
        """Drop the record (the task failed for good, or no task was created)."""
        ...

    def claimed(self) -> set[str]:
        """Task ids ever recorded by any asset of this store: never adopted by another."""
        ...

    def rivals(self) -> list[SubmitIntent]:
        """Unresolved intents of the store's *other* assets (their replies were lost too)."""
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
    """Clips. A backend that generates in sync with ``VideoRequest.audio`` says so with a
    ``takes_audio = True`` attribute; the graph sends the voice track only to those, so the
    store key (which includes it) changes only where the audio changes the picture."""

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
