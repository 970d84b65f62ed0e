"""Running the graph: thread ids, fresh runs versus resumes, and progress events.

The CLI, the MCP server and the LangChain tools all render through ``render_episode`` here.
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Callable
from pathlib import Path
from typing import Any

from langchain_core.runnables import RunnableConfig
from langgraph.checkpoint.sqlite import SqliteSaver

from dramaforge.config import Settings, frame_size
from dramaforge.errors import DramaforgeError
from dramaforge.graph.build import build_graph
from dramaforge.graph.checkpoint import open_checkpointer
from dramaforge.graph.context import RenderContext, build_context
from dramaforge.graph.state import InputState, RenderOptions
from dramaforge.schema import Manifest, Script, ShotPlan
from dramaforge.script import load_script

Event = dict[str, Any]


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


def render_episode(
    script_path: Path,
    out: Path,
    settings: Settings,
    *,
    resume: bool = False,
    skip_done: bool = False,
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
    Episodes rendered side by side share one ``checkpointer`` (one SQLite connection: two
    connections writing one file fail with "database is locked" instead of waiting).
    """
    if not script_path.is_file():
        raise DramaforgeError(f"{script_path}: no such file")
    options = make_options(script_path, out, settings, series)
    root = settings.state_root(out)
    ctx = context or build_context(settings, root)
    saver = checkpointer or open_checkpointer(root)
    try:
        graph = build_graph(saver)
        tid = thread_id(script_path, options)
        config: RunnableConfig = {
            "configurable": {"thread_id": tid},
            # A running shot subgraph holds one executor slot itself and one for its current
            # stage, so N shots at once need 2N slots (N would deadlock at N=1).
            "max_concurrency": 2 * settings.render.concurrency,
        }
        snapshot = graph.get_state(config)
        done = snapshot.values.get("manifest") if not snapshot.next else None
        if skip_done and done and Path(done).is_file():
            return Manifest.model_validate_json(Path(done).read_text(encoding="utf-8"))
        if resume and snapshot.next:
            payload: InputState | None = None
        else:
            if snapshot.values:
                saver.delete_thread(tid)
            payload = InputState(script_path=str(script_path.resolve()), options=options)
        for _ns, mode, chunk in graph.stream(
            payload, config, context=ctx, stream_mode=["custom", "updates"], subgraphs=True
        ):
            if mode == "custom" and on_event is not None and isinstance(chunk, dict):
                on_event(chunk)
        final = graph.get_state(config).values
    finally:
        if checkpointer is None:
            saver.conn.close()
    if "manifest" not in final:
        raise DramaforgeError(
            "the render stopped before the episode was assembled; run again with --resume"
        )
    return Manifest.model_validate_json(Path(final["manifest"]).read_text(encoding="utf-8"))
