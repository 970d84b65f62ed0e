"""inspect: the keyframe is judged before it is animated, because video costs the most.

A rejected keyframe goes back to the keyframe stage, with the reviewer's revised prompt, up to
``max_takes`` times; the best-scoring keyframe then moves on. Every verdict is kept, and a
paid one (a vision model's) is stored, so reviewing the same keyframe again costs nothing.
"""

from __future__ import annotations

from pathlib import Path
from typing import Literal

from langgraph.runtime import Runtime
from langgraph.types import Command

from dramaforge.graph.context import RenderContext, context_of
from dramaforge.graph.progress import for_shot, shot_event
from dramaforge.graph.state import ShotState
from dramaforge.schema import KeyframeReview

Next = Literal["keyframe", "motion"]


@for_shot
def inspect(state: ShotState, runtime: Runtime[RenderContext]) -> Command[Next]:
    ctx, shot, opts = context_of(runtime, state["options"].out_dir), state["shot"], state["options"]
    if state.get("rejected"):  # a moderation placeholder: nothing to judge
        return Command(goto="motion")
    shot_event(shot.id, "inspect")
    reviewer = ctx.critic.with_bible(state["bible"]).with_store(ctx.store)
    key = state["keyframe"]
    critique = reviewer.review_keyframe(shot, keyframe=Path(key.path), asset_key=key.key)
    reviews = [
        *state.get("reviews", []),
        KeyframeReview(keyframe=state["keyframe"], critique=critique),
    ]
    if not critique.passed and len(reviews) < opts.max_takes:
        shot_event(shot.id, "inspect", "retry", fault="keyframe", issues=critique.issues)
        tries = dict(state.get("tries", {}))
        tries["keyframe"] = tries.get("keyframe", 0) + 1
        return Command(goto="keyframe", update={"reviews": reviews, "tries": tries})
    best = max(reversed(reviews), key=lambda r: r.critique.score)
    shot_event(shot.id, "inspect", "done", passed=best.critique.passed)
    return Command(goto="motion", update={"reviews": reviews, "keyframe": best.keyframe})
