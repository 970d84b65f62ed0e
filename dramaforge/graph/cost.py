"""Money: price lookups, the estimate shown before a render, and the budget guard during it.

Prices live in settings as ``provider:model -> price per unit``; the unit depends on the kind
of work: one image, one second of video, a thousand characters of speech. Local backends cost
nothing. The ledger is shared by all shots of a run (and all episodes of a batch) so a budget
holds across parallel work.
"""

from __future__ import annotations

import threading
from dataclasses import dataclass, field

from pydantic import BaseModel

from dramaforge.config import Settings
from dramaforge.errors import BudgetExceeded
from dramaforge.schema import ShotPlan


def units(kind: str, *, duration: float = 0.0, text: str = "") -> float:
    """How many priced units one request of ``kind`` is."""
    if kind == "image":
        return 1.0
    if kind == "video":
        return duration
    if kind == "speech":
        return len(text) / 1000
    return 0.0


def price(settings: Settings, spec: str) -> float:
    """Price per unit of the backend ``spec`` (0 for local or unpriced backends)."""
    if spec.startswith("local:"):
        return 0.0
    return settings.prices.get(spec, 0.0)


class Estimate(BaseModel):
    lines: dict[str, float]
    total: float
    unpriced: list[str]


def estimate(plan: ShotPlan, settings: Settings, max_takes: int = 1) -> Estimate:
    """Expected spend for one pass over ``plan`` (``max_takes`` gives the worst case)."""
    b = settings.backends
    work = {
        b.image: units("image") * len(plan.shots),
        b.video: sum(units("video", duration=s.duration) for s in plan.shots),
        b.speech: sum(units("speech", text=ln.text) for s in plan.shots for ln in s.lines),
    }
    if b.lipsync not in (None, "", "none"):
        # A pass per on-screen speaker (a pass backend), or the shot once (speech-to-video):
        # the larger, so the estimate never falls short of the bill.
        work[b.lipsync] = sum(
            units("video", duration=s.duration)
            * len({ln.speaker for ln in s.lines if s.on_screen(ln)})
            for s in plan.shots
        )
    lines = {spec: round(n * price(settings, spec) * max_takes, 4) for spec, n in work.items()}
    unpriced = [s for s in work if not s.startswith("local:") and s not in settings.prices]
    return Estimate(lines=lines, total=round(sum(lines.values()), 4), unpriced=unpriced)


@dataclass
class Ledger:
    """Spending so far against an optional budget; safe to share between threads."""

    budget: float | None = None
    spent: float = 0.0
    _lock: threading.Lock = field(default_factory=threading.Lock, repr=False)

    def reserve(self, amount: float, what: str) -> None:
        """Claim ``amount`` before submitting paid work; refuse if it would break the budget."""
        with self._lock:
            if self.budget is not None and self.spent + amount > self.budget + 1e-9:
                raise BudgetExceeded(
                    f"{what} would cost {amount:.2f}, {self.spent:.2f} of the {self.budget:.2f} "
                    "budget is spent; nothing paid for is lost — raise --budget and run the "
                    "same command again"
                )
            self.spent += amount

    def settle(self, reserved: float, actual: float) -> None:
        """Replace a reservation with what the provider actually charged."""
        with self._lock:
            self.spent += actual - reserved
