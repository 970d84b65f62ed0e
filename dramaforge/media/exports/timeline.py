"""The cut as placed pieces: where every clip and sound sits, in episode seconds and in frames.

The render's manifest records these pieces (``Manifest.edit``) so every editor export (OTIO,
剪映) is built from one description of the cut instead of each one re-deriving it.
"""

from __future__ import annotations

import os
import shutil
from pathlib import Path
from typing import NamedTuple

from dramaforge.media.audio import BED_DB
from dramaforge.media.probe import probe
from dramaforge.schema import Asset, EditItem, LayerKind, Manifest, ShotPlan, ShotResult

AUDIO_DIR = "audio"


class ScoreLayer(NamedTuple):
    """A sound the score node made and where it laid it under the cut."""

    asset: Asset
    kind: LayerKind
    at: float
    gain_db: float
    label: str


def take_file(shot_id: str, number: int, name: str, asset_path: str) -> str:
    """Where a take's keyframe, clip or voice sits in the episode folder (relative path)."""
    return f"shots/{shot_id}/take{number}_{name}{Path(asset_path).suffix}"


def place(src: str | Path, dest: Path) -> None:
    """Hard-link a stored file into the episode folder (copy across filesystems)."""
    dest.parent.mkdir(parents=True, exist_ok=True)
    dest.unlink(missing_ok=True)
    try:
        os.link(src, dest)
    except OSError:
        shutil.copyfile(src, dest)


def _shot_items(plan: ShotPlan, results: list[ShotResult]) -> tuple[list[EditItem], float]:
    """Chosen clips and voices back to back in plan order, and where the last one ends."""
    by_id = {r.shot_id: r for r in results}
    items: list[EditItem] = []
    start = 0.0
    for shot in plan.shots:
        result = by_id[shot.id]
        take = result.take
        pieces: list[tuple[LayerKind, str, Asset]] = [
            ("video", "clip", take.motion),
            ("dialogue", "voice", take.voice),
        ]
        for kind, name, asset in pieces:
            items.append(
                EditItem(
                    kind=kind,
                    path=take_file(shot.id, take.number, name, asset.path),
                    start=round(start, 6),
                    duration=result.duration,
                    shot_id=shot.id,
                    label=f"{shot.id} take {take.number}",
                )
            )
        start += result.duration
    return items, start


def layout(
    plan: ShotPlan, results: list[ShotResult], score: list[ScoreLayer], episode_dir: Path
) -> list[EditItem]:
    """Every piece of the cut as the assembly placed it.

    Shots follow each other in plan order; each shot's voice track starts with it and is as
    long as it; score sounds are linked into ``audio/`` and last as long as the file, cut at
    the end of the episode (as the mix cuts them). Shot files must already be in ``shots/``.
    """
    items, total = _shot_items(plan, results)
    counts: dict[str, int] = {}
    linked: set[Path] = set()
    for layer in score:
        counts[layer.kind] = counts.get(layer.kind, 0) + 1
        rel = f"{AUDIO_DIR}/{layer.kind}_{counts[layer.kind]:02d}{Path(layer.asset.path).suffix}"
        place(layer.asset.path, episode_dir / rel)
        linked.add(episode_dir / rel)
        length = min(probe(episode_dir / rel).duration, total - layer.at)
        if length <= 0:
            continue
        items.append(
            EditItem(
                kind=layer.kind,
                path=rel,
                start=round(layer.at, 6),
                duration=round(length, 6),
                gain_db=layer.gain_db + BED_DB,
                label=layer.label,
            )
        )
    stale = (episode_dir / AUDIO_DIR).glob("*") if (episode_dir / AUDIO_DIR).is_dir() else []
    for path in stale:  # sounds of an earlier cut of this episode
        if path.is_file() and path not in linked:
            path.unlink()
    return items


def edit_of(manifest: Manifest) -> list[EditItem]:
    """The manifest's cut; for a manifest written before the cut was recorded, the chosen
    clips and voices (re-render the episode to add music and effects: nothing is regenerated)."""
    return manifest.edit or _shot_items(manifest.plan, manifest.shots)[0]


class Span(NamedTuple):
    """An item in whole frames: NLEs cut on frames, so every export agrees on these."""

    item: EditItem
    start: int
    end: int


def spans(items: list[EditItem], fps: int) -> list[Span]:
    """Items in frames; each edge is rounded on its own, so back-to-back items stay butted."""
    return [
        Span(i, round(i.start * fps), round((i.start + i.duration) * fps))
        for i in items
        if round((i.start + i.duration) * fps) > round(i.start * fps)
    ]


def lanes(found: list[Span]) -> list[list[Span]]:
    """Spread spans over as few non-overlapping lanes (tracks) as needed, earliest first."""
    out: list[list[Span]] = []
    for span in sorted(found, key=lambda s: (s.start, s.end)):
        for lane in out:
            if lane[-1].end <= span.start:
                lane.append(span)
                break
        else:
            out.append([span])
    return out
