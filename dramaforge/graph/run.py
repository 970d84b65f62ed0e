"""Running the graph: thread ids, fresh runs versus resumes, and progress events.

The CLI, the MCP server and the LangChain tools all render through ``render_episode`` here.
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path

from langgraph.checkpoint.sqlite import SqliteSaver

from dramaforge.config import Settings, frame_size
from dramaforge.errors import DramaforgeError, EditError
from dramaforge.graph.build import build_graph
from dramaforge.graph.checkpoint import open_checkpointer
from dramaforge.graph.context import RenderContext
from dramaforge.graph.state import RenderOptions
from dramaforge.graph.uptodate import up_to_date
from dramaforge.schema import Manifest, Script, ShotPlan
from dramaforge.script import load_script
from dramaforge.session import Event, Session, open_session


def episode_name(script_path: Path) -> str:
    """Folder name for an episode: the script's file name without its extensions."""
    stem = script_path.name.split(".")[0] or "episode"
    return re.sub(r"[^\w\-]+", "_", stem).strip("_") or "episode"


def make_options(
    script_path: Path, out: Path, settings: Settings, series: str | None = None
) -> RenderOptions:
    r = settings.render
    bible_file = settings.state_root(out.resolve()) / "series" / f"{series}.json"
    width, height = frame_size(r.aspect, r.resolution)
    return RenderOptions(
        out_dir=str(out.resolve()),
        episode=episode_name(script_path),
        aspect=r.aspect,
        resolution=r.resolution,
        width=width,
        height=height,
        fps=r.fps,
        max_takes=r.max_takes,
        min_shot=r.min_shot,
        max_shot=r.max_shot,
        target_lufs=r.target_lufs,
        true_peak=r.true_peak,
        language=r.language,
        series=series,
        series_file=str(bible_file) if series else None,
    )


def thread_id(script_path: Path, options: RenderOptions) -> str:
    """Same script file, same content, same render options: same thread (so --resume finds it)."""
    h = hashlib.sha256()
    h.update(str(script_path.resolve()).encode())
    h.update(script_path.read_bytes())
    h.update(options.model_dump_json(exclude={"out_dir"}).encode())
    return f"{options.episode}-{h.hexdigest()[:16]}"


def plan_script(
    script_path: Path, settings: Settings, context: RenderContext
) -> tuple[Script, ShotPlan]:
    """Parse and direct without rendering (``dramaforge plan``)."""
    script = load_script(script_path, language=settings.render.language)
    return script, context.director.direct(script)


@contextmanager
def session_for(
    script_path: Path,
    out: Path,
    settings: Settings,
    *,
    approve: bool = False,
    series: str | None = None,
    context: RenderContext | None = None,
    checkpointer: SqliteSaver | None = None,
) -> Iterator[Session]:
    """The session of ``script_path`` rendered into ``out`` with these settings."""
    if not script_path.is_file():
        raise DramaforgeError(f"{script_path}: no such file")
    options = make_options(script_path, out, settings, series).model_copy(
        update={"approve": approve}
    )
    tid = thread_id(script_path, options)
    with open_session(
        script_path, options, tid, settings, context=context, checkpointer=checkpointer
    ) as session:
        yield session


@contextmanager
def episode_session(
    episode_dir: Path, settings: Settings, *, context: RenderContext | None = None
) -> Iterator[Session]:
    """The session that rendered ``episode_dir`` (found through its manifest), to edit it."""
    manifest_path = episode_dir / "manifest.json"
    if not manifest_path.is_file():
        raise DramaforgeError(f"{episode_dir}: no manifest.json here; render the episode first")
    manifest = Manifest.model_validate_json(manifest_path.read_text(encoding="utf-8"))
    if not manifest.thread:
        raise DramaforgeError(f"{episode_dir} was rendered by an older version; render it again")
    root = settings.state_root(episode_dir.resolve().parent)
    saver = open_checkpointer(root)
    try:
        values = build_graph(saver).get_state({"configurable": {"thread_id": manifest.thread}})
        options: RenderOptions | None = values.values.get("options")
        if options is None:
            raise DramaforgeError(
                f"{episode_dir}: its render state is gone from {root}; render the episode again"
            )
        with open_session(
            Path(manifest.script),
            options,
            manifest.thread,
            settings,
            context=context,
            checkpointer=saver,
        ) as session:
            yield session
    finally:
        saver.conn.close()


def render_episode(
    script_path: Path,
    out: Path,
    settings: Settings,
    *,
    resume: bool = False,
    skip_done: bool = False,
    force: bool = False,
    series: str | None = None,
    on_event: Callable[[Event], None] | None = None,
    context: RenderContext | None = None,
    checkpointer: SqliteSaver | None = None,
) -> Manifest:
    """Render one episode; return its manifest.

    A fresh render forgets any earlier run of the same thread (the asset cache still saves
    the work); ``resume=True`` continues the last run from its checkpoint, so shots that
    finished before a crash or Ctrl-C are not rendered again; ``skip_done=True`` returns
    the manifest of a finished run of the same script and options without running anything.
    A finished render whose inputs, settings and files are unchanged is returned as it is
    (an ``{"stage": "episode", "status": "up_to_date"}`` event says so); ``force=True``
    renders it again. Episodes rendered side by side share one ``checkpointer`` (one SQLite
    connection: two connections writing one file fail with "database is locked" instead of
    waiting).
    """
    with session_for(
        script_path, out, settings, series=series, context=context, checkpointer=checkpointer
    ) as session:
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
