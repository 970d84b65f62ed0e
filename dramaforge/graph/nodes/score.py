"""score: music, ambience and sound effects laid under the cut, once shot lengths are known."""

from __future__ import annotations

import math
from collections.abc import Callable
from pathlib import Path
from typing import NamedTuple

from langgraph.runtime import Runtime

from dramaforge.agents.bible import stable_seed
from dramaforge.graph.context import RenderContext, context_of
from dramaforge.graph.progress import stage_event
from dramaforge.graph.state import EpisodeState
from dramaforge.media.audio import sequence_audio, trim_audio
from dramaforge.media.store import AssetStore
from dramaforge.schema import Asset, LayerKind, Shot
from dramaforge.tools.protocols import Generated, SoundBackend, SoundRequest

MUSIC_DB = -10.0
AMBIENCE_DB = -18.0
SFX_DB = -4.0
SFX_OFFSET = 0.2  # a cue lands just after the cut
BUCKET = 10.0
"""Music and ambience are made this many seconds at a time (``_bucketed``)."""


def timeline(shots: list[Shot], durations: dict[str, float]) -> list[tuple[Shot, float]]:
    """Each shot with its start time in the episode, in plan order."""
    placed, t = [], 0.0
    for shot in shots:
        placed.append((shot, t))
        t += durations[shot.id]
    return placed


class Layer(NamedTuple):
    """One sound laid under the cut: what to ask for, where it starts and how loud it sits."""

    kind: LayerKind
    description: str
    length: float
    at: float
    gain_db: float


def layers(shots: list[Shot], durations: dict[str, float]) -> list[Layer]:
    """Ambience and music per scene, effects per shot, in the order ``score`` makes them.

    Pure, so the editor exports can place the same sounds where the mix put them.
    """
    placed = timeline(shots, durations)
    found: list[Layer] = []
    for scene_index in dict.fromkeys(s.scene_index for s in shots):
        in_scene = [(s, t) for s, t in placed if s.scene_index == scene_index]
        first, start = in_scene[0]
        length = sum(durations[s.id] for s, _ in in_scene)
        heading = f"{first.scene_heading} {first.time_of_day}"
        found.append(Layer("ambience", heading, length, start, AMBIENCE_DB))
        if first.music:
            found.append(Layer("music", f"{first.music} {first.mood}", length, start, MUSIC_DB))
        for shot, at in in_scene:
            for cue in shot.sfx:
                sfx_length = min(3.0, durations[shot.id])
                found.append(Layer("sfx", cue, sfx_length, at + SFX_OFFSET, SFX_DB))
    return found


def produce_sound(store: AssetStore, backend: SoundBackend, request: SoundRequest) -> Asset:
    """``request`` made by ``backend`` through the store, keyed by its kind: a sound asked
    for again (another version, a re-run) is found there, not generated twice."""
    asset, _ = store.produce(
        request.kind,
        backend.name,
        request,
        "wav",
        lambda dest, journal: backend.generate(request, dest, journal),
        seed=request.seed,
        prompt=request.description,
    )
    return asset


def _bucketed(store: AssetStore, backend: SoundBackend, request: SoundRequest) -> Asset:
    """Music and ambience made at the next ``BUCKET`` seconds up and trimmed to the scene's
    length with a fade: an edit that moves a scene's length by a line finds the sound made
    (a trim, not a synthesis or a paid generation). Effects are made at their own length."""
    full = BUCKET * math.ceil(request.duration / BUCKET)
    if request.kind not in ("music", "ambience") or full <= request.duration:
        return produce_sound(store, backend, request)
    whole = produce_sound(store, backend, request.model_copy(update={"duration": full}))

    def trim(dest: Path, _journal: object) -> Generated:
        trim_audio(Path(whole.path), request.duration, dest)
        return Generated(duration=request.duration)

    asset, _ = store.produce(
        request.kind,
        f"{backend.name}:trimmed",
        request.model_dump(mode="json") | {"from": whole.key},
        "wav",
        trim,
        seed=request.seed,
        prompt=request.description,
    )
    return asset


def score(state: EpisodeState, runtime: Runtime[RenderContext]) -> dict[str, object]:
    ctx, plan = context_of(runtime, state["options"].out_dir), state["plan"]
    durations = {sid: r.duration for sid, r in state["results"].items()}
    assets, bed = make_score(ctx, plan.shots, durations, state["script"].title)
    stage_event("score", "done", layers=len(assets))
    return {"score": assets, "bed": bed.path}


def make_score(
    ctx: RenderContext,
    shots: list[Shot],
    durations: dict[str, float],
    title: str,
    safe_point: Callable[[], None] = lambda: None,
) -> tuple[list[Asset], Asset]:
    """Every layer and the bed, through the asset store: made once for these lengths, so the
    score made ahead (``graph/prefetch.py``) is found here, not made again. ``safe_point``
    is called before each layer and the bed: the score made ahead stops there (it raises)
    once its render has ended."""
    total = sum(durations[shot.id] for shot in shots)
    placed: list[tuple[Path, float]] = []
    gains: list[float] = []
    assets: list[Asset] = []

    def make(layer: Layer) -> None:
        request = SoundRequest(
            kind=layer.kind,
            description=layer.description,
            duration=round(layer.length, 3),
            seed=stable_seed(title, layer.kind, layer.description),
        )
        asset = _bucketed(ctx.store, ctx.sound, request)
        assets.append(asset)
        placed.append((Path(asset.path), layer.at))
        gains.append(layer.gain_db)

    for layer in layers(shots, durations):
        safe_point()
        make(layer)
    safe_point()

    payload = {
        "layers": [a.key for a in assets],
        "at": [at for _, at in placed],
        "gains": gains,
        "total": total,
    }
    bed, _ = ctx.store.produce(
        "bed", "local:timeline", payload, "wav", lambda dest, _: _mix(placed, gains, total, dest)
    )
    return assets, bed


def _mix(
    layers: list[tuple[Path, float]], gains: list[float], total: float, dest: Path
) -> Generated:
    sequence_audio(layers, total, dest, gains_db=gains)
    return Generated(duration=total)
