"""ingest -> direct -> bible -> approve, and the fan-out of one shot subgraph per shot
(after ``cast`` and ``ahead``, ``nodes/cast.py`` and ``nodes/ahead.py``)."""

from __future__ import annotations

import hashlib
from pathlib import Path
from typing import Any

from langgraph.runtime import Runtime
from langgraph.types import Send, interrupt

from dramaforge.config import OutputSettings
from dramaforge.errors import WorkspaceError
from dramaforge.graph.casting import plan_bible
from dramaforge.graph.context import RenderContext, confined, context_of, served_root
from dramaforge.graph.cost import estimate
from dramaforge.graph.progress import stage_event
from dramaforge.graph.state import EpisodeState, RenderOptions
from dramaforge.graph.threads import episode_name
from dramaforge.schema import Shot, ShotPlan, StyleBible
from dramaforge.script import load_script


def ingest(state: EpisodeState, runtime: Runtime[RenderContext]) -> dict[str, object]:
    """Read and parse the script; a bad file stops here with a ScriptError naming the line.
    A run confined to a workspace (a served graph) refuses a script or output outside it.

    Options a server passes as JSON may be partial: what they leave out is the serving
    process's own settings (its ``dramaforge.toml`` and environment), and the episode is
    named after the script."""
    given: Any = state["options"]
    opts = RenderOptions.model_validate(given)
    script_path = Path(state["script_path"])
    root = served_root(runtime)
    if root is not None:
        try:
            script_path = confined(root, script_path, "script")
            confined(root, Path(opts.out_dir), "output folder")
        except WorkspaceError as err:
            if isinstance(runtime.context, RenderContext):
                raise
            raise WorkspaceError(
                f"{err}: a LangGraph server renders only scripts and output folders inside "
                "the folder it serves (its working folder, or DRAMAFORGE_WORKSPACE); copy the "
                "script there and give its path relative to it"
            ) from None
    if isinstance(given, dict):
        render = context_of(runtime, opts.out_dir).settings.render
        own = {name: getattr(render, name) for name in OutputSettings.model_fields}
        opts = RenderOptions.model_validate(own | given)
    if not opts.episode:
        opts = opts.model_copy(update={"episode": episode_name(script_path)})
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
    """Fix each character's look, seed and voice, and list what only money can make (the
    voices to design or clone, the reference sheets the series lacks) for the ``cast`` stage
    after approval: nothing here is paid. Fails early if the language cannot be spoken or a
    sample's owner has not consented."""
    opts = state["options"]
    ctx = context_of(runtime, opts.out_dir)
    ctx.speech.check(state["script"].language)
    script, plan = state["script"], state["plan"]
    if opts.series_file is None:
        made, notes = plan_bible(ctx, script, plan, opts)
    else:
        path, book = Path(opts.series_file), ctx.series_book
        with book.locked(path):  # newcomers take free slots; every episode sees them
            known = book.load(path)
            made, notes = plan_bible(ctx, script, plan, opts, known)
            book.save(path, {**known, **made.characters})
    for note in notes:  # one line each: an engine that cannot clone or design
        stage_event("bible", f"voices: {note}")
    return {"bible": made}


def shot_fingerprint(shot: Shot, bible: StyleBible) -> str:
    """Fingerprint of everything a shot's render depends on: the shot and its people's looks
    and voices (plus the narrator's). Equal fingerprints mean the result can be reused."""
    people = [bible.characters[n] for n in sorted(shot.characters) if n in bible.characters]
    speakers = {ln.speaker for ln in shot.lines if ln.speaker in bible.characters}
    # Fields added later are left out while unset, so earlier episodes' fingerprints hold.
    unheld = {name for name in ("hold", "card") if getattr(shot, name) is None}
    h = hashlib.sha256(shot.model_dump_json(exclude=unheld).encode())
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

    The cost counts what the ``cast`` stage makes first (``to_make``: reference sheets,
    voices to design or clone) as well as the shots. The resume value is ``"approve"`` or a
    dict with an edited ``plan`` and/or ``bible``; the plan shown is whatever the state
    holds, so edits made with ``update_state`` before approving are what gets rendered.
    Nothing before ``interrupt()`` has side effects, and nothing before this node is paid.
    """
    if not state["options"].approve:
        return {}
    todo, work = pending(state), state["bible"].to_make
    cost = estimate(
        ShotPlan(title="", language="zh", shots=todo),
        context_of(runtime, state["options"].out_dir).settings,
        max_takes=state["options"].max_takes,
        cast=work,
    )
    answer: Any = interrupt(
        {
            "episode": state["options"].episode,
            "shots": len(state["plan"].shots),
            "to_render": [s.id for s in todo],
            "to_make": work.model_dump(mode="json"),
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
    stage_event("approve", "done", to_render=len(todo))
    return update


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
