"""Short-drama rhythm: a hook in the first three seconds, a cliffhanger beat at the end.

Short-drama platforms lose a viewer in the first seconds and keep them with the last ones.
``render SCRIPT --short-drama`` plans the script as usual, then (a) opens cold on its most
charged short line (a question or an exclamation, spoken in under three seconds), replayed
from later in the episode as a close-up, and (b) ends on a held, silent close-up of the
other person in the last exchange, pushing in, with a heartbeat. A hook that is a whole line
is the same speech request as where it comes back, so its voice is made once; a long line
lends its sharpest sentence instead.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass, replace
from pathlib import Path

from dramaforge.config import Settings
from dramaforge.graph.context import RenderContext
from dramaforge.modes.fit import voiced_frames
from dramaforge.modes.runner import PLAIN, RunArgs
from dramaforge.modes.shared import Delegating, line_seconds
from dramaforge.schema import Line, Manifest, Script, Shot, ShotPlan
from dramaforge.script.prose import split_sentences

HOOK_SECONDS = 3.0
HOLD_SECONDS = 2.0


def charge(line: Line) -> tuple[int, int]:
    """How charged a line reads: questions and exclamations above trailing-off, dialogue
    above narration; then the longer (a fuller hook) of equals."""
    asks = len(re.findall(r"[!?！？]+", line.text))
    trails = 1 if "…" in line.text or "..." in line.text else 0
    return 2 * asks + trails + (0 if line.narration else 1), len(line.text)


def hook_shot(shots: list[Shot], seconds: Callable[[Line], float], fps: int) -> Shot | None:
    """The cold open: the most charged line that fits in HOOK_SECONDS, as a close-up."""
    best: tuple[tuple[int, int], Shot, Line] | None = None
    for shot in shots[1:]:
        for line in (part for whole in shot.lines for part in _parts(whole)):
            single = shot.model_copy(update={"lines": [line]})
            frames = voiced_frames(single, seconds, 0.0, fps) or 0
            if frames / fps <= HOOK_SECONDS and (best is None or charge(line) > best[0]):
                best = (charge(line), shot, line)
    if best is None:
        return None
    _, shot, line = best
    return shot.model_copy(
        update={
            "id": "hook",
            "index": 0,
            "framing": "close_up",
            "camera": "zoom_in",
            "scene_index": shots[0].scene_index,  # a scene's shots stay one stretch of score
            "lines": [line],
            "sfx": [],
            "focus": line.speaker or shot.focus,
            "characters": [line.speaker] if line.speaker else shot.characters,
        }
    )


def _parts(line: Line) -> list[Line]:
    """The line, then each of its sentences alone (a long line's sharpest sentence can still
    open the episode)."""
    sentences = [t.strip() for _, t in split_sentences(line.text) if t.strip()]
    parts = (
        [line]
        if len(sentences) <= 1
        else [line, *[line.model_copy(update={"text": t}) for t in sentences]]
    )
    return parts


def cliffhanger_shot(shots: list[Shot], fps: int) -> Shot:
    """A held close-up of whoever listens to the last line (the speaker if alone)."""
    last = shots[-1]
    speaker = next((ln.speaker for ln in reversed(last.lines) if ln.speaker), None)
    cast = [c for s in shots if s.scene_index == last.scene_index for c in s.characters]
    others = [c for c in dict.fromkeys(cast) if c != speaker]
    face = others[0] if others else speaker
    return last.model_copy(
        update={
            "id": "cliff",
            "index": last.index + 1,
            "framing": "close_up",
            "camera": "zoom_in",
            "lines": [],
            "sfx": ["heartbeat"],
            "focus": face,
            "characters": [face] if face else [],
            "duration": round(HOLD_SECONDS * fps) / fps,
            "mood": "tense",
        }
    )


@dataclass
class RhythmDirector(Delegating):
    """Wraps a director: its plan with a cold-open hook and a cliffhanger hold."""

    fps: int
    ctx: RenderContext | None = None

    def direct(self, script: Script) -> ShotPlan:
        plan = self.inner.direct(script)
        if not plan.shots:
            return plan
        hook = hook_shot(plan.shots, line_seconds(self.ctx, script, plan), self.fps)
        shots = [*([hook] if hook else []), *plan.shots, cliffhanger_shot(plan.shots, self.fps)]
        return plan.model_copy(update={"shots": shots})


def render_short_drama(
    script_path: Path,
    out: Path,
    settings: Settings,
    *,
    run: RunArgs = PLAIN,
) -> Manifest:
    """Render ``script_path`` with the short-drama rhythm into ``OUT/<name>/``."""
    base = run.base(settings, out)
    director = RhythmDirector(base.director, settings.render.fps, base)
    return run.render(script_path, out, settings, context=replace(base, director=director))
