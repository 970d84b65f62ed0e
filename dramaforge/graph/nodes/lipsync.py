"""lipsync: every on-screen line moved onto its speaker's lips, once the clip is made.

Only lines whose speaker is in frame are synced (``Shot.on_screen``): never narration, a
voice-over or an off-screen speaker, whose words are silenced in the track a model is given.
The route is the ``[backends] lipsync`` backend:

* none (the default): the video model's own audio input did it (``takes_audio``; the
  offline animatic draws its mouths that way), or nothing does;
* a pass over the finished clip (``videoretalk``, a ComfyUI workflow): one pass per on-screen
  speaker, each with that speaker's lines alone and, when several people are in frame, their
  reference face, so each line lands on its own speaker's lips;
* speech-to-video (``wan2.2-s2v``): the keyframe and the voice make the clip; with several
  speakers the shot is split at the turns, each turn a talking clip of its speaker (their
  reference picture from the series bible, else the keyframe), joined back into one clip.

A refusal that no retry can change (the image check finds no face, a line too long for the
model) keeps the unsynced clip and says why in the take's issues; a retryable error stops the
shot like any stage's. The critic's sync check can send a take back here (a new try, a new
seed, a new asset).
"""

from __future__ import annotations

from functools import partial
from itertools import pairwise
from pathlib import Path

from langgraph.runtime import Runtime

from dramaforge.errors import ContentRejected, ProviderError
from dramaforge.graph.context import RenderContext, context_of
from dramaforge.graph.cost import units
from dramaforge.graph.nodes.shot import lines_track, on_screen_cues, reference_image
from dramaforge.graph.progress import for_shot
from dramaforge.graph.progress import shot_event as progress
from dramaforge.graph.state import ShotState
from dramaforge.media.store import file_digest
from dramaforge.media.video import concat_videos
from dramaforge.schema import Asset, Cue
from dramaforge.tools.protocols import Generated, LipsyncBackend, LipsyncRequest, TaskJournal

Span = tuple[float, float]


@for_shot
def lipsync(state: ShotState, runtime: Runtime[RenderContext]) -> dict[str, object]:
    ctx, shot = context_of(runtime, state["options"].out_dir), state["shot"]
    backend = ctx.lipsync
    spoken = on_screen_cues(state)
    if backend is None or not spoken or state.get("rejected"):
        return {"synced": None, "lipsync_note": None}
    progress(shot.id, "lipsync")
    try:
        if getattr(backend, "speech_to_video", False):
            asset = _talking(ctx, backend, state, spoken)
        else:
            asset = _passes(ctx, backend, state, spoken)
    except ContentRejected:
        raise
    except ProviderError as err:
        if err.retryable:
            raise
        progress(shot.id, "lipsync", "skipped", reason=str(err))
        return {"synced": None, "lipsync_note": f"lips not synced: {err}"}
    progress(shot.id, "lipsync", "done")
    return {"synced": asset, "lipsync_note": None}


def speakers(spoken: list[Cue]) -> list[str]:
    """On-screen speakers in the order they first speak."""
    return list(dict.fromkeys(c.speaker for c in spoken if c.speaker))


def turns(spoken: list[Cue], duration: float, fps: int) -> list[tuple[str, Span]]:
    """The shot cut where the speaker changes, halfway through the pause between two turns,
    on whole frames: (speaker, (start, end)) covering the whole shot."""
    groups: list[tuple[str, float, float]] = []
    for cue in spoken:
        who = cue.speaker or ""
        if groups and groups[-1][0] == who:
            groups[-1] = (who, groups[-1][1], cue.end)
        else:
            groups.append((who, cue.start, cue.end))
    frames = round(duration * fps)
    cuts = [0]
    for (_, _, before), (_, after, _) in pairwise(groups):
        cuts.append(min(max(round((before + after) / 2 * fps), cuts[-1] + 1), frames - 1))
    cuts.append(frames)
    return [(g[0], (cuts[i] / fps, cuts[i + 1] / fps)) for i, g in enumerate(groups)]


def _spans(spoken: list[Cue], speaker: str) -> list[Span]:
    return [(c.start, c.end) for c in spoken if c.speaker == speaker]


