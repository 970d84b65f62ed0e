"""assemble: the editor's cut. Dialogue over the ducked bed, subtitles, one loud-normalised MP4.

One ffmpeg pass over the audio (lines placed, bed ducked, the mix metered); each shot's
segment encoded once with its own subtitles burned (cached in ``.segments``, so after an edit
only the changed shots are encoded); one pass that makes the file (segments joined by stream
copy, the loudness gain applied, AAC). Subtitles are timed for reading (at least a second, at
most two lines) before any of it.
"""

from __future__ import annotations

import shutil
from pathlib import Path

from langgraph.runtime import Runtime

from dramaforge.agents import translate
from dramaforge.graph.context import RenderContext, context_of
from dramaforge.graph.nodes.score import timeline
from dramaforge.graph.progress import stage_event
from dramaforge.graph.state import EpisodeState
from dramaforge.schema import Cue, Episode
from dramaforge.tools.media.assemble import Finish, encode_episode
from dramaforge.tools.media.audio import mix_episode
from dramaforge.tools.media.bilingual import attach
from dramaforge.tools.media.subtitle_timing import fit_cues, place_cues
from dramaforge.tools.media.subtitles import Layout, line_units, write_srt
from dramaforge.tools.media.video import normalize_clip

SEGMENTS = ".segments"
"""The episode's encoded shot segments, kept between renders so an edit encodes one shot."""


def assemble(state: EpisodeState, runtime: Runtime[RenderContext]) -> dict[str, object]:
    opts, plan, results = state["options"], state["plan"], state["results"]
    episode_dir = Path(opts.episode_dir)
    build = episode_dir / ".build"
    build.mkdir(parents=True, exist_ok=True)
    stage_event("assemble", "start")
    placed = timeline(plan.shots, {sid: r.duration for sid, r in results.items()})
    total = sum(results[shot.id].duration for shot, _ in placed)

    clips: list[Path] = []
    voices: list[tuple[Path, float]] = []
    spoken: list[tuple[list[Cue], float]] = []
    for shot, start in placed:
        take = results[shot.id].take
        clip = build / f"{shot.id}.mp4"
        normalize_clip(
            Path(take.motion.path),
            clip,
            width=opts.width,
            height=opts.height,
            fps=opts.fps,
            duration=take.duration,
        )
        clips.append(clip)
        voices.append((Path(take.voice.path), start))
        spoken.append((take.cues, start))
    mix = build / "mix.wav"
    measured = mix_episode(voices, Path(state["bed"]), total, mix)
    said = place_cues(spoken)
    cues = fit_cues(said, Layout(opts.width, opts.height), total)
    if opts.subtitles is not None and said:
        cues = _bilingual(state, runtime, cues, said)
    srt = episode_dir / "episode.srt"
    write_srt(cues, srt)
    dest = episode_dir / "episode.mp4"
    report = encode_episode(
        clips=clips,
        audio=mix,
        cues=cues,
        finish=Finish(opts.width, opts.height, opts.fps, opts.target_lufs, opts.true_peak),
        dest=dest,
        measured=measured,
        segment_cache=episode_dir / SEGMENTS,
    )
    shutil.rmtree(build, ignore_errors=True)
    stage_event("assemble", "done", duration=report.duration)
    episode = Episode(
        path=str(dest),
        srt=str(srt),
        aspect=opts.aspect,
        width=opts.width,
        height=opts.height,
        duration=report.duration,
        loudness_lufs=report.loudness.integrated,
        true_peak_dbtp=report.loudness.true_peak,
        fps=opts.fps,
    )
    return {"episode": episode}


def _bilingual(
    state: EpisodeState, runtime: Runtime[RenderContext], cues: list[Cue], said: list[Cue]
) -> list[Cue]:
    """Each cue with the translation of what is said under it: the writer's translations
    first, the rest from the chat model in one cached request."""
    opts, script = state["options"], state["script"]
    assert opts.subtitles is not None  # the caller's test
    ctx = context_of(runtime, opts.out_dir)
    target, first = translate.target_of(opts.subtitles, script.language)
    known = translate.authored(script)
    missing = [c.text for c in said if c.text not in known]
    known |= translate.translate(missing, script.language, target, ctx.settings, ctx.store)
    return attach(cues, said, known, line_units(opts.width, opts.height), first)
