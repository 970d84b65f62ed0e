"""The score made while the shots are still with the provider.

The score needs only each shot's length, which its voice decides in the first seconds of the
shot; paid keyframes and clips take minutes. So once every shot's voice is in, a background
thread makes the score's layers and bed through the asset store, and the score node, after
the last clip, finds them there instead of spending the episode's tail on them. It is only a
head start: the store's per-asset lock makes whichever comes second wait and reuse; lengths
changed by a voice retry simply key other assets, which the score node makes; a failure here
is left for the score node to meet and report. Only with paid image or video models (offline,
the shots already keep the CPU busy) and a local sound backend (nothing paid ahead of need).
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable

from dramaforge.schema import ShotResult

log = logging.getLogger(__name__)

WAIT = 900.0
"""Seconds to wait for the last voice; a shot that fails never sends one."""


class Voiced:
    """Shot lengths as voices finish, per episode folder, for the score made ahead."""

    def __init__(self) -> None:
        self._cond = threading.Condition()
        self._seen: dict[tuple[str, str], tuple[str, float]] = {}

    def add(self, episode: str, shot: str, fingerprint: str, duration: float) -> None:
        with self._cond:
            self._seen[(episode, shot)] = (fingerprint, duration)
            self._cond.notify_all()

    def wait(self, episode: str, wanted: dict[str, str], timeout: float) -> dict[str, float] | None:
        """Lengths of the ``wanted`` shots (id -> fingerprint), once all are in; None: timed out."""

        def ready() -> dict[str, float] | None:
            got = {s: self._seen.get((episode, s)) for s in wanted}
            if any(v is None or v[0] != wanted[s] for s, v in got.items()):
                return None
            return {s: v[1] for s, v in got.items() if v is not None}

        with self._cond:
            return self._cond.wait_for(ready, timeout)


def pays_off(image: str, video: str, sound: str) -> bool:
    """Whether making the score ahead gains anything: paid image or video models keep the
    shots waiting on a provider (offline, the shots already keep the CPU busy), and a local
    sound backend pays nothing ahead of need."""
    return any(b.startswith("dashscope:") for b in (image, video)) and sound.startswith("local:")


def score_ahead(
    voiced: Voiced,
    episode: str,
    pending: dict[str, str],
    done: dict[str, ShotResult],
    make: Callable[[dict[str, float]], object],
) -> None:
    """Call ``make(lengths)`` in the background once the ``pending`` shots' voices are in
    (id -> fingerprint); ``done`` holds the shots that are not rendered again, with theirs."""
    if not pending:
        return

    def run() -> None:
        lengths = voiced.wait(episode, pending, WAIT)
        if lengths is None:
            return
        known = {sid: r.duration for sid, r in done.items() if sid not in pending}
        try:
            make({**known, **lengths})
        except Exception as err:  # the score node makes it again and reports what fails
            log.debug("score made ahead failed: %s", err)

    threading.Thread(target=run, name="score-ahead", daemon=True).start()
