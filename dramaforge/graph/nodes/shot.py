"""The shot subgraph's stages: voice and keyframe side by side, then motion -> critic.

The voice decides the shot's length (the length of its speech), which only the clip needs:
the keyframe is made beside it, and the clip to that length once both are in. Every stage
goes through the asset store, so a stage whose inputs did not change costs nothing on a
re-run, and a retry (a new try number in the request) makes a new asset while every earlier
take stays on disk.
"""

from __future__ import annotations

from functools import partial
from pathlib import Path
from typing import Literal, TypeVar

from langgraph.runtime import Runtime
from langgraph.types import Command

from dramaforge.agents.bible import motion_prompt, shot_prompt
from dramaforge.agents.critic import best_take_index
from dramaforge.graph.context import RenderContext, context_of
from dramaforge.graph.cost import units
from dramaforge.graph.nodes.moderation import moderated, offline, rewritten
from dramaforge.graph.progress import for_shot
from dramaforge.graph.progress import shot_event as progress
from dramaforge.graph.state import ShotState
from dramaforge.media.audio import only_spans, sequence_audio
from dramaforge.media.store import file_digest
from dramaforge.schema import Asset, Critique, Cue, ShotResult, Stage, StyleBible, Take
from dramaforge.tools.protocols import (
    Generated,
    ImageBackend,
    ImageRequest,
    SpeechRequest,
    TaskJournal,
    VideoBackend,
    VideoRequest,
)

LEAD_IN = 0.3  # silence before the first line of a shot
GAP = 0.35  # between lines in one shot
TAIL = 0.5  # after the last line, before the cut
CANVAS = 1.2  # keyframes are drawn larger than the frame, for camera moves


def _try(state: ShotState, stage: Stage) -> int:
    return state.get("tries", {}).get(stage, 0)


@for_shot
def voice(state: ShotState, runtime: Runtime[RenderContext]) -> dict[str, object]:
    """Speak each line in its character's voice and lay the lines out on the shot's timeline."""
    ctx, shot, opts = context_of(runtime, state["options"].out_dir), state["shot"], state["options"]
    progress(shot.id, "voice")
    items: list[tuple[Path, float]] = []
    cues: list[Cue] = []
    keys: list[str] = []
    cost = 0.0
    notes: list[str] = []
    t = LEAD_IN
    retry = _try(state, "voice")
    for line in shot.lines:
        request = SpeechRequest(
            text=line.text, language=state["language"], voice=state["bible"].voice_for(line.speaker)
        )
        # A retried voice stage asks again (the try is part of the key); a first try does not
        # carry it, so a line keeps its key, and its cached speech, across episodes and edits.
        key_of = request.model_dump(mode="json") | ({"try": retry} if retry else {})
        asset, made = ctx.store.produce(
            "line",
            ctx.speech.name,
            key_of,
            "wav",
            partial(_speak, ctx, request, f"speech for {shot.id}"),
        )
        length = made.duration or 0.0
        items.append((Path(asset.path), t))
        cues.append(
            Cue(start=round(t, 3), end=round(t + length, 3), text=line.text, speaker=line.speaker)
        )
        keys.append(asset.key)
        cost += asset.cost
        notes += [f"{line.text[:20]}: {asset.note}"] if asset.note else []
        t += length + GAP
    spoken = t - GAP + TAIL if shot.lines else 0.0
    seconds = max(opts.min_shot, spoken, shot.hold or 0.0) if shot.lines else shot.duration
    duration = round(seconds * opts.fps) / opts.fps
    if shot.card and not shot.lines:  # a title card's words stay on screen for the shot
        cues.append(Cue(start=0.0, end=round(duration - 0.1, 3), text=shot.card))
    payload = {
        "lines": keys,
        "at": [at for _, at in items],
        "duration": duration,
        "try": retry,
    }
    track, _ = ctx.store.produce(
        "voice",
        "local:timeline",
        payload,
        "wav",
        lambda dest, _: _timeline(items, duration, dest),
    )
    track = track.model_copy(
        update={"cost": cost, "backend": ctx.speech.name, "note": "; ".join(notes)}
    )
    ctx.voiced.add(opts.episode_dir, shot.id, state["fingerprint"], duration, cues, track)
    progress(shot.id, "voice", "done", duration=duration)
    return {"voice": track, "cues": cues, "duration": duration}


