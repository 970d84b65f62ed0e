"""review: probe the result, lay out per-shot assets, write manifest.json and storyboard.html."""

from __future__ import annotations

import os
import shutil
from pathlib import Path

from langgraph.config import get_config
from langgraph.runtime import Runtime

from dramaforge.errors import AssemblyError
from dramaforge.graph.context import RenderContext
from dramaforge.graph.progress import stage_event
from dramaforge.graph.state import EpisodeState
from dramaforge.schema import Asset, Manifest
from dramaforge.storyboard import render_storyboard
from dramaforge.tools.media.probe import probe
from dramaforge.tools.media.store import atomic_write


def _place(asset: Asset, dest: Path) -> None:
    """Hard-link a stored asset into the episode folder (copy across filesystems)."""
    dest.unlink(missing_ok=True)
    try:
        os.link(asset.path, dest)
    except OSError:
        shutil.copyfile(asset.path, dest)


def review(state: EpisodeState, runtime: Runtime[RenderContext]) -> dict[str, object]:
    ctx, opts, episode = runtime.context, state["options"], state["episode"]
    info = probe(Path(episode.path))
    if not (info.has_video and info.has_audio) or (info.width, info.height) != (
        opts.width,
        opts.height,
    ):
        raise AssemblyError(f"{episode.path} is not what was asked for: {info}")
    episode_dir = Path(opts.episode_dir)
    results = [state["results"][s.id] for s in state["plan"].shots]
    for result in results:
        folder = episode_dir / "shots" / result.shot_id
        folder.mkdir(parents=True, exist_ok=True)
        for take in result.takes:
            for name, asset in (
                ("keyframe", take.keyframe),
                ("clip", take.motion),
                ("voice", take.voice),
            ):
                _place(asset, folder / f"take{take.number}_{name}{Path(asset.path).suffix}")
    assets = [a for r in results for t in r.takes for a in (t.keyframe, t.motion, t.voice)]
    manifest = Manifest(
        title=state["script"].title,
        script=state["script_path"],
        language=state["script"].language,
        backends=ctx.backend_names(),
        bible=state["bible"],
        plan=state["plan"],
        shots=results,
        score=state.get("score", []),
        episode=episode.model_copy(update={"duration": info.duration}),
        total_cost=round(sum(a.cost for a in assets + state.get("score", [])), 4),
        timings={"generation_seconds": round(sum(a.seconds for a in assets), 2)},
        thread=str(get_config()["configurable"].get("thread_id", "")),
    )
    path = episode_dir / "manifest.json"
    atomic_write(path, manifest.model_dump_json(indent=2))
    atomic_write(episode_dir / "storyboard.html", render_storyboard(manifest))
    stage_event("review", "done", manifest=str(path))
    return {"manifest": str(path)}
