"""Edits a person (or an agent) makes to a plan and a bible: pure functions, new objects out.

Shots are named by their 1-based position in the plan ("4") or by id ("s02-01"). A shot's
``index`` is its identity (it seeds its keyframe), so moving a shot never re-renders it and
an added shot gets a fresh index. Every bad request is an ``EditError`` saying what is valid.
"""

from __future__ import annotations

import math
from typing import Any, get_args

from pydantic import ValidationError

from dramaforge.errors import EditError
from dramaforge.schema import CameraMove, Framing, Line, Shot, ShotPlan, StyleBible

EDITABLE = {
    "prompt": "visual_prompt",
    "visual_prompt": "visual_prompt",
    "action": "action",
    "framing": "framing",
    "camera": "camera",
    "mood": "mood",
    "time": "time_of_day",
    "time_of_day": "time_of_day",
    "duration": "duration",
    "music": "music",
    "sfx": "sfx",
    "focus": "focus",
    "characters": "characters",
}
"""Names a person may use -> the Shot field they change."""

DURATION = (0.5, 60.0)
"""Seconds a shot may be given by an edit: finite, long enough to read, short enough to render."""
MAX_TEXT = 2000
"""Characters in an edited prompt, action or line: longer than any provider accepts is no use."""

MAX_NAME = 100
"""Characters in a speaker's or character's name."""

FRAMINGS: tuple[str, ...] = get_args(Framing)
CAMERAS: tuple[str, ...] = get_args(CameraMove)


def find(plan: ShotPlan, ref: str | int) -> int:
    """Position in ``plan.shots`` of the shot named by number (1-based) or id."""
    text = str(ref).strip()
    if text.isdigit():
        n = int(text)
        if 1 <= n <= len(plan.shots):
            return n - 1
        raise EditError(f"there is no shot {n}: the plan has shots 1-{len(plan.shots)}")
    for i, shot in enumerate(plan.shots):
        if shot.id == text:
            return i
    raise EditError(f"no shot is called {text!r}: use a number 1-{len(plan.shots)} or a shot id")


def _replace(plan: ShotPlan, i: int, shot: Shot) -> ShotPlan:
    shots = list(plan.shots)
    shots[i] = shot
    return plan.model_copy(update={"shots": shots})


def _value(field: str, raw: Any) -> Any:
    if field == "duration":
        return _seconds(raw)
    if isinstance(raw, str):
        _text(field, raw)
    if field in ("sfx", "characters") and isinstance(raw, str):
        return [p.strip() for p in raw.replace("，", ",").split(",") if p.strip()]
    if field in ("focus", "music") and raw in ("", "none", None):
        return None
    return raw


def _text(what: str, raw: str, limit: int = MAX_TEXT) -> str:
    """Text from a person, within ``limit`` characters: the one bound every edit path shares."""
    if len(raw) > limit:
        raise EditError(f"{what} is {len(raw)} characters; at most {limit}")
    return raw


def _seconds(raw: Any) -> float:
    """A duration from a person: a finite number of seconds within ``DURATION``."""
    try:
        seconds = float(raw)
    except (TypeError, ValueError):
        raise EditError(f"duration must be a number of seconds, not {raw!r}") from None
    low, high = DURATION
    if not math.isfinite(seconds) or not low <= seconds <= high:
        raise EditError(f"duration must be between {low} and {high} seconds, not {raw!r}")
    return seconds


def edit_shot(plan: ShotPlan, ref: str | int, field: str, value: Any) -> ShotPlan:
    """Set one field of one shot (``line N`` changes the text of its Nth spoken line)."""
    i = find(plan, ref)
    shot = plan.shots[i]
    name = field.strip().lower()
    if name.startswith("line"):
        return _replace(plan, i, _edit_line(shot, name, str(value)))
    if name not in EDITABLE:
        raise EditError(f"cannot edit {field!r}; editable: {', '.join(sorted(EDITABLE))}, line N")
    target = EDITABLE[name]
    data = shot.model_dump() | {target: _value(target, value)}
    if target == "visual_prompt" and data[target] != shot.visual_prompt:
        # A new prompt is a new take: a new seed too, so even a painter that draws no words
        # of the prompt (the offline storyboard) makes a visibly different keyframe.
        data["revision"] = shot.revision + 1
    if target == "duration" and shot.hold is not None:  # a listed length: the person's now
        data["hold"] = data["duration"]
    try:
        edited = Shot.model_validate(data)
    except ValidationError as err:
        allowed = {"framing": FRAMINGS, "camera": CAMERAS}.get(target)
        hint = f" (one of: {', '.join(allowed)})" if allowed else ""
        raise EditError(f"{field} = {value!r} is not valid{hint}") from err
    return _replace(plan, i, edited)


