"""Probing media files with PyAV (the project ships no ffprobe)."""

from __future__ import annotations

from pathlib import Path

import av
from pydantic import BaseModel

from dramaforge.errors import AssemblyError
from dramaforge.media.colour import Colour, colour_of
from dramaforge.media.memo import remembered


class MediaInfo(BaseModel):
    path: str
    duration: float
    has_video: bool
    has_audio: bool
    width: int = 0
    height: int = 0
    fps: float = 0.0
    sar: str = "1:1"
    pix_fmt: str = ""
    vcodec: str = ""
    acodec: str = ""
    sample_rate: int = 0
    channels: int = 0
    colour: Colour | None = None
    """The video's colour tags (primaries, transfer, matrix, range); None when untagged."""
    video_duration: float = 0.0  # of the first video stream, where the container says
    audio_duration: float = 0.0  # of the first audio stream, where the container says


def probe(path: Path) -> MediaInfo:
    """Streams and duration of ``path``; AssemblyError if it is missing or not media.

    Remembered while the file is unchanged (see ``memo``): the exports and the assembly ask
    about the same unchanged files on every render."""
    if not path.is_file():
        raise AssemblyError(f"{path}: file is missing")
    return remembered("probe", path, lambda: _probe(path)).model_copy()


def _probe(path: Path) -> MediaInfo:
    try:
        with av.open(str(path)) as container:
            info = MediaInfo(
                path=str(path),
                duration=_duration(container),
                has_video=bool(container.streams.video),
                has_audio=bool(container.streams.audio),
            )
            if container.streams.video:
                v = container.streams.video[0]
                sar = v.sample_aspect_ratio
                info.width, info.height = v.width, v.height
                info.fps = float(v.average_rate or v.guessed_rate or 0)
                info.sar = f"{sar.numerator}:{sar.denominator}" if sar else "1:1"
                info.pix_fmt = v.format.name if v.format else ""
                info.vcodec = v.codec_context.name
                cc = v.codec_context
                info.colour = colour_of(
                    int(cc.color_primaries),
                    int(cc.color_trc),
                    int(cc.colorspace),
                    int(cc.color_range),
                )
                info.video_duration = _stream_duration(v)
            if container.streams.audio:
                a = container.streams.audio[0]
                info.acodec = a.codec_context.name
                info.sample_rate = a.rate or 0
                info.channels = a.channels or 0
                info.audio_duration = _stream_duration(a)
            return info
    except (av.error.FFmpegError, OSError, ValueError) as err:
        raise AssemblyError(f"{path}: cannot be decoded ({err})") from err


def _stream_duration(stream: av.stream.Stream) -> float:
    if stream.duration is None or stream.time_base is None:
        return 0.0
    return float(stream.duration * stream.time_base)


def _duration(container: av.container.InputContainer) -> float:
    if container.duration is not None:
        return float(container.duration) / 1_000_000
    return max((_stream_duration(s) for s in container.streams), default=0.0)
