"""review: probe the result, lay out per-shot assets, measure the episode against its targets,
write manifest.json, storyboard.html and the exports for editors (ASS, OTIO, 剪映 draft).

A failing episode review is reported in both files and in the progress event; the episode
stays where it is. Only a file that is not a video of the asked size stops the run.

Each character's reference image is fixed here, once every shot is chosen, and in a series
recorded in the series bible, so later episodes are measured against the same picture. The
manifest's bible carries the references; the graph's bible is left as the bible stage made
it, because every shot's fingerprint is built from it.
"""

from __future__ import annotations

import os
import shutil
from pathlib import Path

from langgraph.config import get_config
from langgraph.runtime import Runtime

from dramaforge.agents import consistency, identity
from dramaforge.agents.episode_review import EpisodeCritic, Targets
from dramaforge.errors import AssemblyError, DramaforgeError
from dramaforge.graph import series
from dramaforge.graph.contact_sheet import contact_sheet
from dramaforge.graph.context import RenderContext, context_of
from dramaforge.graph.nodes.score import layers
from dramaforge.graph.progress import stage_event
from dramaforge.graph.state import EpisodeState, RenderOptions
from dramaforge.graph.uptodate import stamp
from dramaforge.media.audio import Loudness
from dramaforge.media.exports import export_all
from dramaforge.media.exports.timeline import ScoreLayer, layout
from dramaforge.media.probe import probe
from dramaforge.media.store import atomic_write
from dramaforge.schema import (
    Asset,
    CharacterConsistency,
    EditItem,
    Episode,
    EpisodeReview,
    IdentityReport,
    Manifest,
    ReviewCheck,
    Script,
    ShotPlan,
    ShotResult,
    StyleBible,
)


def _place(asset: Asset, dest: Path) -> None:
    """Copy a stored asset into the episode folder, atomically. A copy, never a hard link: a
    person editing an episode file in place must not change the cache under it. The copy keeps
    the asset's modification time, so a copy already there with the same size and time is
    left alone (an edit re-renders one shot: the others' files stay the same files, and what
    was measured of them is remembered)."""
    src, there = Path(asset.path).stat(), dest.stat() if dest.is_file() else None
    if there is not None and (there.st_size, there.st_mtime_ns) == (src.st_size, src.st_mtime_ns):
        return
    part = dest.with_name(f".{dest.name}.part")
    try:
        shutil.copy2(asset.path, part)
        os.replace(part, dest)
    finally:
        part.unlink(missing_ok=True)


def _passes(episode_dir: Path, cost: float) -> dict[str, float]:
    """This pass's cost, and the draft's beside it when this is the final of a drafted episode."""
    if episode_dir.name == "draft":
        return {"draft": cost}
    draft = episode_dir / "draft" / "manifest.json"
    if not draft.is_file():
        return {"final": cost}
    earlier = Manifest.model_validate_json(draft.read_text(encoding="utf-8"))
    return {"draft": earlier.total_cost, "final": cost}


def review(state: EpisodeState, runtime: Runtime[RenderContext]) -> dict[str, object]:
    opts, episode = state["options"], state["episode"]
    ctx = context_of(runtime, opts.out_dir)
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
    assets = [
        a
        for r in results
        for t in r.takes
        for a in (t.keyframe, t.motion, t.voice, t.unsynced)
        if a is not None
    ]
    verdict = _review_episode(state["script"], state["plan"], results, opts, episode)
    bible, likeness = _consistency(
        state["bible"], state["plan"], state["results"], opts, ctx.series_book
    )
    origins = {c.name: c.reference_from for c in likeness}
    faces = identity.report(state["plan"], state["results"], bible, origins)
    verdict = verdict.model_copy(update={"checks": [*verdict.checks, *_identity_checks(faces)]})
    cost = round(sum(a.cost for a in assets + state.get("score", [])), 4)
    manifest = Manifest(
        title=state["script"].title,
        script=state["script_path"],
        language=state["script"].language,
        backends=ctx.backend_names(),
        bible=bible,
        plan=state["plan"],
        shots=results,
        score=state.get("score", []),
        episode=episode.model_copy(update={"duration": info.duration}),
        total_cost=cost,
        passes=_passes(episode_dir, cost),
        timings={"generation_seconds": round(sum(a.seconds for a in assets), 2)},
        thread=str(get_config()["configurable"].get("thread_id", "")),
        review=verdict,
        consistency=likeness,
        identity=faces,
        repairs=state["plan"].repairs,
        edit=_edit(state, results, episode_dir),
    )
    thread = manifest.thread
    manifest.fingerprint = stamp(thread, ctx.settings, Path(episode.path), Path(episode.srt))
    path = episode_dir / "manifest.json"
    atomic_write(path, manifest.model_dump_json(indent=2))
    atomic_write(episode_dir / "storyboard.html", contact_sheet(manifest))
    try:
        export_all(episode_dir, manifest)
    except DramaforgeError as err:  # the episode is delivered; `dramaforge export` can retry
        stage_event("exports", "failed", error=str(err))
    failed = [c.name for c in verdict.checks if not c.passed]
    stage_event("review", "done", manifest=str(path), passed=verdict.passed, failed=failed)
    return {"manifest": str(path)}


