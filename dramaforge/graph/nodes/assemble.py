"""assemble: the editor's cut. Dialogue over the ducked bed, subtitles, one loud-normalised MP4.

The finished sound: one ffmpeg pass over the audio (lines placed, bed ducked, the mix
metered), the loudness gain, AAC (kept in ``.sound``, so an edit of the picture alone does
not mix again); each shot's segment encoded once with its own subtitles burned (cached in
``.segments``, so after an edit only the changed shots are encoded); then one pass that joins
the segments and the sound by stream copy. Subtitles are timed for reading (at least a
second, at most two lines) before any of it.

When the pictures come from a provider, the sound and most segments are already made when
this node runs: ``sound_ahead`` and ``cut_ahead`` make them while other shots are still with
it (``graph/prefetch.py``), from the same layout (``cut_layout``) this node makes.
"""

from __future__ import annotations

import hashlib
import json
import tempfile
from collections.abc import Callable
from itertools import takewhile
from pathlib import Path

from langgraph.runtime import Runtime

from dramaforge.graph.context import RenderContext, context_of
from dramaforge.graph.nodes.score import timeline
from dramaforge.graph.prefetch import Spoken
from dramaforge.graph.progress import stage_event
from dramaforge.graph.state import EpisodeState, RenderOptions
from dramaforge.media.audio import measure_loudness, mix_episode
from dramaforge.media.bilingual import attach
from dramaforge.media.cut import FINAL_AAC, Finish, encode_episode, finish_audio
from dramaforge.media.files import atomic_file, file_lock, keep_only
from dramaforge.media.segments import Segment, build_segments
from dramaforge.media.store import content_digest
from dramaforge.media.subtitle_timing import fit_cues, place_cues
from dramaforge.media.subtitles import Layout, line_units, write_srt
from dramaforge.media.video import conformed
from dramaforge.schema import Asset, Cue, Episode, Shot, Take

SEGMENTS = ".segments"
"""The episode's encoded shot segments, kept between renders so an edit encodes one shot."""
SOUND = ".sound"
"""The episode's finished sound, kept so an edit of the picture alone does not mix it again."""
CONFORMED = ".conformed"
"""Provider clips conformed to the episode's frame, kept so a render does not conform again."""


def cut_layout(
    shots: list[Shot], spoken: dict[str, Spoken], opts: RenderOptions
) -> tuple[list[tuple[Shot, float]], float, list[Cue], list[Cue]]:
    """Where each shot starts, the episode's length, the cues as said (episode times) and as
    shown (timed for reading): from each shot's length and cues, nothing else, so the cut
    made ahead and this node's cut agree wherever their inputs do."""
    placed = timeline(shots, {sid: length for sid, (length, _) in spoken.items()})
    total = sum(spoken[shot.id][0] for shot, _ in placed)
    said = place_cues((spoken[shot.id][1], start) for shot, start in placed)
    return placed, total, said, fit_cues(said, Layout(opts.width, opts.height), total)


def finished_sound(
    voices: list[tuple[Asset, float]],
    bed: Path,
    total: float,
    finish: Finish,
    folder: Path,
    safe_point: Callable[[], None] = lambda: None,
) -> Path:
    """The episode's sound as the file carries it (the lines over the ducked bed, brought to
    the target loudness, AAC), kept in ``folder`` under a key of what decides it: made once
    for these voices, this bed and this length, ahead of the cut when the shots wait on a
    provider (``sound_ahead``), and not again after an edit of the picture alone.
    ``safe_point`` is called between the mix and its encoding: the sound made ahead stops
    there (it raises, the temp files go) once its render has ended."""
    blob = json.dumps(
        [
            [[voice.key, round(at, 6)] for voice, at in voices],
            content_digest(bed),
            round(total, 6),
            [finish.target_lufs, finish.true_peak, FINAL_AAC],
        ]
    )
    key = hashlib.sha256(blob.encode()).hexdigest()[:32]
    dest = folder / f"{key}.m4a"
    with file_lock(folder / f"{key}.lock"):  # the one made ahead finishes, then is found
        if not dest.is_file():
            with atomic_file(dest) as tmp, tempfile.TemporaryDirectory(dir=folder) as work:
                mix = Path(work) / "mix.wav"
                placed = [(Path(voice.path), at) for voice, at in voices]
                measured = mix_episode(placed, bed, total, mix)
                safe_point()
                finish_audio(mix, finish, total, tmp, measured)
    return dest


