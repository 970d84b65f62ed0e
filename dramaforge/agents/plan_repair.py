"""Repairing a model's scene plan in code, so one inconsistent reply never sinks an episode.

A chat model asked for a shot list answers with a schema-valid object that can still be wrong:
a line in two shots, a line in none, lines out of order, a speaker spelled "Narator" or "小雨"
for "林小雨", a shot 999 seconds long, a shot that names another scene. The director first
shows the model what was wrong (it cuts better than any rule); what is still wrong after that
is fixed here, deterministically, and every fix is recorded as a ``PlanRepair`` so the manifest
and the CLI can say what the model got wrong. A plan that placed fewer than half of its scene's
lines correctly is not the model's cutting any more: ``repair_scene`` declines it and the
director plans that scene by rule instead.

The models the LLM director asks for (``ShotDraft``, ``SceneDraft``) live here because the
repairs are defined on them.
"""

from __future__ import annotations

import difflib
import math
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Literal

from pydantic import BaseModel, Field

from dramaforge.schema import CameraMove, Framing, PlanRepair, RepairKind, Scene

NARRATOR: Literal["narrator"] = "narrator"
NARRATOR_WORDS = frozenset(
    {
        "narrator",
        "narration",
        "vo",
        "v.o.",
        "voice over",
        "voice-over",
        "voiceover",
        "旁白",
        "画外音",
    }
)
NAME_CUTOFF = 0.75  # difflib ratio: "Narator"/"narrator" is 0.93, "Mia"/"Max" is 0.33


class ShotDraft(BaseModel):
    """One shot as the model proposes it. ``lines`` are 1-based numbers of the scene's lines.
    ``duration`` and ``scene`` are optional: a duration only matters for a shot without speech
    (speech sets the length of the others), and a shot always belongs to the scene asked for."""

    framing: Framing
    camera: CameraMove
    lines: list[int]
    action: str = ""
    visual_prompt: str = ""
    characters: list[str] = Field(default_factory=list)
    focus: str | None = None
    sfx: list[str] = Field(default_factory=list)
    duration: float | None = None
    scene: int | None = None


class SceneDraft(BaseModel):
    """The reply asked of the model for one scene."""

    shots: list[ShotDraft]


@dataclass(frozen=True)
class SceneFacts:
    """What a scene's plan is checked against: its spoken lines' speakers in order (None for
    narration), the cast, the scene's own text (extras named in it may be in frame) and the
    render's shot length limits."""

    index: int
    speakers: list[str | None]
    cast: list[str]
    text: str
    min_shot: float
    max_shot: float

    @classmethod
    def of(cls, scene: Scene, cast: Sequence[str], min_shot: float, max_shot: float) -> SceneFacts:
        spoken = [b for b in scene.beats if b.kind in ("dialogue", "narration")]
        return cls(
            index=scene.index,
            speakers=[b.speaker if b.kind == "dialogue" else None for b in spoken],
            cast=list(dict.fromkeys([*cast, *(s for s in (b.speaker for b in spoken) if s)])),
            text="\n".join([scene.heading, *(b.text for b in scene.beats)]),
            min_shot=min_shot,
            max_shot=max_shot,
        )


@dataclass
class Repaired:
    """``draft`` is the repaired plan, or None when the scene is beyond repair (``reason``)."""

    draft: SceneDraft | None
    repairs: list[PlanRepair] = field(default_factory=list)
    reason: str = ""


@dataclass
class _Note:
    """A repair before the final shot ids exist: ``shot`` is the draft it landed on."""

    kind: RepairKind
    shot: ShotDraft
    detail: str
    earlier: ShotDraft | None = None  # for a repeated line: the shot that keeps it


def repair_scene(draft: SceneDraft, facts: SceneFacts) -> Repaired:
    """The draft with every line once and in order, known names, sane durations and the right
    scene; or no draft, with the reason, when too little of it was usable to call it repaired."""
    if not draft.shots:
        return Repaired(None, reason="the model gave no shots")
    shots = [s.model_copy(deep=True) for s in draft.shots]
    notes: list[_Note] = []
    late = _clean_lines(shots, len(facts.speakers), notes)
    count, kept = len(facts.speakers), sum(len(s.lines) for s in shots)
    if count and kept * 2 < count:
        return Repaired(
            None, reason=f"the model placed only {kept} of the scene's {count} lines correctly"
        )
    _add_missing(shots, facts, late, notes)
    for shot in shots:
        _fix_scene(shot, facts, notes)
        _fix_names(shot, facts, notes)
        _fix_duration(shot, facts, notes)
    position = {id(s): n for n, s in enumerate(shots, 1)}
    ids = {key: f"s{facts.index:02d}-{n:02d}" for key, n in position.items()}
    repairs = [
        PlanRepair(
            scene=facts.index,
            kind=note.kind,
            shot=ids[id(note.shot)],
            detail=note.detail.format(earlier=ids[id(note.earlier)] if note.earlier else ""),
        )
        for note in sorted(notes, key=lambda note: position[id(note.shot)])
    ]
    return Repaired(SceneDraft(shots=shots), repairs)


# -- lines -------------------------------------------------------------------------------------


