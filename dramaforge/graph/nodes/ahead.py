"""ahead: the work made ahead of the episode's tail, while the shots are with a provider.

Between the approval and the shot fan-out. When the pictures come from outside this process
(a paid model, a GPU server), the CPU would sit idle for minutes while the shots wait; this
node starts the background work that fills it (``graph/prefetch.py``): the score and the
finished sound, once the voices of the shots about to render are in, and each kept shot's
segment of the cut, encoded as the critic keeps it. The node itself returns at once; the
score and assemble nodes later find the work in the asset store and the segment cache, or do
what is missing themselves (work ahead is a head start, never a result).
"""

from __future__ import annotations

from functools import partial
from pathlib import Path

from langgraph.runtime import Runtime

from dramaforge.graph import prefetch
from dramaforge.graph.context import RenderContext, context_of
from dramaforge.graph.nodes.assemble import cut_ahead, sound_ahead
from dramaforge.graph.nodes.prepare import pending, shot_fingerprint
from dramaforge.graph.nodes.score import make_score
from dramaforge.graph.state import EpisodeState
from dramaforge.schema import Take


def ahead(state: EpisodeState, runtime: Runtime[RenderContext]) -> dict[str, object]:
    """Start the score, the sound and the segments in the background (``render.ahead`` and a
    provider to wait on), for the plan and bible as approved; nothing in the state changes."""
    opts = state["options"]
    ctx = context_of(runtime, opts.out_dir)
    backends = ctx.settings.backends
    if not (
        ctx.settings.render.ahead and prefetch.waits_on_provider(backends.image, backends.video)
    ):
        return {}
    plan, look = state["plan"], state["bible"]
    todo = {s.id: shot_fingerprint(s, look) for s in pending(state)}
    done = state.get("results", {})
    before = {sid: r for sid, r in done.items() if sid not in todo}
    ctx.voiced.open(opts.episode_dir, list(todo))
    safe_point = partial(ctx.voiced.safe_point, opts.episode_dir)
    if prefetch.pays_off(backends.image, backends.video, ctx.sound.name):
        title = state["script"].title

        def score_and_sound(lengths: dict[str, float]) -> None:
            _, bed = make_score(ctx, plan.shots, lengths, title, safe_point)
            voices = {sid: (r.take.voice, r.duration) for sid, r in before.items()}
            fresh = ctx.voiced.voices(opts.episode_dir, todo)
            voices |= {sid: (voice, lengths[sid]) for sid, voice in fresh.items()}
            sound_ahead(plan.shots, voices, Path(bed.path), opts, safe_point)

        prefetch.score_ahead(ctx.voiced, opts.episode_dir, todo, done, score_and_sound)
    if opts.subtitles is not None:
        return {}  # the bilingual lines come from the chat model at the cut, not ahead of it
    said = {sid: (r.duration, r.take.cues) for sid, r in before.items()}

    def encode(kept: dict[str, Take], new: set[str]) -> set[str]:
        spoken = said | ctx.voiced.spoken(opts.episode_dir, todo)
        return cut_ahead(plan.shots, spoken, kept, new, opts)

    prefetch.cut_ahead(ctx.voiced, opts.episode_dir, todo, encode)
    return {}
