"""The one identity line that ``dramaforge render`` and ``dramaforge plan`` print."""

from __future__ import annotations

from dramaforge.config import Settings
from dramaforge.schema import IdentityReport, ShotPlan

_LIKENESS = {"drawn": 0.5, "real": 0.9}  # agents.identity.LIKENESS, without importing numpy


def _score(value: float | None) -> str:
    return "–" if value is None else f"{value:.2f}"


def render_line(faces: IdentityReport | None) -> str:
    """What the episode's identity measured: cross and self, mean and worst, the worst
    character, the copy guard and the count check."""
    if faces is None or faces.cross_mean is None:
        return "identity: not measured (no reference picture, or no face found in frame)"
    worst = min(
        (c for c in faces.characters if c.cross_worst is not None),
        key=lambda c: c.cross_worst or 0.0,
    )
    copies = f"copies of a reference: {', '.join(faces.copies)}" if faces.copies else "no copies"
    counted = f"; faces miscounted in {', '.join(faces.miscounted)}" if faces.miscounted else ""
    return (
        f"identity: vs reference {_score(faces.cross_mean)} mean, {_score(faces.cross_worst)} "
        f"worst ({worst.name}); across shots {_score(faces.self_mean)} mean, "
        f"{_score(faces.self_worst)} worst; {copies}{counted}"
    )


def plan_line(plan: ShotPlan, settings: Settings) -> str:
    """What will be measured: how many keyframes show people, against which references, and
    the likeness below which a keyframe is redrawn before its clip is paid for."""
    judged = sum(1 for s in plan.shots if s.visible())
    people = sorted({n for s in plan.shots for n in s.visible()})
    against = (
        "reference sheets (drawn once per series)"
        if settings.identity.reference_sheets
        else "references picked from the first episode"
    )
    return (
        f"identity: {judged} keyframes with people ({len(people)} characters) judged against "
        f"their {against}; redrawn below {_LIKENESS['drawn']:.2f} (drawn faces) / "
        f"{_LIKENESS['real']:.2f} (real faces) before the clip is paid for"
    )
