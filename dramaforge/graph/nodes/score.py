"""score: music, ambience and sound effects laid under the cut, once shot lengths are known."""

from __future__ import annotations

from pathlib import Path

from langgraph.runtime import Runtime

from dramaforge.agents.bible import stable_seed
from dramaforge.graph.context import RenderContext, context_of
from dramaforge.graph.progress import stage_event
from dramaforge.graph.state import EpisodeState
from dramaforge.schema import Asset, Shot
from dramaforge.tools.base import Generated, SoundRequest
from dramaforge.tools.media.audio import sequence_audio

MUSIC_DB = -10.0
AMBIENCE_DB = -18.0
SFX_DB = -4.0
SFX_OFFSET = 0.2  # a cue lands just after the cut


def timeline(shots: list[Shot], durations: dict[str, float]) -> list[tuple[Shot, float]]:
    """Each shot with its start time in the episode, in plan order."""
    placed, t = [], 0.0
    for shot in shots:
        placed.append((shot, t))
        t += durations[shot.id]
    return placed


def score(state: EpisodeState, runtime: Runtime[RenderContext]) -> dict[str, object]:
    ctx, plan = context_of(runtime, state["options"].out_dir), state["plan"]
    durations = {sid: r.duration for sid, r in state["results"].items()}
    placed = timeline(plan.shots, durations)
    total = sum(durations[shot.id] for shot, _ in placed)
    title = state["script"].title
    layers: list[tuple[Path, float]] = []
    gains: list[float] = []
    assets: list[Asset] = []

    def make(kind: str, description: str, length: float, at: float, gain: float) -> None:
        request = SoundRequest(
            kind=kind,
            description=description,
            duration=round(length, 3),
            seed=stable_seed(title, kind, description),
        )
        asset, _ = ctx.store.produce(
            kind,
            ctx.sound.name,
            request,
            "wav",
            lambda dest, journal: ctx.sound.generate(request, dest, journal),
            seed=request.seed,
            prompt=description,
        )
        assets.append(asset)
        layers.append((Path(asset.path), at))
        gains.append(gain)

    for scene_index in dict.fromkeys(s.scene_index for s in plan.shots):
        in_scene = [(s, t) for s, t in placed if s.scene_index == scene_index]
        first, start = in_scene[0]
        length = sum(durations[s.id] for s, _ in in_scene)
        make("ambience", f"{first.scene_heading} {first.time_of_day}", length, start, AMBIENCE_DB)
        if first.music:
            make("music", f"{first.music} {first.mood}", length, start, MUSIC_DB)
        for shot, at in in_scene:
            for cue in shot.sfx:
                make("sfx", cue, min(3.0, durations[shot.id]), at + SFX_OFFSET, SFX_DB)

    payload = {
        "layers": [a.key for a in assets],
        "at": [at for _, at in layers],
        "gains": gains,
        "total": total,
    }
    bed, _ = ctx.store.produce(
        "bed", "local:timeline", payload, "wav", lambda dest, _: _mix(layers, gains, total, dest)
    )
    stage_event("score", "done", layers=len(assets))
    return {"score": assets, "bed": bed.path}


def _mix(
    layers: list[tuple[Path, float]], gains: list[float], total: float, dest: Path
) -> Generated:
    sequence_audio(layers, total, dest, gains_db=gains)
    return Generated(duration=total)
