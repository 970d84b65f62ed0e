"""assemble: the editor's cut. Dialogue over the ducked bed, subtitles, one loud-normalised MP4."""

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
from dramaforge.tools.media.assemble import encode_episode
from dramaforge.tools.media.audio import duck_mix, sequence_audio
from dramaforge.tools.media.bilingual import burn_text, cue_text
from dramaforge.tools.media.subtitles import line_units, wrap_text, write_srt
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
    spoken: list[Cue] = []  # placed, text as spoken (unwrapped)
    units = line_units(opts.width, opts.height)
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
        spoken += [
            c.model_copy(
                update={"start": round(start + c.start, 3), "end": round(start + c.end, 3)}
            )
            for c in take.cues
        ]
    cues = [c.model_copy(update={"text": wrap_text(c.text, units)}) for c in spoken]
    burned = cues
    if opts.subtitles is not None and spoken:
        cues, burned = _bilingual(state, runtime, spoken, units)
    dialogue = build / "dialogue.wav"
    sequence_audio(voices, total, dialogue)
    mix = build / "mix.wav"
    duck_mix(dialogue, Path(state["bed"]), mix)
    srt = episode_dir / "episode.srt"
    write_srt(cues, srt)
    burn = srt
    if burned is not cues:  # bilingual: the burned copy marks the translation's smaller size
        burn = build / "burn.srt"
        write_srt(burned, burn)
    dest = episode_dir / "episode.mp4"
    report = encode_episode(
        clips=clips,
        audio=mix,
        srt=burn if cues else None,  # nothing spoken (a music video): libass refuses an empty file
        width=opts.width,
        height=opts.height,
        fps=opts.fps,
        dest=dest,
        target_lufs=opts.target_lufs,
        true_peak=opts.true_peak,
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
    state: EpisodeState, runtime: Runtime[RenderContext], spoken: list[Cue], units: int
) -> tuple[list[Cue], list[Cue]]:
    """Each cue with its translation: (as the SRT holds them, as they are burned in).

    The writer's translations first; the rest from the chat model in one cached request.
    """
    opts, script = state["options"], state["script"]
    assert opts.subtitles is not None  # the caller's test
    ctx = context_of(runtime, opts.out_dir)
    target, first = translate.target_of(opts.subtitles, script.language)
    known = translate.authored(script)
    missing = [c.text for c in spoken if c.text not in known]
    known |= translate.translate(missing, script.language, target, ctx.settings, ctx.store)
    plain = [
        c.model_copy(update={"text": cue_text(c.text, known[c.text], units, first)}) for c in spoken
    ]
    burned = [
        c.model_copy(update={"text": burn_text(c.text, known[c.text], units, first)})
        for c in spoken
    ]
    return plain, burned