def _seed(state: ShotState) -> int:
    return ((state["keyframe"].seed or 0) + 11 * state.get("tries", {}).get("lipsync", 0)) % 2**31


def _request(state: ShotState, **fields: object) -> LipsyncRequest:
    opts = state["options"]
    base: dict[str, object] = {
        "image": state["keyframe"].path,
        "width": opts.width,
        "height": opts.height,
        "fps": opts.fps,
        "duration": state["duration"],
        "seed": _seed(state),
        "prompt": state["shot"].action or state["shot"].visual_prompt,
    }
    return LipsyncRequest.model_validate(base | fields)


def _made(
    ctx: RenderContext,
    backend: LipsyncBackend,
    request: LipsyncRequest,
    inputs: dict[str, str],
    what: str,
) -> Asset:
    """One lip-sync request through the store: paid once, keyed by its inputs' content."""
    payload = request.model_dump(exclude={"image", "audio", "video", "face"}) | inputs
    asset, _ = ctx.store.produce(
        "lipsync",
        backend.name,
        payload,
        "mp4",
        lambda dest, journal: ctx.paid(
            backend.name,
            units("video", duration=request.duration),
            what,
            partial(backend.generate, request, dest, journal),
        ),
        seed=request.seed,
        prompt=request.prompt,
    )
    return asset


def _face(state: ShotState, speaker: str) -> tuple[str | None, dict[str, str]]:
    """The speaker's reference face when several people are in frame (path, key part)."""
    if len(state["shot"].visible()) < 2:
        return None, {}
    face = reference_image(state["bible"], speaker)
    return face, ({"face": file_digest(Path(face))} if face else {})


def _passes(
    ctx: RenderContext, backend: LipsyncBackend, state: ShotState, spoken: list[Cue]
) -> Asset:
    """One pass over the clip per on-screen speaker, each with their own lines."""
    shot, clip, duration = state["shot"], state["motion"], state["duration"]
    cost = 0.0
    for speaker in speakers(spoken):
        track = lines_track(ctx, state["voice"], _spans(spoken, speaker), 0.0, duration)
        face, face_key = _face(state, speaker)
        request = _request(state, audio=track.path, video=clip.path, face=face)
        inputs = {"from": clip.key, "keyframe": state["keyframe"].key, "audio": track.key}
        clip = _made(ctx, backend, request, inputs | face_key, f"lip sync {shot.id} {speaker}")
        cost += clip.cost
    return clip.model_copy(update={"cost": cost})


def _talking(
    ctx: RenderContext, backend: LipsyncBackend, state: ShotState, spoken: list[Cue]
) -> Asset:
    """Speech-to-video: one talking clip, or one per turn joined when several speak."""
    shot, opts, key = state["shot"], state["options"], state["keyframe"]
    pieces = turns(spoken, state["duration"], opts.fps)
    if len(pieces) == 1:
        track = lines_track(
            ctx, state["voice"], _spans(spoken, pieces[0][0]), 0.0, state["duration"]
        )
        request = _request(state, audio=track.path)
        inputs = {"keyframe": key.key, "audio": track.key}
        return _made(ctx, backend, request, inputs, f"talking clip {shot.id}")
    made: list[Asset] = []
    for speaker, (start, end) in pieces:
        track = lines_track(ctx, state["voice"], _spans(spoken, speaker), start, end)
        picture = reference_image(state["bible"], speaker)
        image = {"picture": file_digest(Path(picture))} if picture else {"keyframe": key.key}
        request = _request(
            state, image=picture or key.path, audio=track.path, duration=round(end - start, 6)
        )
        what = f"talking clip {shot.id} {speaker} at {start:.2f}s"
        made.append(_made(ctx, backend, request, image | {"audio": track.key}, what))
    joined = {"pieces": [a.key for a in made]}

    def join(dest: Path, _journal: TaskJournal) -> Generated:
        concat_videos([Path(a.path) for a in made], dest)
        return Generated(duration=state["duration"], cost=0.0)

    asset, _ = ctx.store.produce("lipsync", "local:join", joined, "mp4", join)
    return asset.model_copy(update={"cost": sum(a.cost for a in made), "backend": backend.name})
