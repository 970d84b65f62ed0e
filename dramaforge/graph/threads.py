"""Which checkpoint thread an episode lives on: its folder name, its options, its thread id.

The same script file with the same content and the same render options is the same thread, so
``--resume``, chat, ``rerender``, MCP and the studio all find one episode's state again.
"""

from __future__ import annotations

import hashlib
import re
from pathlib import Path

from dramaforge.config import Settings, frame_size
from dramaforge.graph.state import RenderOptions


def episode_name(script_path: Path) -> str:
    """Folder name for an episode: the script's file name without its extensions."""
    stem = script_path.name.split(".")[0] or "episode"
    return re.sub(r"[^\w\-]+", "_", stem).strip("_") or "episode"


def make_options(
    script_path: Path,
    out: Path,
    settings: Settings,
    series: str | None = None,
    episode: str | None = None,
) -> RenderOptions:
    """The render options of ``script_path`` into ``out``; ``episode`` names its folder when
    the script's own name would collide with another's (a batch of ``s1/ep01``, ``s2/ep01``)."""
    r = settings.render
    bible_file = settings.state_root(out.resolve()) / "series" / f"{series}.json"
    width, height = frame_size(r.aspect, r.resolution)
    return RenderOptions(
        out_dir=str(out.resolve()),
        episode=episode or episode_name(script_path),
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