def _edit_line(shot: Shot, name: str, text: str) -> Shot:
    digits = name.removeprefix("line").strip()
    n = int(digits) if digits.isdigit() else 1
    if not 1 <= n <= len(shot.lines):
        raise EditError(f"shot {shot.id} has {len(shot.lines)} spoken line(s); no line {n}")
    if not text.strip():
        raise EditError("a spoken line cannot be empty; remove the shot or edit another field")
    _text("a spoken line", text)
    lines = list(shot.lines)
    lines[n - 1] = lines[n - 1].model_copy(update={"text": text.strip()})
    return shot.model_copy(update={"lines": lines})


def redo(plan: ShotPlan, ref: str | int) -> ShotPlan:
    """Ask for a new keyframe and clip of an unchanged shot (earlier takes are kept)."""
    i = find(plan, ref)
    shot = plan.shots[i]
    return _replace(plan, i, shot.model_copy(update={"revision": shot.revision + 1}))


def remove_shot(plan: ShotPlan, ref: str | int) -> ShotPlan:
    if len(plan.shots) == 1:
        raise EditError("an episode needs at least one shot")
    i = find(plan, ref)
    return plan.model_copy(update={"shots": plan.shots[:i] + plan.shots[i + 1 :]})


def move_shot(plan: ShotPlan, ref: str | int, to: int) -> ShotPlan:
    """Move a shot to 1-based position ``to``; it keeps its id and index, so it is not redone."""
    i = find(plan, ref)
    if not 1 <= to <= len(plan.shots):
        raise EditError(f"position {to} is outside 1-{len(plan.shots)}")
    shots = list(plan.shots)
    shot = shots.pop(i)
    shots.insert(to - 1, shot)
    return plan.model_copy(update={"shots": shots})


def add_shot(
    plan: ShotPlan,
    after: str | int,
    prompt: str,
    *,
    line: str | None = None,
    speaker: str | None = None,
    duration: float = 3.0,
) -> ShotPlan:
    """A new shot after shot ``after`` (0 = at the start), in the same scene as its neighbour."""
    text = str(after).strip()
    at = 0 if text == "0" else find(plan, after) + 1
    if not prompt.strip():
        raise EditError("a new shot needs a visual prompt")
    _text("the prompt", prompt)
    _text("the spoken line", line or "")
    _text("the speaker", speaker or "", MAX_NAME)
    duration = _seconds(duration)
    near = plan.shots[max(at - 1, 0)]
    index = max(s.index for s in plan.shots) + 1
    lines = [Line(text=line, speaker=speaker, narration=speaker is None)] if line else []
    shot = Shot(
        id=f"s{near.scene_index:02d}-x{index:02d}",
        index=index,
        scene_index=near.scene_index,
        scene_heading=near.scene_heading,
        duration=duration,
        framing="medium",
        camera="static",
        visual_prompt=prompt.strip(),
        action=prompt.strip(),
        characters=[speaker] if speaker else [],
        focus=speaker,
        lines=lines,
        mood=near.mood,
        time_of_day=near.time_of_day,
    )
    return plan.model_copy(update={"shots": [*plan.shots[:at], shot, *plan.shots[at:]]})


def _person(bible: StyleBible, name: str) -> str:
    if name in bible.characters:
        return name
    known = ", ".join(bible.characters) or "none"
    raise EditError(f"no character called {name!r} (characters: {known}; or 'narrator')")


def set_voice(
    bible: StyleBible,
    name: str,
    *,
    voice: str | None = None,
    rate: float | None = None,
    pitch: float | None = None,
) -> StyleBible:
    """Change a character's (or the narrator's) voice id, speed or pitch."""
    if voice is not None:
        _text("a voice id", voice, MAX_NAME)
    for value, low, high, what in ((rate, 0.5, 2.0, "rate"), (pitch, 0.5, 2.0, "pitch")):
        if value is not None and not (math.isfinite(value) and low <= value <= high):
            raise EditError(f"{what} must be between {low} and {high}, not {value}")
    changes = {
        k: v for k, v in {"id": voice, "rate": rate, "pitch": pitch}.items() if v is not None
    }
    if name.lower() in ("narrator", "旁白", "vo"):
        return bible.model_copy(update={"narrator": bible.narrator.model_copy(update=changes)})
    who = _person(bible, name)
    look = bible.characters[who]
    looks = dict(bible.characters)
    looks[who] = look.model_copy(update={"voice": look.voice.model_copy(update=changes)})
    return bible.model_copy(update={"characters": looks})


def set_look(bible: StyleBible, name: str, description: str) -> StyleBible:
    """Change a character's fixed description (every shot they are in is redone)."""
    who = _person(bible, name)
    if not description.strip():
        raise EditError("a look needs a description")
    _text("a look", description)
    looks = dict(bible.characters)
    looks[who] = looks[who].model_copy(update={"description": description.strip()})
    return bible.model_copy(update={"characters": looks})
