"""assemble: the editor's cut. Dialogue over the ducked bed, subtitles, one loud-normalised MP4.

Two ffmpeg passes in all: one over the audio (lines placed, bed ducked, the mix metered) and
one that makes the file (clips joined, subtitles burned, the loudness gain applied, x264 and
AAC). Subtitles are timed for reading (at least a second, at most two lines) before either.
"""

from __future__ import annotations

import shutil
from pathlib import Path

from langgraph.runtime import Runtime

from dramaforge.graph.context import RenderContext
from dramaforge.graph.nodes.score import timeline
from dramaforge.graph.progress import stage_event
from dramaforge.graph.state import EpisodeState
from dramaforge.schema import Cue, Episode
from dramaforge.tools.media.assemble import encode_episode
from dramaforge.tools.media.audio import mix_episode
from dramaforge.tools.media.subtitle_timing import fit_cues, place_cues
from dramaforge.tools.media.subtitles import Layout, write_ass, write_srt
from dramaforge.tools.media.video import normalize_clip


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
    cues = fit_cues(place_cues(spoken), Layout(opts.width, opts.height), total)
    srt = episode_dir / "episode.srt"
    write_srt(cues, srt)
    ass = build / "episode.ass"
    write_ass(cues, opts.width, opts.height, ass)
    dest = episode_dir / "episode.mp4"
    report = encode_episode(
        clips=clips,
        audio=mix,
        srt=srt if cues else None,  # nothing spoken (a music video): libass refuses an empty file
        width=opts.width,
        height=opts.height,
        fps=opts.fps,
        dest=dest,
        target_lufs=opts.target_lufs,
        true_peak=opts.true_peak,
        measured=measured,
        subtitles=ass,
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
