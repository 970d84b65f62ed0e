"""The tool agents' contract: one Protocol per modality, the requests they take, and what the
graph needs of a director and a reviewer.

Backends write a file at ``dest`` and report what it cost. Paid backends use ``journal`` to
record what they submit before polling; local ones ignore it. Nodes build the request, look it
up in the asset store by its key, and call the backend only on a miss; backends never see the
store, the graph or the settings. Director and reviewer backends are found through the same
registry (``local:rules``, ``openai:<model>``, a plugin).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, ClassVar, Protocol, runtime_checkable

from pydantic import BaseModel, Field, SerializerFunctionWrapHandler, model_serializer

from dramaforge.media.journal import Generated, JournalEntry, SubmitIntent, TaskJournal
from dramaforge.media.store import AssetStore
from dramaforge.schema import (
    CameraMove,
    Critique,
    Cue,
    Framing,
    Language,
    Script,
    Shot,
    ShotPlan,
    StyleBible,
    Voice,
)

__all__ = [
    "Director",
    "Generated",
    "ImageBackend",
    "ImageRequest",
    "JournalEntry",
    "Keyed",
    "LipsyncBackend",
    "LipsyncRequest",
    "Reviewer",
    "SoundBackend",
    "SoundRequest",
    "SpeechBackend",
    "SpeechRequest",
    "SubmitIntent",
    "TaskJournal",
    "VideoBackend",
    "VideoRequest",
]


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
    clips made without audio are what they were before this field existed. Only on-screen
    lines are audible in it: narration and off-screen voices move no lips."""
    speaking: list[Cue] | None = None
    """Who speaks when (the on-screen lines' cues), for backends that draw each speaker's
    mouth themselves (``takes_speakers``, the offline animatic); None for others."""

    LATER = ("audio", "speaking")


class LipsyncRequest(Keyed):
    """One on-screen line made to move its speaker's lips.

    ``video`` is the shot's finished clip for a pass over it (``videoretalk``, a ComfyUI
    lip-sync workflow); None asks a speech-to-video model to make the clip from ``image`` (the
    keyframe) and ``audio`` alone (``wan2.2-s2v``). ``face`` is the speaker's reference face,
    for models that pick one face when several are in frame.
    """

    image: str
    audio: str
    width: int
    height: int
    fps: int
    duration: float
    seed: int
    prompt: str = ""
    video: str | None = None
    face: str | None = None


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
class LipsyncBackend(Protocol):
    """Lips that move with a line: a pass over a finished clip, or speech-to-video.

    A backend that makes the clip from the keyframe and the voice alone says so with a
    ``speech_to_video = True`` attribute: the graph then sends no ``video``, and gives a shot
    with several on-screen speakers one request per turn (the shot split at the turns).
    Others get the finished clip, one pass per on-screen speaker with that speaker's lines
    alone in ``audio`` and their reference face in ``face`` when several people are in frame.
    """

    name: str

    def generate(
        self, request: LipsyncRequest, dest: Path, journal: TaskJournal | None = None
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
