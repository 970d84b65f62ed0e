"""Conforming clips to the episode's frame: size, fps, SAR, pixel format, exact length."""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import uuid
from pathlib import Path

from dramaforge.media.colour import OFFLINE
from dramaforge.media.ffmpeg import run_ffmpeg
from dramaforge.media.probe import probe
from dramaforge.media.store import content_digest

X264 = [
    *("-c:v", "libx264", "-preset", "veryfast", "-crf", "18"),
    *("-pix_fmt", "yuv420p", "-threads", "2"),
]


def colour_args(src: Path) -> list[str]:
    """Tags for an encode of ``src``'s pixels: its own, or the offline pictures' (``colour``)."""
    return (probe(src).colour or OFFLINE).ffmpeg_args()


def _tmp_for(dest: Path) -> Path:
    """A temp name beside ``dest`` with the same suffix (ffmpeg picks the muxer by it)."""
    return dest.with_name(f".{dest.stem}.{uuid.uuid4().hex[:8]}.tmp{dest.suffix}")


def conforms(src: Path, *, width: int, height: int, fps: int, duration: float) -> bool:
    """True if ``src`` is already what normalize_clip would write (within half a frame)."""
    info = probe(src)
    return (
        info.vcodec == "h264"
        and info.pix_fmt == "yuv420p"
        and info.sar in ("1:1", "0:1")
        and (info.width, info.height) == (width, height)
        and abs(info.fps - fps) < 0.01
        and abs(info.duration - duration) <= 0.5 / fps
        and not info.has_audio
    )


def normalize_clip(
    src: Path, dest: Path, *, width: int, height: int, fps: int, duration: float
) -> None:
    """Make ``src`` fill the frame (scale to cover, centre crop) at ``fps`` for ``duration``.

    Short clips hold their last frame; long ones are cut. A clip that already conforms is
    linked or copied, not re-encoded: each frame is encoded once by the stage that made it and
    once more only in the final cut. ``dest`` appears complete or not at all.
    """
    tmp = _tmp_for(dest)
    try:
        if conforms(src, width=width, height=height, fps=fps, duration=duration):
            try:
                os.link(src, tmp)
            except OSError:
                shutil.copyfile(src, tmp)
        else:
            vf = (
                f"scale={width}:{height}:force_original_aspect_ratio=increase,"
                f"crop={width}:{height},setsar=1,fps={fps},"
                f"tpad=stop_mode=clone:stop_duration={duration:.3f},"
                f"trim=duration={duration:.6f},setpts=PTS-STARTPTS"
            )
            run_ffmpeg(
                ["-i", src, "-vf", vf, "-an", *X264, *colour_args(src), "-r", str(fps), tmp],
                what=f"conforming {src.name} to {width}x{height}@{fps}",
            )
        os.replace(tmp, dest)
    finally:
        tmp.unlink(missing_ok=True)


def conformed(
    src: Path, cache: Path, *, width: int, height: int, fps: int, duration: float
) -> Path:
    """``src`` itself if it conforms, else its conformed copy kept in ``cache``.

    A provider's clip rarely comes at the episode's size and rate (a 16:9 480p clip for a
    9:16 episode): conforming it is an encode, done once per clip and frame, not on every
    render of the episode (the key is the clip's content, the frame, the length, the encoder).
    """
    if conforms(src, width=width, height=height, fps=fps, duration=duration):
        return src
    blob = json.dumps([content_digest(src), width, height, fps, round(duration, 6), X264, "tagged"])
    dest = cache / f"{hashlib.sha256(blob.encode()).hexdigest()[:32]}.mp4"
    if not dest.is_file():
        cache.mkdir(parents=True, exist_ok=True)
        normalize_clip(src, dest, width=width, height=height, fps=fps, duration=duration)
    return dest


def concat_list(paths: list[Path], dest: Path) -> Path:
    """Write an ffmpeg concat-demuxer list (absolute paths, quotes escaped)."""
    lines = ["ffconcat version 1.0"]
    for p in paths:
        escaped = str(p.resolve()).replace("'", "'\\''")
        lines.append(f"file '{escaped}'")
    dest.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return dest


def concat_videos(paths: list[Path], dest: Path) -> None:
    """Join conforming clips by stream copy (no re-encode): same codec, size and fps."""
    tmp = _tmp_for(dest)
    listing = concat_list(paths, dest.with_name(f".{dest.stem}.{uuid.uuid4().hex[:8]}.txt"))
    try:
        run_ffmpeg(
            ["-f", "concat", "-safe", "0", "-i", listing, "-c", "copy", tmp],
            what=f"joining {len(paths)} clips into {dest.name}",
        )
        os.replace(tmp, dest)
    finally:
        listing.unlink(missing_ok=True)
        tmp.unlink(missing_ok=True)
