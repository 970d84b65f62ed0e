"""Domain models: the contract between parsers, agents, backends and the editor.

These are what agents exchange. What the graph carries between nodes lives in
``graph/state.py``; it holds these models (small, serialisable) plus ids and paths.
"""

from __future__ import annotations

import re
from typing import Any, Literal

from pydantic import (
    AliasChoices,
    BaseModel,
    Field,
    FiniteFloat,
    SerializerFunctionWrapHandler,
    model_serializer,
)

Language = Literal["zh", "en"]
Aspect = Literal["9:16", "16:9", "1:1"]
Subtitles = Literal["zh+en", "en+zh"]
"""Bilingual subtitles: both languages, the first on the top line."""
Resolution = Literal["360p", "480p", "720p", "1080p"]  # 360p/480p: drafts and tests
ScriptFormat = Literal["fountain", "marker", "yaml", "prose", "shotlist"]
Framing = Literal["wide", "medium", "close_up", "reaction", "insert"]
CameraMove = Literal["static", "zoom_in", "zoom_out", "pan_left", "pan_right"]
BeatKind = Literal["action", "dialogue", "narration", "sfx", "music", "card"]
"""``card``: text shown on screen as a title card (Fountain's ``> THE END <``, a titles scene)."""
Stage = Literal["keyframe", "motion", "voice", "lipsync"]
RepairKind = Literal[
    "repeated_line",
    "missing_line",
    "unknown_line",
    "line_order",
    "speaker",
    "duration",
    "scene",
    "fallback",
]

LayerKind = Literal["video", "dialogue", "music", "ambience", "sfx"]


class Character(BaseModel):
    """A named speaker. ``description`` is whatever the script says about them."""

    name: str
    description: str = ""


class Beat(BaseModel):
    """One ordered element of a scene: a line of action, a spoken line, a sound or music cue.

    ``speaker`` is set for dialogue only. ``source_line`` is the 1-based line in the script
    file, kept so errors and the storyboard can point back at the source.
    """

    kind: BeatKind
    text: str
    speaker: str | None = None
    parenthetical: str | None = None
    source_line: int | None = None
    translation: str | None = None
    """The writer's own translation of a spoken line (``（en）…`` on the line after it)."""


class ListedShot(BaseModel):
    """A shot as a shot list gives it (JSON/CSV/Excel from another tool or an LLM). The
    director keeps it as listed and fills only what is missing: ``None`` framing, camera or
    duration are the director's to choose."""

    label: str = ""
    """The list's own number for it (``镜号``), shown in repairs."""
    framing: Framing | None = None
    camera: CameraMove | None = None
    duration: float | None = None
    visual: str = ""
    characters: list[str] = Field(default_factory=list)
    beats: list[Beat] = Field(default_factory=list)
    """Its lines, narration, sound effects and music, in order."""


class Scene(BaseModel):
    """One place and time in the script: its heading, what happens (beats) and who is in it."""

    index: int
    heading: str
    location: str = ""
    time_of_day: str = ""
    interior: bool | None = None
    beats: list[Beat] = Field(default_factory=list)
    source_line: int | None = None
    shots: list[ListedShot] = Field(default_factory=list)
    """The shots a shot list gives, kept as listed; empty: the director cuts the beats."""


class Channel(BaseModel):
    """A delivery target from a brief: one render per channel."""

    name: str
    aspect: Aspect = "9:16"
    duration: float | None = None
    script: str = ""
    """The version's own script text (rendered as written); empty: fitted from the brief."""


class Script(BaseModel):
    """A parsed script of any format: title, language, cast and scenes, before any directing.

    Every parser (markers, Fountain, briefs, prose) produces this; the director reads only it.
    """

    title: str
    language: Language
    format: ScriptFormat
    characters: list[Character] = Field(default_factory=list)
    scenes: list[Scene]
    channels: list[Channel] = Field(default_factory=list)
    source: str = ""
    logline: str = ""
    style: str = ""
    """The look the script asks for (a ``风格：`` / ``Style:`` line); the bible's look when set."""
    notes: list[PlanRepair] = Field(default_factory=list)
    """What reading filled in (a speaker inferred from the frame): the plan's repairs."""

    def spoken_lines(self) -> list[Beat]:
        return [b for s in self.scenes for b in s.beats if b.kind in ("dialogue", "narration")]