def after_voice(state: ShotState) -> Literal["motion", "__end__"]:
    """A first voice ends its branch (the keyframe's branch goes on to the clip); a voice the
    critic sent back goes straight to a new clip: the accepted keyframe has not changed."""
    return "motion" if _try(state, "voice") else "__end__"


def _speak(
    ctx: RenderContext, request: SpeechRequest, what: str, dest: Path, journal: TaskJournal
) -> Generated:
    return ctx.paid(
        ctx.speech.name,
        units("speech", text=request.text),
        what,
        partial(ctx.speech.synthesize, request, dest, journal),
    )


def _timeline(items: list[tuple[Path, float]], duration: float, dest: Path) -> Generated:
    sequence_audio(items, duration, dest)
    return Generated(duration=duration)


@for_shot
def keyframe(state: ShotState, runtime: Runtime[RenderContext]) -> dict[str, object]:
    shot, opts, bible = state["shot"], state["options"], state["bible"]
    ctx = context_of(runtime, opts.out_dir)
    progress(shot.id, "keyframe")
    focus_seed = bible.characters[shot.focus].seed if shot.focus in bible.characters else 0
    base = ImageRequest(
        prompt=shot_prompt(shot, bible, state["language"]),
        width=_even(opts.width * CANVAS),
        height=_even(opts.height * CANVAS),
        seed=(
            bible.seed
            + focus_seed
            + shot.index
            + 1000 * _try(state, "keyframe")
            + 100_003 * shot.revision
        )
        % 2**31,
        framing=shot.framing,
        scene_heading=shot.scene_heading,
        time_of_day=shot.time_of_day,
        mood=shot.mood,
        palette=bible.palette,
        characters={
            n: (bible.characters[n].color, bible.characters[n].slot)
            for n in shot.characters
            if n in bible.characters
        },
        focus=shot.focus,
        caption=shot.action,
        language=state["language"],
        reference=reference_image(bible, shot.focus),
    )
    revised = _revised_prompt(state)
    if revised:  # the critic's rewrite of a failed keyframe, folded into the next try;
        # also its caption, so a storyboard panel (drawn from the caption) shows the rewrite
        base = base.model_copy(update={"prompt": revised, "caption": revised})
    asset, rejected = moderated(
        shot,
        "keyframe",
        lambda prompt: _keyframe(ctx, ctx.image, _with(base, prompt), shot.id),
        lambda: _keyframe(ctx, offline(ctx, "image"), base, shot.id),
        lambda reason: rewritten(ctx, shot, base.prompt, reason, state["language"]),
    )
    progress(shot.id, "keyframe", "done")
    return {"keyframe": asset, "rejected": rejected}


def reference_image(bible: StyleBible, focus: str | None) -> str | None:
    """The focus character's reference image from the series bible, if it exists on disk."""
    look = bible.characters.get(focus or "")
    if look is None or not look.reference_image or not Path(look.reference_image).is_file():
        return None
    return look.reference_image


def _keyframe(ctx: RenderContext, image: ImageBackend, request: ImageRequest, what: str) -> Asset:
    # The reference by content, not path: a moved project keeps its cache.
    by_content = {"reference": file_digest(Path(request.reference))} if request.reference else {}
    asset, _ = ctx.store.produce(
        "keyframe",
        image.name,
        request.model_dump(mode="json") | by_content,
        "png",
        lambda dest, journal: ctx.paid(
            image.name,
            units("image"),
            f"keyframe {what}",
            partial(image.generate, request, dest, journal),
        ),
        seed=request.seed,
        prompt=request.prompt,
    )
    return asset


