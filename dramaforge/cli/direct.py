"""Directing a made or planned episode: ``chat`` and ``rerender``.

The graph and the chat model load inside the command that needs them (start-up stays fast).
"""

from __future__ import annotations

import json
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Annotated

import typer

from dramaforge.cli.common import app, console, guard, out_console
from dramaforge.cli.flags import (
    BACKENDS,
    FRAME,
    JsonOpt,
    OutOpt,
    settings_flags,
)
from dramaforge.config import Settings


@app.command()
@settings_flags(*FRAME, "budget", *BACKENDS)
def chat(
    settings: Settings,
    script: Annotated[Path, typer.Argument(help="Script file.")],
    out: OutOpt = Path("out"),
    resume: Annotated[
        bool, typer.Option(help="Continue the last conversation on this script.")
    ] = False,
    series: Annotated[
        str | None,
        typer.Option(
            help="The series this episode belongs to (batch's --series): its characters' "
            "looks and voices, and voices made here, are kept for every episode."
        ),
    ] = None,
) -> None:
    """Direct SCRIPT in a conversation: see the plan and its cost, edit, approve, redo shots."""
    from dramaforge.chat.agent import ChatAgent, chat_model
    from dramaforge.chat.repl import Chat
    from dramaforge.chat.terminal import progress, safe
    from dramaforge.graph.session import session_for

    def run() -> None:
        with session_for(script, out, settings, approve=True, series=series) as session:
            if not resume and session.status() != "new":
                session.reset()
            model = chat_model(settings)
            agent = ChatAgent(session, model) if model is not None else None
            if agent is not None and not resume:
                agent.reset()
            talk = Chat(
                session,
                out_console,
                agent=agent,
                progress=lambda: progress(console, sys.stderr.isatty()),
            )
            if agent is not None:
                for who, text in agent.history():
                    out_console.print(f"[bold]{safe(who)}:[/] {safe(text)}", highlight=False)
            talk.start()
            talk.loop(_typed_lines())

    guard(run)


def _typed_lines() -> Iterator[str]:
    while True:
        try:
            yield out_console.input("[bold cyan]>[/] ")
        except EOFError:
            return


@app.command()
@settings_flags("budget", *(k for k in BACKENDS if k != "director"))
def rerender(
    settings: Settings,
    episode_dir: Annotated[Path, typer.Argument(help="A rendered episode folder (OUT/<name>).")],
    shot: Annotated[str, typer.Option("--shot", help="Shot number (1-based) or id.")],
    prompt: Annotated[str | None, typer.Option(help="New visual prompt for the shot.")] = None,
    take: Annotated[
        int | None, typer.Option(help="Use this earlier take again (nothing is generated).")
    ] = None,
    as_json: JsonOpt = False,
) -> None:
    """Redo one shot of a rendered episode (or restore an earlier take) and re-assemble it."""
    from dramaforge.chat.terminal import progress
    from dramaforge.graph.edits import find
    from dramaforge.graph.verbs import rerender_shot

    def run() -> None:
        with progress(console, not as_json and sys.stderr.isatty()) as on_event:
            manifest = rerender_shot(
                episode_dir, settings, shot, prompt=prompt, take=take, on_event=on_event
            )
        chosen = manifest.shots[find(manifest.plan, shot)]
        if as_json:
            typer.echo(
                json.dumps(
                    {
                        "episode": manifest.episode.path,
                        "shot": chosen.shot_id,
                        "take": chosen.take.number,
                        "takes": len(chosen.takes),
                        "cost": manifest.total_cost,
                    }
                )
            )
            return
        console.print(
            f"[green]done[/] {chosen.shot_id} now uses take {chosen.take.number} "
            f"of {len(chosen.takes)}",
            highlight=False,
        )
        out_console.print(manifest.episode.path, highlight=False, markup=False)

    guard(run)
