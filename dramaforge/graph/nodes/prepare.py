"""ingest -> direct -> bible -> approve, and the fan-out of one shot subgraph per shot."""

from __future__ import annotations

import hashlib
from pathlib import Path
from typing import Any

from langgraph.runtime import Runtime
from langgraph.types import Send, interrupt

from dramaforge.agents.bible import build_bible
from dramaforge.graph import prefetch
from dramaforge.graph.context import RenderContext, confined, context_of, served_root
from dramaforge.graph.cost import estimate
from dramaforge.graph.nodes.assemble import cut_ahead, sound_ahead
from dramaforge.graph.nodes.score import make_score
from dramaforge.graph.progress import stage_event
from dramaforge.graph.state import EpisodeState, RenderOptions
from dramaforge.schema import Shot, ShotPlan, StyleBible, Take
from dramaforge.script import load_script


def ingest(state: EpisodeState, runtime: Runtime[RenderContext]) -> dict[str, object]:
    """Read and parse the script; a bad file stops here with a ScriptError naming the line.
    A run confined to a workspace (a served graph) refuses a script or output outside it."""
    opts = RenderOptions.model_validate(state["options"])  # JSON when a server passes it
    script_path = Path(state["script_path"])
    root = served_root(runtime)
    if root is not None:
        script_path = confined(root, script_path, "script")
        confined(root, Path(opts.out_dir), "output folder")
    script = load_script(script_path, format=opts.format, language=opts.language)
    if opts.subtitles is not None:  # the translator (and the OpenAI client) only when asked
        from dramaforge.agents import translate

        translate.check(script, opts.subtitles, context_of(runtime, opts.out_dir).settings)
    stage_event("ingest", "done", scenes=len(script.scenes))
    return {"script": script, "options": opts}


def direct(state: EpisodeState, runtime: Runtime[RenderContext]) -> dict[str, object]:
    plan = context_of(runtime, state["options"].out_dir).director.direct(state["script"])
    stage_event("direct", "done", shots=len(plan.shots))
    return {"plan": plan}


def bible(state: EpisodeState, runtime: Runtime[RenderContext]) -> dict[str, object]:
    """Fix each character's look, seed and voice; fail early if the language cannot be spoken."""
    opts = state["options"]
    ctx = context_of(runtime, opts.out_dir)
    speech, book = ctx.speech, ctx.series_book
    language = state["script"].language
    speech.check(language)
    voices = speech.voices(language)
    if opts.series_file is None:
        return {"bible": build_bible(state["script"], state["plan"], voices)}
    path = Path(opts.series_file)
    with book.locked(path):
        known = book.load(path)
        made = build_bible(state["script"], state["plan"], voices, series=opts.series, known=known)
        book.save(path, {**known, **made.characters})
    return {"bible": made}


def shot_fingerprint(shot: Shot, bible: StyleBible) -> str:
    """Fingerprint of everything a shot's render depends on: the shot and its people's looks
    and voices (plus the narrator's). Equal fingerprints mean the result can be reused."""
    people = [bible.characters[n] for n in sorted(shot.characters) if n in bible.characters]
    speakers = {ln.speaker for ln in shot.lines if ln.speaker in bible.characters}
    h = hashlib.sha256(shot.model_dump_json().encode())
    for look in people + [bible.characters[n] for n in sorted(s for s in speakers if s)]:
        h.update(look.model_dump_json().encode())
    h.update(bible.narrator.model_dump_json().encode())
    h.update(f"{bible.look}|{bible.palette}|{bible.era}|{bible.seed}".encode())
    return h.hexdigest()[:16]


def pending(state: EpisodeState) -> list[Shot]:
    """Shots with no result yet, or whose result was made for a different version of them."""
    done, bible = state.get("results", {}), state["bible"]
    return [
        s
        for s in state["plan"].shots
        if s.id not in done or done[s.id].fingerprint != shot_fingerprint(s, bible)
    ]