def on_screen_cues(state: ShotState) -> list[Cue]:
    """The cues of lines spoken by someone in frame: the ones lips move with."""
    shot = state["shot"]
    return [c for line, c in zip(shot.lines, state["cues"], strict=False) if shot.on_screen(line)]


def lines_track(
    ctx: RenderContext, voice: Asset, spans: list[tuple[float, float]], start: float, end: float
) -> Asset:
    """The shot's voice with only ``spans`` audible, from ``start`` to ``end`` (stored)."""
    payload = {"from": voice.key, "spans": spans, "start": start, "end": end}

    def make(dest: Path, _journal: TaskJournal) -> Generated:
        only_spans(Path(voice.path), spans, dest, start=start, end=end)
        return Generated(duration=end - start)

    asset, _ = ctx.store.produce("voice", "local:lines", payload, "wav", make)
    return asset


def _sound_for_clip(ctx: RenderContext, state: ShotState) -> tuple[Asset | None, list[Cue]]:
    """What a video model that moves lips itself is given: the voice with only on-screen lines
    audible (the track as it is when every line is), and their cues; nothing without any."""
    spoken = on_screen_cues(state)
    if not getattr(ctx.video, "takes_audio", False) or not spoken:
        return None, []
    if len(spoken) == len(state["shot"].lines):
        return state["voice"], spoken
    spans = [(c.start, c.end) for c in spoken]
    return lines_track(ctx, state["voice"], spans, 0.0, state["duration"]), spoken


@for_shot
def motion(state: ShotState, runtime: Runtime[RenderContext]) -> dict[str, object]:
    ctx, shot, opts = context_of(runtime, state["options"].out_dir), state["shot"], state["options"]
    progress(shot.id, "motion")
    key = state["keyframe"]
    sound, spoken = _sound_for_clip(ctx, state)
    request = VideoRequest(
        prompt=motion_prompt(shot, state["bible"], state["language"]),
        keyframe=key.path,
        width=opts.width,
        height=opts.height,
        fps=opts.fps,
        duration=state["duration"],
        camera=shot.camera,
        seed=(key.seed or 0) + 7 * _try(state, "motion"),
        # Only to backends that generate in sync with it: the track is then part of the key.
        audio=sound.path if sound is not None else None,
        speaking=spoken
        if sound is not None and getattr(ctx.video, "takes_speakers", False)
        else None,
    )
    asset, rejected = moderated(
        shot,
        "motion",
        lambda prompt: _clip(ctx, ctx.video, _with(request, prompt), key, shot.id, sound),
        lambda: _clip(ctx, offline(ctx, "video"), request, key, shot.id),
        lambda reason: rewritten(ctx, shot, request.prompt, reason, state["language"]),
    )
    progress(shot.id, "motion", "done")
    return {"motion": asset, "rejected": state.get("rejected") or rejected}


def _clip(
    ctx: RenderContext,
    video: VideoBackend,
    request: VideoRequest,
    key: Asset,
    what: str,
    sound: Asset | None = None,
) -> Asset:
    asset, _ = ctx.store.produce(
        "motion",
        video.name,
        # Inputs by content key, not path: a moved project folder keeps its cache.
        request.model_dump(exclude={"keyframe", "audio"})
        | {"from": key.key}
        | ({"audio": sound.key} if request.audio and sound else {}),
        "mp4",
        lambda dest, journal: ctx.paid(
            video.name,
            units("video", duration=request.duration),
            f"clip {what}",
            partial(video.generate, request, dest, journal),
        ),
        seed=request.seed,
        prompt=request.prompt,
    )
    return asset


Next = Literal["voice", "keyframe", "motion", "lipsync", "__end__"]


