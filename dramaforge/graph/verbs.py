"""One-call verbs over a session: plan a script, render an episode, redo one shot.

``render``, ``batch``, the workspace (MCP, LangChain tools, studio) and ``rerender`` call these;
chat holds a ``Session`` (``graph/session.py``) open itself. Fresh runs versus resumes are
decided here.
"""

from __future__ import annotations

import shutil
from collections.abc import Callable
from pathlib import Path

from langgraph.checkpoint.base import BaseCheckpointSaver

from dramaforge.config import Settings
from dramaforge.errors import EditError
from dramaforge.graph.context import RenderContext
from dramaforge.graph.nodes.assemble import SEGMENTS, SOUND
from dramaforge.graph.session import Event, episode_session, session_for
from dramaforge.graph.uptodate import up_to_date
from dramaforge.schema import Manifest, Script, ShotPlan
from dramaforge.script import load_script


def plan_script(
    script_path: Path, settings: Settings, context: RenderContext
) -> tuple[Script, ShotPlan]:
    """Parse and direct without rendering (``dramaforge plan``)."""
    script = load_script(script_path, language=settings.render.language)
    return script, context.director.direct(script)


def render_episode(
    script_path: Path,
    out: Path,
    settings: Settings,
    *,
    resume: bool = False,
    skip_done: bool = False,
    force: bool = False,
    series: str | None = None,
    episode: str | None = None,
    on_event: Callable[[Event], None] | None = None,
    context: RenderContext | None = None,
    checkpointer: BaseCheckpointSaver[str] | None = None,
) -> Manifest:
    """Render one episode; return its manifest.

    A fresh render forgets any earlier run of the same thread (the asset cache still saves
    the work); ``resume=True`` continues the last run from its checkpoint, so shots that
    finished before a crash or Ctrl-C are not rendered again; ``skip_done=True`` returns
    the manifest of a finished run of the same script and options without running anything.
    A finished render whose inputs, settings and files are unchanged is returned as it is
    (an ``{"stage": "episode", "status": "up_to_date"}`` event says so); ``force=True``
    renders it again and assembles every shot's segment afresh. Episodes rendered side by
    side share one ``checkpointer`` (one SQLite connection: two connections writing one file
    fail with "database is locked" instead of waiting).
    """
    with (
        session_for(
            script_path,
            out,
            settings,
            series=series,
            episode=episode,
            context=context,
            checkpointer=checkpointer,
        ) as session,
        session.running(on_event),
    ):
        status = session.status()
        done = session.manifest() if status == "done" else None
        if skip_done and done is not None:
            return done
        current = (
            None
            if force or done is None
            else up_to_date(session.episode_dir, session.thread, settings)
        )
        if current is not None:
            if on_event is not None:
                on_event({"stage": "episode", "status": "up_to_date"})
            return current
        if not (resume and status == "interrupted") and status != "new":
            session.reset()
        if force:  # every segment and the sound made again, not taken from the last render's
            for kept in (SEGMENTS, SOUND):
                shutil.rmtree(session.episode_dir / kept, ignore_errors=True)
        return session.render(on_event)


def rerender_shot(
    episode_dir: Path,
    settings: Settings,
    shot: str | int,
    *,
    prompt: str | None = None,
    take: int | None = None,
    on_event: Callable[[Event], None] | None = None,
) -> Manifest:
    """Redo one shot of a rendered episode and re-assemble it; every other shot is reused.

    ``take`` restores an earlier take (nothing is generated), ``prompt`` replaces the shot's
    visual prompt, neither asks for a fresh take of the shot as it is.
    """
    with episode_session(episode_dir, settings) as session:
        if take is not None and prompt is not None:
            raise EditError("give --prompt or --take, not both")
        if take is not None:
            session.restore(shot, take)
        elif prompt is not None:
            session.edit(shot, "prompt", prompt)
        else:
            session.redo(shot)
        return session.render(on_event)
