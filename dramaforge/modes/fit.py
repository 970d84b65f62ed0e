"""Fitting one plan to a channel's duration: fewer shots for a short cut, more for a long one.

A 15 s moments cut and a 180 s product-page cut come from the same plan. Shots with spoken
lines last exactly as long as their speech (the voice stage measures it), so they are kept or
dropped whole, never slowed down; silent shots (b-roll, product close-ups, the closing pack
shot) take up the rest, to the frame. Condensing keeps the hook (the first shot) and the
pay-off (the last spoken shot) longest; expanding adds narrated points from the brief, b-roll
of each scene and product close-ups. Kept shots keep their ids and indexes, so a shot that is
in two versions of the same aspect has the same keyframe key and is drawn once.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field

from dramaforge import prompts
from dramaforge.agents.director import FRAMING_WORDS
from dramaforge.errors import DramaforgeError
from dramaforge.graph.nodes.shot import GAP, LEAD_IN, TAIL
from dramaforge.schema import CameraMove, Framing, Language, Line, Shot, ShotPlan

MIN_SILENT = 1.0  # a silent shot shorter than this reads as a flash frame
MAX_SILENT = 5.0  # b-roll held longer than this looks like a stall
PACK_MIN = 1.5  # the closing product shot
BROLL_INDEX = 1000  # b-roll indexes (keyframe seeds) start here, apart from directed shots
PACK_INDEX = 999
BROLL_MOVES: tuple[CameraMove, ...] = ("zoom_in", "pan_right", "zoom_out", "pan_left")

LineSeconds = Callable[[Line], float]


@dataclass
class Extras:
    """What a brief offers beyond its scenes: the product and points a longer cut can use."""

    product: str = ""
    points: list[str] = field(default_factory=list)


def voiced_frames(shot: Shot, seconds: LineSeconds, min_shot: float, fps: int) -> int | None:
    """Frames the voice stage will give ``shot`` (same layout as ``graph/nodes/shot.voice``);
    None for a silent shot, whose length is its own ``duration``."""
    if not shot.lines:
        return None
    t = LEAD_IN + sum(seconds(line) + GAP for line in shot.lines) - GAP + TAIL
    return round(max(min_shot, t) * fps)


@dataclass
class Fit:
    """One version's length and what fitting a plan to it may use: ``fps`` (lengths are whole
    frames), the shortest shot, the brief's ``extras``, and ``as_written``, which keeps every
    directed shot and line (a version with its own script): only silent shots are added or
    resized."""

    target: float
    fps: int
    min_shot: float
    extras: Extras = field(default_factory=Extras)
    as_written: bool = False

    def plan(self, base: ShotPlan, seconds: LineSeconds) -> ShotPlan:
        """``base`` cut or extended to last ``target`` seconds (to the frame, once voiced).

        Raises DramaforgeError when even the shortest cut (the pay-off line alone) is longer
        than ``target``.
        """
        return _fit(self, base, seconds)


def _fit(fit: Fit, base: ShotPlan, seconds: LineSeconds) -> ShotPlan:
    target, fps, min_shot, extras = fit.target, fit.fps, fit.min_shot, fit.extras
    total = round(target * fps)
    frames = {s.id: voiced_frames(s, seconds, min_shot, fps) for s in base.shots}
    shots = list(base.shots)

    def need(plan: list[Shot]) -> int:
        spoken = sum(frames[s.id] or 0 for s in plan)
        silent = sum(round(MIN_SILENT * fps) for s in plan if frames[s.id] is None)
        return spoken + silent + round(PACK_MIN * fps)

    if not fit.as_written:
        while need(shots) > total:
            drop = _least_needed(shots, frames)
            if drop is None:
                break
            shots.remove(drop)
        if need(shots) > total:
            shortest = need(shots) / fps
            raise DramaforgeError(
                f"a {target:g}s version cannot hold even the closing line ({shortest:.1f}s); "
                "ask for a longer duration or give that version its own shorter script"
            )
        shots = _add_points(shots, frames, base, extras, seconds, total, need, fps, min_shot)
    shots.append(_pack_shot(shots, base.language, extras))
    frames[shots[-1].id] = None
    slack = total - sum(frames[s.id] or 0 for s in shots)
    shots = _add_broll(shots, frames, base.language, extras, slack, fps)
    return base.model_copy(update={"shots": _spread(shots, frames, slack, fps)})


def _least_needed(shots: list[Shot], frames: dict[str, int | None]) -> Shot | None:
    """The next shot a shorter cut loses: silent shots first, then spoken shots from the
    middle, latest first; the hook (first) and the pay-off (last spoken) go last."""
    spoken = [s for s in shots if frames[s.id] is not None]
    silent = [s for s in shots if frames[s.id] is None and s is not shots[0]]
    if silent:
        return silent[-1]
    middle = spoken[1:-1]
    if middle:
        return middle[-1]
    if len(spoken) == 2:
        return spoken[0]
    if spoken and shots[0] is not spoken[-1]:
        return shots[0]
    return None


def _add_points(
    shots: list[Shot],
    frames: dict[str, int | None],
    base: ShotPlan,
    extras: Extras,
    seconds: LineSeconds,
    total: int,
    need: Callable[[list[Shot]], int],
    fps: int,
    min_shot: float,
) -> list[Shot]:
    """A longer cut gets a longer voice-over: the brief's points not yet spoken, narrated over
    product close-ups, placed before the pay-off, while they fit with room for b-roll."""
    said = {ln.text.strip() for s in shots for ln in s.lines}
    anchor = shots[-1] if shots else base.shots[-1]
    added: list[Shot] = []
    for k, point in enumerate(p for p in extras.points if p.strip() and p.strip() not in said):
        shot = _silent_shot(
            f"vo{k + 1:02d}",
            PACK_INDEX - 1 - k,
            anchor,
            "medium",
            "static",
            base.language,
            f"{extras.product}: {point}" if extras.product else point,
        ).model_copy(update={"lines": [Line(text=point.strip(), narration=True)]})
        frames[shot.id] = voiced_frames(shot, seconds, min_shot, fps)
        trial = [*shots[:-1], *added, shot, shots[-1]] if shots else [shot]
        # Only while speech leaves at least two fifths of the cut for pictures alone.
        if need(trial) > total * 0.6:
            break
        added.append(shot)
    return [*shots[:-1], *added, shots[-1]] if added and shots else shots + added


def _silent_shot(
    sid: str,
    index: int,
    near: Shot,
    framing: Framing,
    camera: CameraMove,
    language: Language,
    action: str,
) -> Shot:
    sep = "，" if language == "zh" else ", "
    setting = sep.join(p for p in (near.scene_heading, near.time_of_day) if p)
    if action and language != "zh" and not action.endswith("."):
        action += "."
    prompt = prompts.render(
        "shot",
        language,
        framing=FRAMING_WORDS[language][framing],
        setting=setting,
        cast="",
        action=action,
    )
    return Shot(
        id=sid,
        index=index,
        scene_index=near.scene_index,
        scene_heading=near.scene_heading,
        duration=MIN_SILENT,
        framing=framing,
        camera=camera,
        visual_prompt=prompt,
        action=action,
        music=near.music,
        mood=near.mood,
        time_of_day=near.time_of_day,
    )


ANGLES: dict[Language, tuple[str, ...]] = {
    "en": (
        "close-up, detail, soft light",
        "held in a hand, shallow focus",
        "logo in sharp focus",
        "three-quarter view on a table",
        "top view, clean background",
        "side profile against a window",
    ),
    "zh": (
        "特写，细节，柔光",
        "手持，浅景深",
        "标志清晰特写",
        "桌上四分之三侧视",
        "俯视，干净背景",
        "窗前侧面",
    ),
}


def _product(extras: Extras, language: Language, title: str, k: int = 0) -> str:
    """A product close-up, from a different angle each time it is asked for."""
    angles = ANGLES[language]
    sep = "，" if language == "zh" else ", "
    return f"{extras.product or title}{sep}{angles[k % len(angles)]}"


def _pack_shot(shots: list[Shot], language: Language, extras: Extras) -> Shot:
    last = shots[-1]
    return _silent_shot(
        "pack", PACK_INDEX, last, "insert", "zoom_in", language, _product(extras, language, "")
    )


def _add_broll(
    shots: list[Shot],
    frames: dict[str, int | None],
    language: Language,
    extras: Extras,
    slack: int,
    fps: int,
) -> list[Shot]:
    """Enough b-roll that no silent shot is held past MAX_SILENT: per scene in turn, a detail
    of the scene's action and a product close-up, each inserted at the end of its scene (so
    a scene's music and ambience stay one stretch)."""
    scenes = list(dict.fromkeys(s.scene_index for s in shots))
    out = list(shots)
    k = 0
    while slack > sum(1 for s in out if frames[s.id] is None) * round(MAX_SILENT * fps):
        scene = scenes[k % len(scenes)]
        in_scene = [s for s in out if s.scene_index == scene and s.id != "pack"]
        near = in_scene[-1] if in_scene else out[-1]
        actions = [s.action for s in in_scene if s.action]
        framing: Framing = "insert" if k % 2 and (extras.product or not actions) else "wide"
        if framing == "insert":
            action = _product(extras, language, near.scene_heading, k // 2 + 1)
        else:
            action = actions[(k // 2) % len(actions)] if actions else ""
        shot = _silent_shot(
            f"b{k + 1:02d}", BROLL_INDEX + k, near, framing, BROLL_MOVES[k % 4], language, action
        )
        if framing == "wide":  # the scene's people stay in its wide b-roll
            cast = list(dict.fromkeys(c for s in in_scene for c in s.characters))
            shot = shot.model_copy(update={"characters": cast})
        frames[shot.id] = None
        out.insert(out.index(near) + 1, shot)
        k += 1
    return out


def _spread(shots: list[Shot], frames: dict[str, int | None], slack: int, fps: int) -> list[Shot]:
    """Share ``slack`` frames among the silent shots, evenly, to the frame."""
    silent = [s for s in shots if frames[s.id] is None]
    if not silent:
        return shots
    each, extra = divmod(max(slack, 0), len(silent))
    length = {s.id: each + (1 if i < extra else 0) for i, s in enumerate(silent)}
    shortest = round(MIN_SILENT * fps)  # only a script kept as written can be this tight
    return [
        s.model_copy(
            update={"duration": max(length[s.id], shortest) / fps}
            if s.id in length
            else {"duration": (frames[s.id] or 0) / fps}  # what the voice stage will measure
        )
        for s in shots
    ]
