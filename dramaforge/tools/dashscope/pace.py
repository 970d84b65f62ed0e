"""When to poll a running task: sparsely while it surely runs, often once it may be done.

A task is seen done only at the first poll after it ends; every second between its end and
that poll is a paid slot left empty (and, for a keyframe, its clip not yet submitted). Polling
at the base interval throughout costs requests; backing off (x1.5 up to 8x the base) alone
leaves a slot idle for up to 8 intervals a task. A model's run time is steady enough to learn:
how long its last few tasks were at least running (the last poll that still found them
running; the poll that found them done may have come late) says when the next may end. Until
then the poll backs off, never sleeping past that moment; after it, it polls from half the
base interval (a task ends within a poll or two of that moment, and each poll's sleep is
what its end may wait), backing off anew for a task that runs long.
"""

from __future__ import annotations

import threading
from collections import deque

KEEP = 8
"""Run times remembered per model: enough to ride out one odd task, few enough to follow a
provider whose pace changes."""

_SEEN: dict[tuple[str, str], deque[float]] = {}
_LOCK = threading.Lock()


def observe(root: str, model: str, seconds: float) -> None:
    """A task of ``model`` ran at least ``seconds`` after its submit was answered."""
    with _LOCK:
        _SEEN.setdefault((root, model), deque(maxlen=KEEP)).append(seconds)


def expected(root: str, model: str) -> float | None:
    """The soonest a new task of ``model`` may end, in seconds from its submit; None: unknown."""
    with _LOCK:
        seen = _SEEN.get((root, model))
        return min(seen) if seen else None


class Pacer:
    """The sleeps between one task's polls."""

    def __init__(self, base: float, due: float | None) -> None:
        self.base, self.due = base, due
        self.early = base  # backoff before the task may be done
        self.late = base / 2  # backoff after

    def next(self, elapsed: float) -> float:
        """Seconds to sleep before the next poll, ``elapsed`` seconds after the submit."""
        cap = self.base * 8
        if self.due is None or elapsed < self.due:
            wait = self.early if self.due is None else min(self.early, self.due - elapsed)
            self.early = min(self.early * 1.5, cap)
            return max(wait, self.base / 4)
        wait, self.late = self.late, min(self.late * 1.5, cap)
        return wait
