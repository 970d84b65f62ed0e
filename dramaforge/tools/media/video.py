"""Conforming clips to the episode's frame: size, fps, SAR, pixel format, exact length."""

from __future__ import annotations

import os
import shutil
from pathlib import Path

from dramaforge.tools.media.ffmpeg import run_ffmpeg
from dramaforge.tools.media.probe import probe

X264 = ["-c:v", "libx264", "-preset", "veryfast", "-crf", "18", "-pix_fmt", "yuv420p"]


def conforms(src: Path, *, width: int, height: int, fps: int, duration: float) -> bool:
    info = probe(src)
    return (
        info.vcodec == "h264" and info.pix_fmt == "yuv420p" and info.sar in ("1:1", "0:1")
        and (info.width, info.height) == (width, height) and abs(info.fps - fps) < 0.01
        and abs(info.duration - duration) <= 0.5 / fps and not info.has_audio
    )


def normalize_clip(src: Path, dest: Path, *, width: int, height: int, fps: int,
                   duration: float) -> None:
    """Make ``src`` fill the frame (scale to cover, centre crop) at ``fps`` for ``duration``.

    A clip that already conforms is linked, not re-encoded: each frame is encoded once by the
    stage that made it and once more only in the final cut.
    """
    dest.unlink(missing_ok=True)
    if conforms(src, width=width, height=height, fps=fps, duration=duration):
        try:
            os.link(src, dest)
        except OSError:
            shutil.copyfile(src, dest)
        return
    vf = (
        f"scale={width}:{height}:force_original_aspect_ratio=increase,crop={width}:{height},"
        f"setsar=1,fps={fps},tpad=stop_mode=clone:stop_duration={duration:.3f},"
        f"trim=duration={duration:.6f},setpts=PTS-STARTPTS"
    )
    run_ffmpeg(["-i", src, "-vf", vf, "-an", *X264, "-r", str(fps), dest],
               what=f"conforming {src.name} to {width}x{height}@{fps}")


def concat_list(paths: list[Path], dest: Path) -> Path:
    """Write an ffmpeg concat-demuxer list (stream copy of conforming clips)."""
    lines = ["ffconcat version 1.0"]
    for p in paths:
        escaped = str(p.resolve()).replace("'", "'\\''")
        lines.append(f"file '{escaped}'")
    dest.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return dest


def concat_videos(paths: list[Path], dest: Path) -> None:
    listing = concat_list(paths, dest.with_suffix(".txt"))
    run_ffmpeg(["-f", "concat", "-safe", "0", "-i", listing, "-c", "copy", dest],
               what=f"joining {len(paths)} clips")
    listing.unlink(missing_ok=True)