def sound_ahead(
    shots: list[Shot],
    voices: dict[str, tuple[Asset, float]],
    bed: Path,
    opts: RenderOptions,
    safe_point: Callable[[], None],
) -> None:
    """The finished sound made (and measured) before the cut, from each shot's voice and
    length: the assemble node finds it in ``.sound/`` when the kept takes have these voices.
    Stops at each ``safe_point`` (it raises) once the render no longer wants it."""
    if any(shot.id not in voices for shot in shots):
        return
    placed = timeline(shots, {sid: length for sid, (_, length) in voices.items()})
    total = sum(voices[shot.id][1] for shot in shots)
    folder = Path(opts.episode_dir) / SOUND
    safe_point()
    sound = finished_sound(
        [(voices[s.id][0], at) for s, at in placed], bed, total, _finish(opts), folder, safe_point
    )
    safe_point()
    measure_loudness(sound)  # remembered: the cut reports it without metering again


def _finish(opts: RenderOptions) -> Finish:
    return Finish(opts.width, opts.height, opts.fps, opts.target_lufs, opts.true_peak)


def _clip(take: Take, opts: RenderOptions) -> Path:
    return conformed(
        Path(take.motion.path),
        Path(opts.episode_dir) / CONFORMED,
        width=opts.width,
        height=opts.height,
        fps=opts.fps,
        duration=take.duration,
    )


def cut_ahead(
    shots: list[Shot],
    spoken: dict[str, Spoken],
    kept: dict[str, Take],
    todo: set[str],
    opts: RenderOptions,
) -> set[str]:
    """Encode the segments of the ``todo`` kept shots into the cache (``ahead``: one encoder,
    at a lower priority); return the ones encoded.

    ``spoken`` holds the other shots' lengths and cues (their voices, or an earlier render's
    takes). The layout needs every shot before a segment (where it starts) and the one after
    (a short last line may run on into it): shots are encoded once those are known.
    """
    spoken = spoken | {sid: (take.duration, take.cues) for sid, take in kept.items()}
    known = list(takewhile(lambda shot: shot.id in spoken, shots))
    ready = {s.id for s in (known if len(known) == len(shots) else known[:-1])} & todo
    if not ready:
        return set()
    placed, _, _, cues = cut_layout(known, spoken, opts)
    segments = [
        Segment(_clip(kept[shot.id], opts), start, kept[shot.id].duration)
        for shot, start in placed
        if shot.id in ready
    ]
    build_segments(
        segments,
        cues,
        Path(opts.episode_dir) / SEGMENTS,
        width=opts.width,
        height=opts.height,
        fps=opts.fps,
        ahead=True,
    )
    return ready


def assemble(state: EpisodeState, runtime: Runtime[RenderContext]) -> dict[str, object]:
    opts, plan, results = state["options"], state["plan"], state["results"]
    episode_dir = Path(opts.episode_dir)
    stage_event("assemble", "start")
    ctx = context_of(runtime, opts.out_dir)
    ctx.voiced.close(opts.episode_dir)  # the segments made ahead: the one in hand finishes
    takes = {shot.id: results[shot.id].take for shot in plan.shots}
    spoken = {sid: (take.duration, take.cues) for sid, take in takes.items()}
    placed, total, said, cues = cut_layout(plan.shots, spoken, opts)
    clips = [_clip(takes[shot.id], opts) for shot, _ in placed]
    keep_only(episode_dir / CONFORMED, clips)
    voices = [(takes[shot.id].voice, start) for shot, start in placed]
    sound = finished_sound(voices, Path(state["bed"]), total, _finish(opts), episode_dir / SOUND)
    keep_only(episode_dir / SOUND, [sound, sound.with_suffix(".lock")])
    if opts.subtitles is not None and said:
        cues = _bilingual(state, runtime, cues, said)
    srt = episode_dir / "episode.srt"
    write_srt(cues, srt)
    dest = episode_dir / "episode.mp4"
    report = encode_episode(
        clips=clips,
        audio=sound,
        cues=cues,
        finish=_finish(opts),
        dest=dest,
        segment_cache=episode_dir / SEGMENTS,
        finished=True,
    )
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
    from dramaforge.agents import translate  # the OpenAI client: only for bilingual subtitles

    opts, script = state["options"], state["script"]
    assert opts.subtitles is not None  # the caller's test
    ctx = context_of(runtime, opts.out_dir)
    target, first = translate.target_of(opts.subtitles, script.language)
    known = translate.authored(script)
    missing = [c.text for c in said if c.text not in known]
    known |= translate.translate(missing, script.language, target, ctx.settings, ctx.store)
    return attach(cues, said, known, line_units(opts.width, opts.height), first)