def approve(state: EpisodeState, runtime: Runtime[RenderContext]) -> dict[str, object]:
    """Interactive runs stop here with the plan and its cost until a person approves.

    The resume value is ``"approve"`` or a dict with an edited ``plan`` and/or ``bible``;
    the plan shown is whatever the state holds, so edits made with ``update_state`` before
    approving are what gets rendered. Nothing before ``interrupt()`` has side effects.
    """
    if not state["options"].approve:
        _work_ahead(state, runtime, state["plan"], state["bible"])
        return {}
    todo = pending(state)
    cost = estimate(
        ShotPlan(title="", language="zh", shots=todo),
        context_of(runtime, state["options"].out_dir).settings,
    )
    answer: Any = interrupt(
        {
            "episode": state["options"].episode,
            "shots": len(state["plan"].shots),
            "to_render": [s.id for s in todo],
            "estimate": cost.model_dump(),
            "plan": state["plan"].model_dump(mode="json"),
        }
    )
    update: dict[str, object] = {}
    if isinstance(answer, dict):
        if answer.get("plan") is not None:
            update["plan"] = ShotPlan.model_validate(answer["plan"])
        if answer.get("bible") is not None:
            update["bible"] = StyleBible.model_validate(answer["bible"])
    plan, look = update.get("plan", state["plan"]), update.get("bible", state["bible"])
    _work_ahead(state, runtime, plan, look)  # type: ignore[arg-type]
    stage_event("approve", "done", to_render=len(todo))
    return update


def _work_ahead(
    state: EpisodeState, runtime: Runtime[RenderContext], plan: ShotPlan, look: StyleBible
) -> None:
    """While the shots are with a provider: the score and the finished sound, once the voices
    of the shots about to render are in, and each kept shot's segment of the cut
    (``prefetch``)."""
    opts = state["options"]
    ctx = context_of(runtime, opts.out_dir)
    backends = ctx.settings.backends
    if not (
        ctx.settings.render.ahead and prefetch.waits_on_provider(backends.image, backends.video)
    ):
        return
    todo = {
        s.id: shot_fingerprint(s, look) for s in pending({**state, "plan": plan, "bible": look})
    }
    done = state.get("results", {})
    before = {sid: r for sid, r in done.items() if sid not in todo}
    ctx.voiced.open(opts.episode_dir, list(todo))
    if prefetch.pays_off(backends.image, backends.video, ctx.sound.name):
        title = state["script"].title

        def score_and_sound(lengths: dict[str, float]) -> None:
            _, bed = make_score(ctx, plan.shots, lengths, title)
            voices = {sid: (r.take.voice, r.duration) for sid, r in before.items()}
            fresh = ctx.voiced.voices(opts.episode_dir, todo)
            voices |= {sid: (voice, lengths[sid]) for sid, voice in fresh.items()}
            sound_ahead(plan.shots, voices, Path(bed.path), opts)

        prefetch.score_ahead(ctx.voiced, opts.episode_dir, todo, done, score_and_sound)
    if opts.subtitles is not None:
        return  # the bilingual lines come from the chat model at the cut, not ahead of it
    said = {sid: (r.duration, r.take.cues) for sid, r in before.items()}

    def encode(kept: dict[str, Take], new: set[str]) -> set[str]:
        spoken = said | ctx.voiced.spoken(opts.episode_dir, todo)
        return cut_ahead(plan.shots, spoken, kept, new, opts)

    prefetch.cut_ahead(ctx.voiced, opts.episode_dir, todo, encode)


def fan_out(state: EpisodeState) -> list[Send] | str:
    """One shot subgraph per shot to render; a re-rendered shot carries its earlier takes.
    With nothing to render (a restored take, a reordered plan) it goes straight to ``score``."""
    done = state.get("results", {})
    sends = [
        Send(
            "shot",
            {
                "shot": shot,
                "bible": state["bible"],
                "options": state["options"],
                "language": state["script"].language,
                "fingerprint": shot_fingerprint(shot, state["bible"]),
                "previous": done[shot.id].takes if shot.id in done else [],
            },
        )
        for shot in pending(state)
    ]
    return sends or "score"
