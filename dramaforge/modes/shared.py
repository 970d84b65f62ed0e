"""Backends composed for a render of several versions: one plan directed once and fitted to
each version, speech measured through the asset store, music and ambience generated once.

These wrap the configured backends rather than change the graph: every version renders
through the ordinary session, and what the versions have in common reaches the asset store
under the same key, so it is generated once and found in the store after that.
"""

from __future__ import annotations

import hashlib
import math
from collections.abc import Callable
from dataclasses import dataclass, field
from functools import partial
from pathlib import Path
from typing import ClassVar, Generic, Protocol, TypeVar

from dramaforge.agents.bible import build_bible
from dramaforge.agents.director import speech_seconds
from dramaforge.graph.context import RenderContext
from dramaforge.graph.cost import units
from dramaforge.graph.nodes.score import produce_sound
from dramaforge.media.audio import trim_audio
from dramaforge.media.store import AssetStore, file_digest
from dramaforge.modes.fit import Fit
from dramaforge.schema import Language, Line, Script, Shot, ShotPlan, StyleBible
from dramaforge.tools.protocols import (
    Director,
    Generated,
    SoundBackend,
    SoundRequest,
    SpeechRequest,
    TaskJournal,
)

SHARED_KINDS = ("music", "ambience")


def line_seconds(
    ctx: RenderContext | None, script: Script, plan: ShotPlan
) -> Callable[[Line], float]:
    """How long each line of ``script`` lasts once spoken. With ``ctx``: measured, the speech
    made through the store under the voice stage's own key, so the speech made to plan a
    version is the speech the render then uses. Without: estimated from the text (planning,
    which must not pay for speech)."""
    if ctx is None:
        return partial(_estimate, script.language)
    voices = ctx.speech.voices(script.language)
    return partial(_measure, ctx, build_bible(script, plan, voices), script.language)


def _estimate(language: Language, line: Line) -> float:
    return speech_seconds(line.text, language)


def _measure(ctx: RenderContext, bible: StyleBible, language: Language, line: Line) -> float:
    request = SpeechRequest(text=line.text, language=language, voice=bible.voice_for(line.speaker))

    def make(dest: Path, journal: TaskJournal) -> Generated:
        return ctx.paid(
            ctx.speech.name,
            units("speech", text=request.text),
            "speech to fit a version",
            partial(ctx.speech.synthesize, request, dest, journal),
        )

    _, made = ctx.store.produce(
        "line", ctx.speech.name, request.model_dump(mode="json"), "wav", make
    )
    return made.duration or 0.0


class Named(Protocol):
    name: str


B = TypeVar("B", bound=Named)


@dataclass
class Wrapper(Generic[B]):
    """A backend or director wrapped to change what it makes. It goes by the wrapped one's
    name, the name store keys and manifests record, unless a subclass says otherwise."""

    inner: B
    name: str = field(init=False)

    def __post_init__(self) -> None:
        self.name = self.inner.name


@dataclass
class FromFile:
    """A backend that makes everything from one file the person gave (a photo, a track). It
    is named by the file's content, so what two files make never shares a store key."""

    source: Path
    name: str = field(init=False)
    KIND: ClassVar[str]

    def __post_init__(self) -> None:
        self.name = f"{self.KIND}:{file_digest(self.source)[:16]}"


@dataclass
class Delegating(Wrapper[Director]):
    """A director wrapper: a prompt the provider refused is the wrapped director's to rewrite."""

    def rewrite(self, shot: Shot, prompt: str, reason: str, language: Language) -> str:
        return self.inner.rewrite(shot, prompt, reason, language)


@dataclass
class FittedDirector(Delegating):
    """A director that plans a script once (shared by every version) and fits the plan to
    one version's duration (``fit``; None: the plan as directed). ``ctx`` None: lengths are
    estimated from the text (``plan``, which must not pay for speech); otherwise speech is
    made and measured."""

    fit: Fit | None
    plans: dict[str, ShotPlan]
    ctx: RenderContext | None = None

    def base(self, script: Script) -> ShotPlan:
        key = hashlib.sha256(script.model_dump_json(exclude={"source"}).encode()).hexdigest()
        if key not in self.plans:
            self.plans[key] = self.inner.direct(script)
        return self.plans[key]

    def direct(self, script: Script) -> ShotPlan:
        base = self.base(script)
        if self.fit is None:
            return base
        return self.fit.plan(base, line_seconds(self.ctx, script, base))


@dataclass
class SharedSound(Wrapper[SoundBackend]):
    """Music and ambience generated once at ``length`` seconds and trimmed (with a fade) to
    what each version's scene needs; effects and longer requests go straight through."""

    store: AssetStore
    length: float

    def generate(
        self, request: SoundRequest, dest: Path, journal: TaskJournal | None = None
    ) -> Generated:
        if request.kind not in SHARED_KINDS or request.duration > self.length:
            return self.inner.generate(request, dest, journal)
        full = request.model_copy(update={"duration": self.length})
        asset = produce_sound(self.store, self.inner, full)
        trim_audio(Path(asset.path), request.duration, dest)
        return Generated(duration=request.duration, model=f"{self.inner.name}:trimmed")


def shared_length(durations: list[float]) -> float:
    """The length shared beds are made at: the longest version, up to the next 30 s (so a
    re-run with one version more or less usually finds the same bed in the store)."""
    longest = max(durations, default=60.0)
    return float(30 * math.ceil(longest / 30))
