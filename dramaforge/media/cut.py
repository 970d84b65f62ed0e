"""The final cut: conforming clips as segments with their subtitles burned, the mix finished,
both joined by stream copy.

The sound is finished on its own (``finish_audio``: the gain, the peaks limited where needed,
AAC, the exact length) and the file is then the segments and that AAC stream joined by
stream copy. A finished sound can be made ahead, while shots are still with a provider, and
kept in the episode's ``.sound/``: the episode's tail then encodes nothing of its sound.
"""

from __future__ import annotations

import os
import tempfile
from dataclasses import dataclass
from pathlib import Path

from pydantic import BaseModel

from dramaforge.errors import AssemblyError
from dramaforge.media.audio import RATE, Loudness, gain_to, measure_loudness
from dramaforge.media.ffmpeg import run_ffmpeg
from dramaforge.media.probe import MediaInfo, probe
from dramaforge.media.segments import SEGMENT_X264, Segment, build_segments
from dramaforge.media.video import concat_list
from dramaforge.schema import Cue

AAC_HEADROOM_DB = 0.5
FINAL_X264 = [*SEGMENT_X264, "-threads", "2"]
"""The picture's x264 settings as one encoder with both threads: what a bare transcode of the
finished episode costs (the benchmarks' baseline)."""
FINAL_AAC = ["-c:a", "aac", "-aac_coder", "fast", "-b:a", "160k", "-ar", str(RATE), "-ac", "2"]
"""ffmpeg's AAC with its fast coder: half the CPU of the default two-loop search, the same
bit rate (an edit re-encodes the whole mix, so this is most of what an edit's audio costs)."""


@dataclass(frozen=True)
class Finish:
    """What the finished file must be: its frame, its rate, and how loud (EBU R128)."""

    width: int
    height: int
    fps: int
    target_lufs: float = -14.0
    true_peak: float = -1.5


class RenderReport(BaseModel):
    path: str
    duration: float
    loudness: Loudness


def _check_inputs(clips: list[Path], audio: Path, width: int, height: int, fps: int) -> list[float]:
    """Each clip's length; AssemblyError if a clip does not conform or lengths disagree."""
    if not clips:
        raise AssemblyError("nothing to assemble: no clips")
    infos: list[MediaInfo] = [probe(c) for c in clips]
    for info in infos:
        if not info.has_video or (info.width, info.height) != (width, height):
            raise AssemblyError(
                f"{info.path}: is {info.width}x{info.height}, the episode is {width}x{height}; "
                "run normalize_clip on every clip first"
            )
        if abs(info.fps - fps) > 0.01:
            raise AssemblyError(f"{info.path}: runs at {info.fps:g} fps, the episode at {fps}")
    video = sum(i.duration for i in infos)
    sound = probe(audio)
    if not sound.has_audio:
        raise AssemblyError(f"{audio}: has no audio stream")
    if abs(sound.duration - video) > 1.0 / fps + 1e-3:
        raise AssemblyError(
            f"{audio.name} is {sound.duration:.3f}s but the clips add up to {video:.3f}s; "
            "they must agree within one frame"
        )
    return [i.duration for i in infos]


def finish_audio(
    audio: Path, finish: Finish, duration: float, dest: Path, measured: Loudness | None = None
) -> None:
    """``audio`` (the mix) as the file will carry it, into ``dest`` (AAC, ``.m4a``):
    brought to the target loudness (its peaks limited first where the gain would push them
    over the ceiling), exactly ``duration`` long. Loudness is measured on audio alone:
    ``measured`` if the mixer already metered it."""
    samples = round(duration * RATE)
    dest.parent.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(prefix=".audio-", dir=dest.parent) as tmp:
        level = measured if measured is not None else measure_loudness(audio)
        # AAC adds up to ~0.5 dB of true peak: leave that room so the file keeps its ceiling.
        source, gain = gain_to(
            audio, level, Path(tmp), finish.target_lufs, finish.true_peak - AAC_HEADROOM_DB
        )
        run_ffmpeg(
            [
                *("-i", source, "-vn", "-af"),
                f"volume={gain:.3f}dB,apad=whole_len={samples},atrim=end_sample={samples}",
                *FINAL_AAC,
                *("-f", "mp4", dest),
            ],
            what=f"encoding the sound of {dest.stem}",
        )


def encode_episode(
    *,
    clips: list[Path],
    audio: Path,
    cues: list[Cue],
    finish: Finish,
    dest: Path,
    segment_cache: Path,
    measured: Loudness | None = None,
    force: bool = False,
    finished: bool = False,
) -> RenderReport:
    """The episode: one cached segment per clip, joined, with ``audio`` loudness-normalised.

    Each clip becomes a segment encoded at the final settings with the ``cues`` of its own
    time window burned in (see ``segments``), kept in ``segment_cache`` so that only
    segments not there are encoded (all of them with ``force``). ``audio`` is the mix,
    finished here (``finish_audio``; ``measured``: its loudness, if the mixer metered it),
    or with ``finished`` the sound ``finish_audio`` made already. The segments and the sound
    are joined by stream copy; the loudness reported is the finished sound's, the stream the
    file carries. ``dest`` is replaced atomically: nothing half-written is ever at that path.
    """
    width, height, fps = finish.width, finish.height, finish.fps
    lengths = _check_inputs(clips, audio, width, height, fps)
    duration = sum(lengths)
    dest.parent.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(prefix=".assemble-", dir=dest.parent) as tmp:
        work = Path(tmp)
        sound = audio
        if not finished:
            sound = work / "sound.m4a"
            finish_audio(audio, finish, duration, sound, measured)
        parts = [Segment(c, sum(lengths[:i]), lengths[i]) for i, c in enumerate(clips)]
        files, _ = build_segments(
            parts, cues, segment_cache, width=width, height=height, fps=fps, force=force
        )
        listing = concat_list(files, work / "segments.txt")
        out = work / f"episode{dest.suffix or '.mp4'}"
        run_ffmpeg(
            [
                *("-f", "concat", "-safe", "0", "-i", listing, "-i", sound),
                *("-map", "0:v:0", "-map", "1:a:0", "-c", "copy", "-t", f"{duration:.6f}"),
                *("-movflags", "+faststart", out),
            ],
            what=f"joining {dest.name}",
        )
        info = probe(out)
        if abs(info.video_duration - info.audio_duration) > 1.0 / fps + 1e-3:
            raise AssemblyError(
                f"{dest.name}: video is {info.video_duration:.3f}s, audio "
                f"{info.audio_duration:.3f}s after encoding; expected within one frame"
            )
        loudness = measure_loudness(sound)
        os.replace(out, dest)
    return RenderReport(path=str(dest), duration=info.duration, loudness=loudness)
