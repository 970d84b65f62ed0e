"""ingest -> direct -> bible, and the fan-out of one shot subgraph per shot."""

from __future__ import annotations

from pathlib import Path

from langgraph.runtime import Runtime
from langgraph.types import Send

from dramaforge.agents import series
from dramaforge.agents.bible import build_bible
from dramaforge.graph.context import RenderContext
from dramaforge.graph.progress import stage_event
from dramaforge.graph.state import EpisodeState
from dramaforge.script import load_script


def ingest(state: EpisodeState) -> dict[str, object]:
    """Read and parse the script; a bad file stops here with a ScriptError naming the line."""
    opts = state["options"]
    script = load_script(Path(state["script_path"]), format=opts.format, language=opts.language)
    stage_event("ingest", "done", scenes=len(script.scenes))
    return {"script": script}


def direct(state: EpisodeState, runtime: Runtime[RenderContext]) -> dict[str, object]:
    plan = runtime.context.director.direct(state["script"])
    stage_event("direct", "done", shots=len(plan.shots))
    return {"plan": plan}


def bible(state: EpisodeState, runtime: Runtime[RenderContext]) -> dict[str, object]:
    """Fix each character's look, seed and voice; fail early if the language cannot be spoken."""
    speech, opts = runtime.context.speech, state["options"]
    language = state["script"].language
    speech.check(language)
    voices = speech.voices(language)
    if opts.series_file is None:
        return {"bible": build_bible(state["script"], state["plan"], voices)}
    path = Path(opts.series_file)
    with series.locked(path):
        known = series.load(path)
        made = build_bible(state["script"], state["plan"], voices, series=opts.series, known=known)
        series.save(path, {**known, **made.characters})
    return {"bible": made}


def fan_out(state: EpisodeState) -> list[Send]:
    """One shot subgraph per shot; shots already rendered in this run are not sent again."""
    done = state.get("results", {})
    return [
        Send(
            "shot",
            {
                "shot": shot,
                "bible": state["bible"],
                "options": state["options"],
                "language": state["script"].language,
            },
        )
        for shot in state["plan"].shots
        if shot.id not in done
    ]
