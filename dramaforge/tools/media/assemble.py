"""The final cut: join conforming clips, normalise the mix, burn subtitles, one encode."""

from __future__ import annotations

import os
import tempfile
from dataclasses import dataclass
from pathlib import Path

from pydantic import BaseModel

from dramaforge.errors import AssemblyError
from dramaforge.schema import Cue
from dramaforge.tools.media.audio import RATE, Loudness, gain_to, measure_loudness
from dramaforge.tools.media.ffmpeg import run_ffmpeg
from dramaforge.tools.media.probe import MediaInfo, probe
from dramaforge.tools.media.segments import Segment, build_segments
from dramaforge.tools.media.subtitles import ass_filter, check_font_log, subtitle_filter
from dramaforge.tools.media.video import concat_list

AAC_HEADROOM_DB = 0.5
FINAL_X264 = [
    "-c:v", "libx264", "-preset", "veryfast", "-crf", "20", "-pix_fmt", "yuv420p",
    "-threads", "2",
]  # fmt: skip
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


def encode_episode(
    *,
    clips: list[Path],
    audio: Path,
    srt: Path | None,
    finish: Finish,
    dest: Path,
    measured: Loudness | None = None,
    subtitles: Path | None = None,
    cues: list[Cue] | None = None,
    segment_cache: Path | None = None,
    force: bool = False,
) -> RenderReport:
    """Encode the episode once: clips joined, ``audio`` loudness-normalised, subtitles burned.

    One ffmpeg pass makes the file: the clips go through the concat demuxer straight into
    the encoder (no intermediate file, no second pass over the video), the subtitles are
    drawn on the way, and the loudness gain is applied to the audio in the same command.
    Loudness is measured on audio alone: ``measured`` if the mixer already metered it, and
    the finished file's audio stream once (never its video). ``subtitles`` is an ASS file
    to burn instead of ``srt`` (see ``subtitles.write_ass``). ``dest`` is replaced
    atomically: nothing half-written is ever at that path.

    With ``segment_cache``, the picture is made of one cached segment per clip, ``cues``
    burned into each over its own time window (see ``segments``): only segments not in the
    cache are encoded (all of them with ``force``), and this pass joins them by stream copy
    and encodes the audio alone.
    """
    width, height, fps = finish.width, finish.height, finish.fps
    target_lufs, true_peak = finish.target_lufs, finish.true_peak
    lengths = _check_inputs(clips, audio, width, height, fps)
    duration = sum(lengths)
    samples = round(duration * RATE)
    dest.parent.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(prefix=".assemble-", dir=dest.parent) as tmp:
        work = Path(tmp)
        level = measured if measured is not None else measure_loudness(audio)
        # AAC adds up to ~0.5 dB of true peak: leave that room so the final file keeps its ceiling.
        source, gain = gain_to(audio, level, work, target_lufs, true_peak - AAC_HEADROOM_DB)
        if segment_cache is not None:
            parts = [Segment(c, sum(lengths[:i]), lengths[i]) for i, c in enumerate(clips)]
            files, _ = build_segments(
                parts, cues or [], segment_cache, width=width, height=height, fps=fps, force=force
            )
            listing = concat_list(files, work / "segments.txt")
            video: list[str | Path] = ["-c:v", "copy"]
        else:
            listing = concat_list(clips, work / "clips.txt")
            video = _burn(srt, subtitles, width, height, fps)
        out = work / f"episode{dest.suffix or '.mp4'}"
        log = run_ffmpeg(
            ["-f", "concat", "-safe", "0", "-i", listing, "-i", source,
             "-map", "0:v:0", "-map", "1:a:0", *video,
             "-af", f"volume={gain:.3f}dB,apad=whole_len={samples},atrim=end_sample={samples}",
             *FINAL_AAC, "-t", f"{duration:.6f}", "-movflags", "+faststart", out],
            what=f"encoding {dest.name}",
        )  # fmt: skip
        if segment_cache is None and (srt is not None or subtitles is not None):
            check_font_log(log, f"burning subtitles into {dest.name}")
        info = probe(out)
        if abs(info.video_duration - info.audio_duration) > 1.0 / fps + 1e-3:
            raise AssemblyError(
                f"{dest.name}: video is {info.video_duration:.3f}s, audio "
                f"{info.audio_duration:.3f}s after encoding; expected within one frame"
            )
        loudness = measure_loudness(out)
        os.replace(out, dest)
    return RenderReport(path=str(dest), duration=info.duration, loudness=loudness)


def _burn(
    srt: Path | None, subtitles: Path | None, width: int, height: int, fps: int
) -> list[str | Path]:
    """Output options that encode the joined clips, ``subtitles`` (ASS) or ``srt`` burned."""
    vf = [f"fps={fps}", "format=yuv420p"]
    if subtitles is not None:
        vf.insert(0, ass_filter(subtitles))
    elif srt is not None:
        vf.insert(0, subtitle_filter(srt, width, height))
    return ["-vf", ",".join(vf), *FINAL_X264, "-r", str(fps)]
