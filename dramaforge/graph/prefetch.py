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
from typing import TYPE_CHECKING

from dramaforge.schema import ShotPlan, ShotResult

if TYPE_CHECKING:  # the context holds a Voiced
    from dramaforge.graph.context import RenderContext

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


def score_ahead(
    ctx: RenderContext,
    episode: str,
    plan: ShotPlan,
    title: str,
    done: dict[str, ShotResult],
    pending: dict[str, str],
) -> None:
    """Start making the score once the ``pending`` shots' voices are in (id -> fingerprint);
    ``done`` holds the shots that are not rendered again, with their lengths."""
    backends = (ctx.settings.backends.image, ctx.settings.backends.video)
    paid = any(b.startswith("dashscope:") for b in backends)
    if not pending or not paid or not ctx.sound.name.startswith("local:"):
        return  # nothing to overlap, or nothing gained, or something paid ahead of need

    def run() -> None:
        lengths = ctx.voiced.wait(episode, pending, WAIT)
        if lengths is None:
            return
        known = {sid: r.duration for sid, r in done.items() if sid not in pending}
        from dramaforge.graph.nodes.score import make_score  # imports the context: not at the top

        try:
            make_score(ctx, plan.shots, {**known, **lengths}, title)
        except Exception as err:  # the score node makes it again and reports what fails
            log.debug("score made ahead failed: %s", err)

    threading.Thread(target=run, name="score-ahead", daemon=True).start()