OFF_SCREEN = re.compile(
    r"^\W*(v\.?\s?o|o\.?\s?s|o\.?\s?c|voice[- ]?over|off[- ]?(screen|camera))\W*$|画外|旁白|内心",
    re.IGNORECASE,
)
"""Parentheticals that say a line is heard, not seen spoken: (V.O.), (O.S.), （画外音）."""


class Line(BaseModel):
    """A spoken line placed on a shot. ``speaker`` is None for narration."""

    text: str
    speaker: str | None = None
    narration: bool = False
    parenthetical: str | None = None
    source_line: int | None = None

    @property
    def heard_only(self) -> bool:
        """Narration, or a line marked voice-over / off-screen: no lips move with it."""
        if self.narration or self.speaker is None:
            return True
        return OFF_SCREEN.search(self.parenthetical or "") is not None


class Shot(BaseModel):
    """One camera set-up of the plan: what is seen (prompt, framing, camera), who speaks which
    lines, its sound, and how long it lasts. ``index`` is its identity: moving a shot in the
    plan does not make it a new shot, so it is not rendered again."""

    id: str
    index: int
    scene_index: int
    scene_heading: str
    duration: FiniteFloat
    """Seconds; NaN or infinity from any source (a plan, an edit) is refused here."""
    framing: Framing
    camera: CameraMove
    visual_prompt: str
    action: str = ""
    characters: list[str] = Field(default_factory=list)
    focus: str | None = None
    lines: list[Line] = Field(default_factory=list)
    sfx: list[str] = Field(default_factory=list)
    music: str | None = None
    mood: str = "neutral"
    time_of_day: str = ""
    hold: float | None = None
    """Seconds a shot list gave this shot: its speech may make it longer, never shorter."""
    card: str | None = None
    """A title card's text, shown on screen for the whole shot (centred in the picture where
    the painter draws it, and as an on-screen caption in every render)."""
    revision: int = 0
    """Bumped by "redo this shot": a new keyframe and clip for an otherwise unchanged shot."""

    def visible(self) -> list[str]:
        """Who is in frame: nobody in an insert, the focus alone in a close-up (the first
        character where the shot names no focus among them: the one the storyboard draws)."""
        if self.framing == "insert":
            return []
        if self.framing == "close_up" and self.characters:
            return [self.focus if self.focus in self.characters else self.characters[0]]
        return list(self.characters)

    def on_screen(self, line: Line) -> bool:
        """Whether ``line`` is spoken by someone in frame, so their lips must move with it."""
        return not line.heard_only and line.speaker in self.visible()


class PlanRepair(BaseModel):
    """One fix the director made to a model's plan, or (``fallback``) a scene it planned by rule
    because the model's plan was beyond repair. Recorded so a person can see what the model
    got wrong and where the plan is the director's own rather than the model's."""

    scene: int
    kind: RepairKind
    detail: str
    shot: str | None = None
    """The shot the fix landed on (its id in the plan); None for the whole scene."""

    def describe(self) -> str:
        where = f"scene {self.scene}" + (f", {self.shot}" if self.shot else "")
        verb = "planned by rule" if self.kind == "fallback" else "repaired"
        return f"{verb} ({where}): {self.detail}"


class ShotPlan(BaseModel):
    """The director's answer: every shot of the episode in order, and the script's language."""

    title: str
    language: Language
    shots: list[Shot]
    director: str = "local:rules"
    repairs: list[PlanRepair] = Field(default_factory=list)
    """What the director fixed in the model's plan, and which scenes fell back to rules."""

    def shot(self, shot_id: str) -> Shot:
        for s in self.shots:
            if s.id == shot_id:
                return s
        raise KeyError(shot_id)