def _clean_lines(shots: list[ShotDraft], count: int, notes: list[_Note]) -> dict[int, int]:
    """Keep each line's first placement that keeps script order; drop the rest. Returns the
    lines dropped for order, each with the line it came after; ``_add_missing`` puts them
    back. How many lines were kept is the number of lines left on the shots."""
    holder: dict[int, ShotDraft] = {}
    late: dict[int, int] = {}
    last = 0
    for shot in shots:
        kept: list[int] = []
        for n in shot.lines:
            if not 1 <= n <= count:
                detail = f"line {n} does not exist (the scene has {count}); dropped"
                notes.append(_Note("unknown_line", shot, detail))
            elif n in holder:
                detail = f"line {n} was also in {{earlier}}; kept only there"
                notes.append(_Note("repeated_line", shot, detail, holder[n]))
            elif n < last:
                late.setdefault(n, last)
            else:
                kept.append(n)
                holder[n] = shot
                last = n
        shot.lines = kept
    return late


def _add_missing(
    shots: list[ShotDraft], facts: SceneFacts, late: dict[int, int], notes: list[_Note]
) -> None:
    """Each line no shot carries gets a shot of its own, before the first shot with a later
    line: a close-up on its speaker, or a wide shot under narration."""
    placed = {n for s in shots for n in s.lines}
    for n in range(1, len(facts.speakers) + 1):
        if n in placed:
            continue
        speaker = facts.speakers[n - 1]
        shot = ShotDraft(
            framing="close_up" if speaker else "wide",
            camera="static",
            lines=[n],
            characters=[speaker] if speaker else [],
            focus=speaker,
        )
        at = next((i for i, s in enumerate(shots) if s.lines and min(s.lines) > n), len(shots))
        shots.insert(at, shot)
        placed.add(n)
        if n in late:
            detail = f"line {n} came after line {late[n]}; given this shot, in script order"
            notes.append(_Note("line_order", shot, detail))
        else:
            notes.append(_Note("missing_line", shot, f"line {n} was in no shot; given this shot"))


# -- names, durations, scene -------------------------------------------------------------------


def resolve_name(name: str, cast: Sequence[str]) -> str | None:
    """A name the model wrote, as the script spells it: a cast name, ``NARRATOR``, or None
    when it is nobody in the cast. Close spellings and part-names ("小雨" for "林小雨") count."""
    key = name.strip().casefold()
    if not key:
        return None
    folded = {c.casefold(): c for c in cast}
    if key in folded:
        return folded[key]
    if key in NARRATOR_WORDS or _ratio(key, NARRATOR) >= NAME_CUTOFF:
        return NARRATOR
    if len(key) >= 2:
        parts = [c for f, c in folded.items() if key in f or (len(f) >= 2 and f in key)]
        if parts:
            return max(parts, key=lambda c: _ratio(key, c.casefold()))
    close = difflib.get_close_matches(key, list(folded), n=1, cutoff=NAME_CUTOFF)
    return folded[close[0]] if close else None


def _ratio(a: str, b: str) -> float:
    return difflib.SequenceMatcher(None, a, b).ratio()


def _fix_names(shot: ShotDraft, facts: SceneFacts, notes: list[_Note]) -> None:
    """Names in frame and the focus become cast names; the narrator is never in frame; a
    name nobody in the script has is left out unless the scene's text names that person."""
    seen: dict[str, str | None] = {}

    def fix(name: str) -> str | None:
        clean = name.strip()
        if clean in facts.cast or not clean:
            return clean or None
        if clean in seen:
            return seen[clean]
        found = resolve_name(clean, facts.cast)
        if found == NARRATOR:
            seen[clean] = None
            notes.append(_Note("speaker", shot, f"{clean!r} is the narrator: not in frame"))
        elif found is not None:
            seen[clean] = found
            notes.append(_Note("speaker", shot, f"{clean!r} is {found!r}"))
        elif clean.casefold() in facts.text.casefold():
            seen[clean] = clean  # an extra the scene names: may be in frame
        else:
            seen[clean] = None
            notes.append(_Note("speaker", shot, f"{clean!r} is not in the script: left out"))
        return seen[clean]

    names = [fix(c) for c in shot.characters]
    shot.characters = list(dict.fromkeys(n for n in names if n))
    if shot.focus is not None:
        shot.focus = fix(shot.focus)


def _fix_duration(shot: ShotDraft, facts: SceneFacts, notes: list[_Note]) -> None:
    d = shot.duration
    if d is None or facts.min_shot <= d <= facts.max_shot:
        return
    fixed = facts.min_shot if not math.isfinite(d) or d < facts.min_shot else facts.max_shot
    notes.append(
        _Note(
            "duration",
            shot,
            f"duration {d:g}s is outside {facts.min_shot:g}-{facts.max_shot:g}s; set to {fixed:g}s",
        )
    )
    shot.duration = fixed


def _fix_scene(shot: ShotDraft, facts: SceneFacts, notes: list[_Note]) -> None:
    if shot.scene is not None and shot.scene != facts.index:
        notes.append(
            _Note("scene", shot, f"named scene {shot.scene}; it belongs to scene {facts.index}")
        )
    shot.scene = facts.index
