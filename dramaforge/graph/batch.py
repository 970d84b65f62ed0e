"""Batch: a folder of episodes rendered unattended as one series.

Episodes run in parallel up to ``jobs`` and share one context, so the budget ledger and the
providers' concurrency limits hold across all of them, and one series bible keeps every
character's look and voice. One failed episode does not stop the others. Running the same
command again skips finished episodes and resumes interrupted ones.
"""

from __future__ import annotations

import time
from collections import Counter
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Literal

from langgraph.checkpoint.base import BaseCheckpointSaver
from pydantic import BaseModel

from dramaforge.config import Settings
from dramaforge.errors import DramaforgeError
from dramaforge.graph.checkpoint import open_checkpointer
from dramaforge.graph.context import RenderContext, build_context
from dramaforge.graph.session import Event
from dramaforge.graph.threads import episode_name
from dramaforge.graph.verbs import render_episode
from dramaforge.media.store import atomic_write
from dramaforge.schema import Manifest
from dramaforge.script.reader import SCRIPT_SUFFIXES


class EpisodeReport(BaseModel):
    script: str
    status: Literal["done", "failed"]
    episode: str | None = None
    duration: float = 0.0
    shots: int = 0
    takes: int = 0
    cost: float = 0.0
    seconds: float = 0.0
    error: str | None = None

    @classmethod
    def delivered(cls, script: str, manifest: Manifest, seconds: float = 0.0) -> EpisodeReport:
        """The report of an episode rendered to ``manifest``."""
        return cls(
            script=script,
            status="done",
            episode=manifest.episode.path,
            duration=manifest.episode.duration,
            shots=len(manifest.shots),
            takes=sum(len(r.takes) for r in manifest.shots),
            cost=manifest.total_cost,
            seconds=seconds,
        )


class BatchReport(BaseModel):
    series: str
    episodes: list[EpisodeReport]

    @property
    def failed(self) -> int:
        return sum(1 for e in self.episodes if e.status == "failed")


def collect(paths: list[Path]) -> list[Path]:
    """Script files named directly or found (not recursively) in the folders given, in order;
    one file named twice (or by two spellings of its path) is rendered once. Hidden files in
    a folder (``.adapt.json``, an editor's ``.ep01.txt.swp``) are not scripts."""
    found: list[Path] = []
    for path in paths:
        if path.is_dir():
            found += sorted(
                p
                for p in path.iterdir()
                if p.suffix.lower() in SCRIPT_SUFFIXES and not p.name.startswith(".")
            )
        else:
            found.append(path)
    first = {p.resolve(): p for p in reversed(found)}  # the first spelling of each file wins
    return [first[r] for r in dict.fromkeys(p.resolve() for p in found)]


def episode_names(scripts: list[Path]) -> dict[Path, str]:
    """A distinct episode folder per script: its own name, or, where two scripts share one
    (``s1/ep01.txt`` and ``s2/ep01.txt``), its folder's name before it, then a number."""
    plain = {s: episode_name(s) for s in scripts}
    clashes = Counter(plain.values())
    names: dict[Path, str] = {}
    taken: set[str] = set()
    for script in scripts:
        name = plain[script]
        if clashes[name] > 1:
            name = f"{episode_name(script.resolve().parent)}_{name}"
        base, n = name, 2
        while name in taken:
            name, n = f"{base}-{n}", n + 1
        taken.add(name)
        names[script] = name
    return names


def render_one(
    script: Path,
    out: Path,
    settings: Settings,
    *,
    report_as: str,
    series: str,
    episode: str,
    ctx: RenderContext,
    saver: BaseCheckpointSaver[str],
    on_event: Callable[[Event], None] | None,
    resume: bool = True,
) -> EpisodeReport:
    """One episode of a batch (here or on a cluster node), as its report under ``report_as``:
    whatever goes wrong is that episode's failure, never the batch's. Its events carry its
    name (episodes run side by side), and a last one (stage ``episode``) says how it ended."""
    tagged = None if on_event is None else (lambda e: on_event({**e, "episode": episode}))
    started = time.perf_counter()
    try:
        manifest = render_episode(
            script,
            out,
            settings,
            resume=resume,
            skip_done=resume,
            series=series,
            episode=episode,
            context=ctx,
            checkpointer=saver,
            on_event=tagged,
        )
    except Exception as err:  # one broken episode must not stop the series
        said = str(err) if isinstance(err, DramaforgeError) else f"{type(err).__name__}: {err}"
        report = EpisodeReport(
            script=report_as,
            status="failed",
            error=said,
            seconds=round(time.perf_counter() - started, 2),
        )
    else:
        report = EpisodeReport.delivered(
            report_as, manifest, round(time.perf_counter() - started, 2)
        )
    if on_event is not None:
        on_event({"episode": episode, "stage": "episode", "status": report.status})
    return report


def run_batch(
    paths: list[Path],
    out: Path,
    settings: Settings,
    *,
    jobs: int = 1,
    series: str | None = None,
    on_event: Callable[[Event], None] | None = None,
    context: RenderContext | None = None,
) -> BatchReport:
    """Render every script; write ``out/report.json``; never raise for one bad episode.

    A budget stop fails the episode that hit it and every later paid call, so the rest of
    the batch ends quickly; everything paid for stays in the cache for the next run.
    """
    scripts = collect(paths)
    if not scripts:
        raise DramaforgeError(f"no scripts found in {', '.join(map(str, paths))}")
    name = series or (paths[0].resolve().name if paths[0].is_dir() else "series")
    root = settings.state_root(out)
    ctx = context or build_context(settings, root)
    saver = open_checkpointer(root)
    try:
        with ThreadPoolExecutor(max_workers=max(1, jobs)) as pool:
            names = episode_names(scripts)
            futures = [
                pool.submit(
                    render_one,
                    s,
                    out,
                    settings,
                    report_as=str(s),
                    series=name,
                    episode=names[s],
                    ctx=ctx,
                    saver=saver,
                    on_event=on_event,
                )
                for s in scripts
            ]
            episodes = [f.result() for f in futures]
    finally:
        saver.conn.close()
    result = BatchReport(series=name, episodes=episodes)
    out.mkdir(parents=True, exist_ok=True)
    atomic_write(out / "report.json", result.model_dump_json(indent=2))
    return result