class VoiceConsent(BaseModel):
    """Who gave a cloned voice's sample, the sample file's SHA-256, and that they affirmed
    they own the voice (``--i-own-this-voice`` / ``consent=yes``): kept in the bible and so
    in every manifest that uses the voice."""

    owner: str
    sample_sha256: str
    affirmed: bool
    sample: str = ""


VoiceOrigin = Literal["designed", "cloned", "matched"]


class Voice(BaseModel):
    """A fixed voice: backend-specific id plus pitch and speed tweaks that make it distinct.

    A voice made for a character says how (``origin``: designed from ``description``, cloned
    from a sample with ``consent``, or the closest system voice ``matched`` to the words)."""

    id: str
    pitch: float = 1.0
    rate: float = 1.0
    origin: VoiceOrigin | None = None
    description: str = ""
    consent: VoiceConsent | None = None

    @model_serializer(mode="wrap")
    def _unset_left_out(self, handler: SerializerFunctionWrapHandler) -> dict[str, Any]:
        """A plain system voice dumps as before these fields existed, so the fingerprints
        of shots rendered earlier (which hash the dump) still hold."""
        data: dict[str, Any] = handler(self)
        if self.origin is None:
            for name in ("origin", "description", "consent"):
                data.pop(name, None)
        return data


class VoiceToMake(BaseModel):
    """A voice the cast stage pays for once the plan is approved: designed from words, or
    cloned from a sample whose owner's consent was checked when it was planned."""

    how: Literal["design", "clone"]
    by: str
    """The priced ``provider:model`` that makes it (its ``[prices]`` key, per voice)."""
    description: str = ""
    sample: str | None = None
    consent: VoiceConsent | None = None

    def said(self) -> str:
        """What it is made from, in a few words: the description, or the sample and owner."""
        if self.how == "design" or self.consent is None:
            return self.description
        return f"sample {self.consent.sample}, owner {self.consent.owner}"


class CastWork(BaseModel):
    """What an approved plan pays for before its first shot (the ``cast`` stage): reference
    sheets to draw and voices to make. The bible shown at approval lists it and the estimate
    prices it, so the plan says what it will buy; the cast stage empties it as it makes it."""

    sheets: list[str] = Field(default_factory=list)
    voices: dict[str, VoiceToMake] = Field(default_factory=dict)
    narrator: VoiceToMake | None = None

    def empty(self) -> bool:
        return not (self.sheets or self.voices or self.narrator)

    def describe(self) -> list[str]:
        """One plain line per kind of work (none when there is nothing to make)."""
        if self.empty():
            return []
        lines = ["made first, once the plan is approved (in the estimate):"]
        if self.sheets:
            lines.append(f"  reference sheets: {', '.join(self.sheets)}")
        made = {**self.voices, **({"narrator": self.narrator} if self.narrator else {})}
        for how in ("design", "clone"):
            who = [f"{name} ({v.said()})" for name, v in made.items() if v.how == how]
            if who:
                lines.append(f"  voices to {how}: {'; '.join(who)}")
        return lines

    def voices_by(self) -> dict[str, int]:
        """How many voices each priced ``provider:model`` will make."""
        made = [*self.voices.values(), *([self.narrator] if self.narrator else [])]
        counts: dict[str, int] = {}
        for voice in made:
            counts[voice.by] = counts.get(voice.by, 0) + 1
        return counts


class CharacterLook(BaseModel):
    """How one character looks and sounds in every shot: description, colour, side, seed, voice."""

    name: str
    description: str
    color: str
    slot: int
    seed: int
    voice: Voice
    reference_image: str | None = None


class StyleBible(BaseModel):
    """The fixed look of a project: style, palette and every character's look and voice.

    Every prompt is built from it, so consistency is designed in before it is checked.
    """

    look: str
    palette: list[str]
    era: str = "contemporary"
    seed: int
    characters: dict[str, CharacterLook] = Field(default_factory=dict)
    narrator: Voice
    to_make: CastWork = Field(default_factory=CastWork)
    """Sheets and voices the ``cast`` stage makes once the plan is approved (none after it)."""

    def voice_for(self, speaker: str | None) -> Voice:
        if speaker and speaker in self.characters:
            return self.characters[speaker].voice
        return self.narrator


