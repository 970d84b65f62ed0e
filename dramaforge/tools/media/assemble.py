"""The final cut: join conforming clips, normalise the mix, burn subtitles, one encode."""

from __future__ import annotations

import os
import tempfile
from pathlib import Path

from pydantic import BaseModel

from dramaforge.errors import AssemblyError
from dramaforge.tools.media.audio import RATE, Loudness, loudnorm, measure_loudness
from dramaforge.tools.media.ffmpeg import run_ffmpeg
from dramaforge.tools.media.probe import MediaInfo, probe
from dramaforge.tools.media.subtitles import check_font_log, subtitle_filter
from dramaforge.tools.media.video import concat_list

AAC_HEADROOM_DB = 0.5
FINAL_X264 = [
    "-c:v", "libx264", "-preset", "veryfast", "-crf", "20", "-pix_fmt", "yuv420p",
    "-threads", "2",
]  # fmt: skip


class RenderReport(BaseModel):
    path: str
    duration: float
    loudness: Loudness


def _check_inputs(clips: list[Path], audio: Path, width: int, height: int, fps: int) -> float:
    """The video's total length; AssemblyError if a clip does not conform or lengths disagree."""
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
    return video


def encode_episode(
    *,
    clips: list[Path],
    audio: Path,
    srt: Path | None,
    width: int,
    height: int,
    fps: int,
    dest: Path,
    target_lufs: float = -14.0,
    true_peak: float = -1.5,
) -> RenderReport:
    """Encode the episode once: clips joined, ``audio`` loudness-normalised, subtitles burned.

    The clips go through the concat demuxer straight into the one encode (no intermediate
    file). ``dest`` is replaced atomically: nothing half-written is ever at that path.
    """
    duration = _check_inputs(clips, audio, width, height, fps)
    samples = round(duration * RATE)
    dest.parent.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(prefix=".assemble-", dir=dest.parent) as tmp:
        work = Path(tmp)
        listing = concat_list(clips, work / "clips.txt")
        norm = work / "mix.wav"
        # AAC adds up to ~0.5 dB of true peak: leave that room so the final file keeps its ceiling.
        loudnorm(audio, norm, target_lufs=target_lufs, true_peak=true_peak - AAC_HEADROOM_DB)
        vf = [f"fps={fps}", "format=yuv420p"]
        if srt is not None:
            vf.insert(0, subtitle_filter(srt, width, height))
        out = work / f"episode{dest.suffix or '.mp4'}"
        log = run_ffmpeg(
            ["-f", "concat", "-safe", "0", "-i", listing, "-i", norm,
             "-map", "0:v:0", "-map", "1:a:0", "-vf", ",".join(vf),
             "-af", f"apad=whole_len={samples},atrim=end_sample={samples}",
             *FINAL_X264, "-r", str(fps),
             "-c:a", "aac", "-b:a", "160k", "-ar", str(RATE), "-ac", "2",
             "-t", f"{duration:.6f}", "-movflags", "+faststart", out],
            what=f"encoding {dest.name}",
        )  # fmt: skip
        if srt is not None:
            check_font_log(log, f"burning {srt.name} into {dest.name}")
        info = probe(out)
        if abs(info.video_duration - info.audio_duration) > 1.0 / fps + 1e-3:
            raise AssemblyError(
                f"{dest.name}: video is {info.video_duration:.3f}s, audio "
                f"{info.audio_duration:.3f}s after encoding; expected within one frame"
            )
        loudness = measure_loudness(out)
        os.replace(out, dest)
    return RenderReport(path=str(dest), duration=info.duration, loudness=loudness)