def _identity_checks(faces: IdentityReport) -> list[ReviewCheck]:
    """The identity scores in the episode review: reported, like every check there."""
    checks = []
    if faces.cross_worst is not None:
        drawn = identity.LIKENESS["drawn"]
        checks.append(
            ReviewCheck(
                name="identity",
                passed=faces.cross_worst >= drawn and not faces.copies,
                measured=faces.cross_worst,
                target=drawn,
                detail=(
                    f"cross mean {faces.cross_mean} worst {faces.cross_worst}; self mean "
                    f"{faces.self_mean} worst {faces.self_worst}; copies of a reference: "
                    f"{', '.join(faces.copies) or 'none'}"
                ),
            )
        )
    if faces.miscounted:
        checks.append(
            ReviewCheck(
                name="faces counted",
                passed=False,
                measured=float(len(faces.miscounted)),
                target=0.0,
                detail=f"more or fewer faces than people in frame: {', '.join(faces.miscounted)}",
            )
        )
    return checks


def _edit(state: EpisodeState, results: list[ShotResult], episode_dir: Path) -> list[EditItem]:
    """The cut as placed pieces, the score's sounds where the score node laid them."""
    made = state.get("score", [])
    planned = layers(state["plan"].shots, {r.shot_id: r.duration for r in results})
    sounds = [
        ScoreLayer(asset, layer.kind, layer.at, layer.gain_db, layer.description)
        for layer, asset in zip(planned, made, strict=False)
    ]
    if len(planned) != len(made):  # a score from another plan: leave it out, never misplace it
        sounds = []
    return layout(state["plan"], results, sounds, episode_dir)


def _consistency(
    bible: StyleBible,
    plan: ShotPlan,
    results: dict[str, ShotResult],
    opts: RenderOptions,
    book: series.SeriesBook,
) -> tuple[StyleBible, list[CharacterConsistency]]:
    """Fix the references (shared through the series bible), score the shots against them."""
    refs = consistency.pick_references(bible, plan, results)
    if opts.series_file:
        refs = series.share_references(Path(opts.series_file), refs, book)
    looks = {
        name: look.model_copy(update={"reference_image": refs[name].path}) if name in refs else look
        for name, look in bible.characters.items()
    }
    return bible.model_copy(update={"characters": looks}), consistency.measure(plan, results, refs)


def _review_episode(
    script: Script, plan: ShotPlan, results: list[ShotResult], opts: RenderOptions, ep: Episode
) -> EpisodeReview:
    limits = [c.duration for c in script.channels if c.aspect == opts.aspect and c.duration]
    targets = Targets(
        planned=sum(s.duration for s in plan.shots),
        shots=sum(r.duration for r in results),
        limit=min(limits, default=None),
        fps=opts.fps,
        width=opts.width,
        height=opts.height,
        lufs=opts.target_lufs,
        true_peak=opts.true_peak,
    )
    measured = None
    if ep.loudness_lufs is not None and ep.true_peak_dbtp is not None:
        measured = Loudness(integrated=ep.loudness_lufs, true_peak=ep.true_peak_dbtp, lra=0.0)
    return EpisodeCritic().review(Path(ep.path), Path(ep.srt), targets, measured)