class Critique(BaseModel):
    """A critic's verdict on a take or keyframe: passed, a score, what is wrong, and which
    stage to redo (``stage_at_fault``), with a rewritten prompt when it has one."""

    passed: bool
    score: float
    issues: list[str] = Field(default_factory=list)
    stage_at_fault: Stage | None = None
    revised_prompt: str | None = None
    reviewer: str = "local:heuristic"
    sync: float | None = None
    """Lip sync: the worst on-screen speaker's mouth opening against their voice's loudness
    (correlation, 1 = in step); None where nobody on screen speaks."""
    identity: float | None = None
    """A keyframe's least like character against their reference picture (cosine, 1 = the
    same face); None where no character in frame has a reference."""


class Asset(BaseModel):
    """A file produced by a backend, keyed by what produced it."""

    path: str
    stage: str
    key: str
    backend: str
    seed: int | None = None
    prompt: str = ""
    cost: float = 0.0
    seconds: float = 0.0
    cached: bool = False
    gpu_seconds: float | None = None
    """Device time of a model run on this machine's GPU (``diffusers:*``)."""
    note: str = ""
    """What the person should know about how it was made: "possibly paid twice" when a
    synchronous request (no task to look up) was sent again after its reply was lost."""
    node: str | None = None
    """The machine that made it, on a cluster (its Ray node id); None on one machine."""


class Cue(BaseModel):
    """A timed subtitle: seconds from the start of the shot (or episode, once placed)."""

    start: float
    end: float
    text: str
    speaker: str | None = None
    translation: str | None = None
    """Bilingual subtitles: the line in the other language, drawn a little smaller."""
    translation_first: bool = False
    """The translation's block above the original (``en+zh`` of a Chinese script)."""


class Take(BaseModel):
    """One attempt at a shot: its keyframe, clip and voice, and what the critic said."""

    number: int
    keyframe: Asset
    motion: Asset
    voice: Asset
    cues: list[Cue] = Field(default_factory=list)
    duration: float
    critique: Critique
    shot: Shot | None = None
    """The shot as planned when this take was made; restoring the take restores it."""
    unsynced: Asset | None = None
    """The clip before the lip-sync stage, where one ran (``motion`` is then its result)."""


class KeyframeReview(BaseModel):
    """A keyframe judged before any money is spent animating it."""

    keyframe: Asset
    critique: Critique


class ShotResult(BaseModel):
    """Everything made for one shot: every take (numbered across versions of the shot), the
    one chosen, and the keyframe reviews that came before any money went to motion."""

    shot_id: str
    takes: list[Take]
    chosen: int
    duration: float
    keyframe_reviews: list[KeyframeReview] = Field(default_factory=list)
    fingerprint: str = Field("", validation_alias=AliasChoices("fingerprint", "spec"))
    """Fingerprint of the shot (and its characters' looks and voices) this result renders;
    a shot whose fingerprint changed is rendered again, its earlier takes kept."""

    @property
    def take(self) -> Take:
        return self.takes[self.chosen]


class Episode(BaseModel):
    """The finished render of one channel."""

    path: str
    srt: str
    aspect: Aspect
    width: int
    height: int
    duration: float
    loudness_lufs: float | None = None
    true_peak_dbtp: float | None = None
    fps: int | None = None
    """Frame rate of the cut; None in manifests written before it was recorded."""


class ReviewCheck(BaseModel):
    """One measured property of the finished episode against what was asked for."""

    name: str
    passed: bool
    measured: float | None = None
    target: float | None = None
    unit: str = ""
    detail: str = ""


class CueSpeech(BaseModel):
    """A subtitle and the share of its time on screen with speech under it in the final mix."""

    index: int
    start: float
    end: float
    text: str
    speech: float