@for_shot
def critic(state: ShotState, runtime: Runtime[RenderContext]) -> Command[Next]:
    """Review the take; send it back to the stage at fault, or keep the best take and finish."""
    ctx, shot, opts = context_of(runtime, state["options"].out_dir), state["shot"], state["options"]
    progress(shot.id, "critic")
    voice_asset, key = state["voice"], state["keyframe"]
    synced = state.get("synced")
    clip = synced or state["motion"]
    reviewer = ctx.critic.with_bible(state["bible"]).with_store(ctx.store)
    critique = _rejected(state.get("rejected")) or reviewer.review(
        shot,
        keyframe=Path(key.path),
        motion=Path(clip.path),
        voice=Path(voice_asset.path),
        duration=state["duration"],
        cues=state["cues"],
        frame=(opts.width, opts.height),
    )
    if state.get("lipsync_note"):
        critique = critique.model_copy(update={"issues": [*critique.issues, state["lipsync_note"]]})
    if critique.stage_at_fault == "lipsync" and synced is None:
        critique = _no_lipsync_stage(critique, getattr(ctx.video, "takes_audio", False))
    previous = state.get("previous", [])
    takes = [
        *state.get("takes", []),
        Take(
            number=len(previous) + len(state.get("takes", [])) + 1,
            keyframe=key,
            motion=clip,
            voice=voice_asset,
            cues=state["cues"],
            duration=state["duration"],
            critique=critique,
            shot=shot,
            unsynced=state["motion"] if synced else None,
        ),
    ]
    stage = critique.stage_at_fault
    if not critique.passed and stage is not None and len(takes) < opts.max_takes:
        progress(shot.id, "critic", "retry", fault=stage, issues=critique.issues)
        tries = dict(state.get("tries", {}))
        tries[stage] = tries.get(stage, 0) + 1
        back: Next = stage
        return Command(goto=back, update={"takes": takes, "tries": tries})
    chosen = best_take_index([t.critique.score for t in takes])
    result = ShotResult(
        shot_id=shot.id,
        takes=[*previous, *takes],
        chosen=len(previous) + chosen,
        duration=takes[chosen].duration,
        keyframe_reviews=state.get("reviews", []),
        fingerprint=state["fingerprint"],
    )
    ctx.voiced.keep(opts.episode_dir, shot.id, state["fingerprint"], result.take)
    progress(shot.id, "critic", "done", passed=critique.passed, takes=len(takes))
    return Command(goto="__end__", update={"takes": takes, "results": {shot.id: result}})


def _no_lipsync_stage(critique: Critique, takes_audio: bool) -> Critique:
    """Lips out of sync where no lip-sync stage ran: the clip is at fault when its model was
    given the voice; otherwise nothing was asked to move them, so retrying cannot help (and
    would pay for clips): the take passes with a note saying how to get lips synced."""
    if takes_audio:
        return critique.model_copy(update={"stage_at_fault": "motion"})
    note = "no lip-sync route: set [backends] lipsync (or --lipsync) to sync on-screen lines"
    return critique.model_copy(
        update={
            "passed": True,
            "score": max(critique.score, 0.5),
            "stage_at_fault": None,
            "issues": [*critique.issues, note],
        }
    )


def _revised_prompt(state: ShotState) -> str | None:
    """The reviewer's rewrite of the last rejected keyframe, if this is a retry of one."""
    if _try(state, "keyframe") == 0:
        return None
    verdicts = [r.critique for r in state.get("reviews", [])]
    verdicts += [t.critique for t in state.get("takes", [])]
    failed = [c for c in verdicts if c.stage_at_fault == "keyframe" and c.revised_prompt]
    return failed[-1].revised_prompt if failed else None


def _rejected(reason: str | None) -> Critique | None:
    """A placeholder take stands in for a twice-rejected stage: failed, not retried."""
    if reason is None:
        return None
    return Critique(passed=False, score=0.0, issues=[reason], reviewer="moderation")


R = TypeVar("R", ImageRequest, VideoRequest)


def _with(request: R, prompt: str | None) -> R:
    """``request`` with another prompt (a moderation rewrite), or as it is."""
    return request if prompt is None else request.model_copy(update={"prompt": prompt})


def _even(x: float) -> int:
    n = round(x)
    return n + n % 2
