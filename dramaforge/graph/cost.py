"""Money: price lookups, the estimate shown before a render, and the budget guard during it.

Prices live in settings as ``provider:model -> price per unit``; the unit depends on the kind
of work: one image, one second of video, a thousand characters of speech, one voice designed
or cloned. Local backends cost nothing. The ledger is shared by all shots of a run (and all
episodes of a batch) so a budget holds across parallel work.
"""

from __future__ import annotations

import math
import threading
from dataclasses import dataclass, field

from pydantic import BaseModel, Field, computed_field

from dramaforge.config import Settings
from dramaforge.errors import BudgetExceeded
from dramaforge.schema import CastWork, ShotPlan
from dramaforge.tools.diffusers.estimate import GPU_HOUR, gpu_seconds, image_seconds


def units(kind: str, *, duration: float = 0.0, text: str = "") -> float:
    """How many priced units one request of ``kind`` is."""
    if kind == "image":
        return 1.0
    if kind == "video":
        return duration
    if kind == "speech":
        return len(text) / 1000
    if kind == "voice":  # one voice designed or cloned
        return 1.0
    return 0.0


def price(settings: Settings, spec: str) -> float:
    """Price per unit of the backend ``spec`` (0 for local or unpriced backends)."""
    if spec.startswith("local:"):
        return 0.0
    return settings.prices.get(spec, 0.0)


def attempts(kind: str, max_takes: int) -> int:
    """The most paid requests of ``kind`` one shot may make when it may have ``max_takes``
    takes. Each take has one clip and one voice; a keyframe may be redrawn before its clip
    is made (``inspect``: up to ``max_takes`` keyframes) and again for each later take the
    critic blames on it, so up to ``2 * max_takes - 1`` keyframes."""
    return 2 * max_takes - 1 if kind == "image" else max_takes


class Estimate(BaseModel):
    """What the next render may pay, in the prices' currency.

    ``lines`` and ``total`` are the most: every shot retried up to ``max_takes`` takes (a
    render's ledger may reach it, and a budget should allow for it); ``one_take`` and
    ``one_take_total`` are every shot's first take kept. Both are shown wherever a cost is.
    """

    lines: dict[str, float]
    total: float
    one_take: dict[str, float]
    one_take_total: float
    max_takes: int = Field(ge=1)
    unpriced: list[str]
    budget: float | None = None

    @computed_field  # type: ignore[prop-decorator]
    @property
    def summary(self) -> str:
        """``up to 3.50 (2 takes a shot; 1.50 for one take)``: the figure and what it means."""
        if self.max_takes == 1 or self.total == self.one_take_total:
            return f"{self.total:.2f}"
        return (
            f"up to {self.total:.2f} ({self.max_takes} takes a shot; "
            f"{self.one_take_total:.2f} for one take)"
        )

    @computed_field  # type: ignore[prop-decorator]
    @property
    def past_budget(self) -> bool:
        """Whether the most this render may pay is past the budget (the ledger then stops it
        before the paid request that would cross it)."""
        return self.budget is not None and self.total > self.budget + 1e-9


def estimate(
    plan: ShotPlan,
    settings: Settings,
    max_takes: int | None = None,
    cast: CastWork | None = None,
) -> Estimate:
    """What a render of ``plan`` may pay with up to ``max_takes`` takes a shot (default: the
    settings' ``render.max_takes``, what the render will use), beside one take's figure.

    ``cast``: what the cast stage makes first (the bible's ``to_make``): each reference sheet
    an image on the image line (once per character per series), each voice to design or
    clone one unit at its maker's price (``dashscope:qwen-voice-design``,
    ``dashscope:voice-enrollment``); made once, never retried."""
    cast = cast or CastWork()
    takes = settings.render.max_takes if max_takes is None else max_takes
    b = settings.backends
    work = {
        (b.image, "image"): units("image") * len(plan.shots),
        (b.video, "video"): sum(units("video", duration=s.duration) for s in plan.shots),
        (b.speech, "speech"): sum(
            units("speech", text=ln.text) for s in plan.shots for ln in s.lines
        ),
    }
    if b.lipsync not in (None, "", "none"):
        # A pass per on-screen speaker (a pass backend), or the shot once (speech-to-video):
        # the larger, so the estimate never falls short of the bill.
        work[(b.lipsync, "lipsync")] = sum(
            units("video", duration=s.duration)
            * len({ln.speaker for ln in s.lines if s.on_screen(ln)})
            for s in plan.shots
        )
    once: dict[str, float] = {}
    most: dict[str, float] = {}
    kinds: dict[str, str] = {}
    for (spec, kind), n in work.items():
        kinds[spec] = kind
        once[spec] = once.get(spec, 0.0) + n * price(settings, spec)
        most[spec] = most.get(spec, 0.0) + n * price(settings, spec) * attempts(kind, takes)
    # Open models on this machine's GPU: their estimated GPU-seconds at the GPU-hour price.
    gpu_hour = settings.prices.get(GPU_HOUR)
    timed = {k: v for k, v in gpu_seconds(plan, settings).items() if v is not None}
    if gpu_hour is not None:
        for spec, seconds in timed.items():
            once[spec] = seconds / 3600 * gpu_hour
            most[spec] = once[spec] * attempts(kinds.get(spec, "video"), takes)
    drawn = len(cast.sheets) * _one_image(settings, gpu_hour)
    once[b.image] += drawn
    most[b.image] += drawn
    for spec, voices in cast.voices_by().items():
        kinds[spec] = "voice"
        made = voices * units("voice") * price(settings, spec)
        once[spec] = once.get(spec, 0.0) + made
        most[spec] = most.get(spec, 0.0) + made
    priced = set(settings.prices) | (set(timed) if gpu_hour is not None else set())
    return Estimate(
        lines={spec: round(v, 4) for spec, v in most.items()},
        total=round(sum(most.values()), 4),
        one_take={spec: round(v, 4) for spec, v in once.items()},
        one_take_total=round(sum(once.values()), 4),
        max_takes=takes,
        unpriced=sorted(s for s in kinds if not s.startswith("local:") and s not in priced),
        budget=settings.budget,
    )


def _one_image(settings: Settings, gpu_hour: float | None) -> float:
    """What one image from the image backend costs: its price, or for an open model on this
    machine's GPU, its estimated time at the GPU-hour price."""
    if gpu_hour is not None and (seconds := image_seconds(settings)) is not None:
        return seconds / 3600 * gpu_hour
    return units("image") * price(settings, settings.backends.image)


@dataclass
class Ledger:
    """Spending so far against an optional budget; safe to share between threads."""

    budget: float | None = None
    spent: float = 0.0
    _lock: threading.Lock = field(default_factory=threading.Lock, repr=False)

    def reserve(self, amount: float, what: str) -> None:
        """Claim ``amount`` before submitting paid work; refuse if it would break the budget."""
        if self.budget is not None and not (math.isfinite(self.budget) and self.budget >= 0):
            raise BudgetExceeded(f"the budget {self.budget!r} is not an amount; give a number >= 0")
        if not math.isfinite(amount) or amount < 0:
            # NaN compares false with everything: it would switch the guard off for good.
            raise BudgetExceeded(
                f"{what} has no usable price ({amount!r}); check the shot's duration and the "
                "prices in settings, then run the same command again"
            )
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
        charged = actual if math.isfinite(actual) and actual >= 0 else reserved
        with self._lock:
            self.spent += charged - reserved