class EpisodeReview(BaseModel):
    """The critic's look at the assembled episode. A failing review reports; it deletes nothing."""

    passed: bool
    checks: list[ReviewCheck] = Field(default_factory=list)
    cues: list[CueSpeech] = Field(default_factory=list)


class ShotLikeness(BaseModel):
    """How closely one shot's chosen keyframe matches a character's reference (1 = same)."""

    shot_id: str
    keyframe: str
    score: float


class CharacterConsistency(BaseModel):
    """A character's shots measured against their reference image."""

    name: str
    reference: str
    reference_from: str
    """``bible`` when the series bible already held it, else the shot it was taken from."""
    score: float | None = None
    """Mean over ``shots``; None when the character is in no shot but the reference, or the
    reference has no colour to measure by."""
    lowest: float | None = None
    shots: list[ShotLikeness] = Field(default_factory=list)


class CharacterIdentity(BaseModel):
    """One character's faces across the episode: against their reference picture (``cross``,
    per shot) and against each other (``self``), cosine similarity (1 = the same face)."""

    name: str
    shots: dict[str, float] = Field(default_factory=dict)
    """Shot id -> cross score of the chosen keyframe (the reference's own shot left out)."""
    cross_mean: float | None = None
    cross_worst: float | None = None
    self_mean: float | None = None
    self_worst: float | None = None


class IdentityReport(BaseModel):
    """Is it still them, measured: per character, and the episode's means and worst, with
    the count check (faces seen against people in frame) and the copy guard."""

    characters: list[CharacterIdentity] = Field(default_factory=list)
    cross_mean: float | None = None
    cross_worst: float | None = None
    self_mean: float | None = None
    self_worst: float | None = None
    miscounted: list[str] = Field(default_factory=list)
    """Shots whose keyframe shows more or fewer faces than people in frame."""
    copies: list[str] = Field(default_factory=list)
    """Shots whose keyframe is near-identical to a reference picture (left out of the means)."""


class EditItem(BaseModel):
    """One piece of the cut where the assembly placed it: what editors' timelines are built from.

    ``path`` is relative to the episode folder, so the folder can be moved as a whole. Gains
    are the levels the mix used (before ducking and loudness normalisation).
    """

    kind: LayerKind
    path: str
    start: float
    """Seconds from the start of the episode."""
    duration: float
    gain_db: float = 0.0
    shot_id: str | None = None
    label: str = ""


class Manifest(BaseModel):
    """What a render made, written beside the episode as ``manifest.json``: the plan, the bible,
    each shot's takes, the finished file, costs and the review. Enough to redo any shot."""

    title: str
    script: str
    language: Language
    backends: dict[str, str]
    bible: StyleBible
    plan: ShotPlan
    shots: list[ShotResult]
    score: list[Asset] = Field(default_factory=list)
    episode: Episode
    total_cost: float = 0.0
    timings: dict[str, float] = Field(default_factory=dict)
    thread: str = ""
    """The checkpoint thread of this render: ``rerender`` and ``chat --resume`` continue it."""
    review: EpisodeReview | None = None
    """Duration, loudness, A/V sync and subtitles of the finished file, measured."""
    consistency: list[CharacterConsistency] = Field(default_factory=list)
    """Per character: each shot's keyframe against the character's reference image."""
    identity: IdentityReport | None = None
    """Per character: faces against the reference picture and each other (face embeddings)."""
    passes: dict[str, float] = Field(default_factory=dict)
    """Cost of each pass over this episode: ``draft`` (if one was made) and ``final``."""
    repairs: list[PlanRepair] = Field(default_factory=list)
    """The plan's repairs and rule-planned scenes (``plan.repairs``), at the top for readers."""

    edit: list[EditItem] = Field(default_factory=list)
    """The cut as placed pieces (chosen clips, voices, music, ambience, effects): the source of
    the editor exports (OTIO, 剪映)."""
    fingerprint: dict[str, str] = Field(default_factory=dict)
    """What the render consumed (thread, settings, file hashes): an unchanged re-render stops
    here instead of assembling again (``graph/uptodate.py``)."""
