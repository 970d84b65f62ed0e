"""Frames a model made at its own size, rate and length, fitted to a shot's frame and length.

A model draws at the size and frame count it was trained at (Wan 2.1: 832x480, 81 frames at
16 fps); the shot wants, say, 720x1280 at 25 fps for 3.2 s. Each frame is scaled to cover the
shot's frame and centre-cropped, never stretched; time is resampled by picking the source
frame at each output instant, at the model's own speed while its frames last and slowed
evenly to fill a shot longer than the clip it can make. The result is encoded once, in this
process, as the clip the graph stores.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from pathlib import Path

import av
import cv2
import numpy as np
from numpy.typing import NDArray

from dramaforge.errors import MACHINE_ERRNOS, AssemblyError, machine_error

RGB = NDArray[np.uint8]
"""One frame, rows x columns x 3, 8-bit RGB."""

CLIP_X264 = {"preset": "veryfast", "crf": "16"}


def to_rgb8(frame: NDArray[np.floating] | RGB) -> RGB:
    """A float frame in [0, 1] (diffusers' ``output_type="np"``) or a uint8 one, as uint8."""
    if frame.dtype == np.uint8:
        return np.ascontiguousarray(frame[..., :3])
    return np.ascontiguousarray((np.clip(frame[..., :3], 0.0, 1.0) * 255 + 0.5).astype(np.uint8))


def cover(frame: RGB, width: int, height: int) -> RGB:
    """``frame`` scaled (aspect kept) to cover ``width`` x ``height``, centre-cropped to it."""
    h, w = frame.shape[:2]
    scale = max(width / w, height / h)
    sw, sh = max(width, math.ceil(w * scale)), max(height, math.ceil(h * scale))
    shrinking = sw * sh < w * h
    scaled = cv2.resize(
        frame, (sw, sh), interpolation=cv2.INTER_AREA if shrinking else cv2.INTER_CUBIC
    )
    left, top = (sw - width) // 2, (sh - height) // 2
    return np.ascontiguousarray(scaled[top : top + height, left : left + width])


def retime(count: int, source_fps: float, fps: int, duration: float) -> list[int]:
    """Which of ``count`` source frames shows at each of the shot's frames.

    At the source's own speed when its ``count / source_fps`` seconds cover the shot (the
    tail is cut), else slowed evenly so the clip spans the whole shot.
    """
    n = max(1, round(duration * fps))
    if count / source_fps >= duration:
        return [min(count - 1, math.floor(i * source_fps / fps)) for i in range(n)]
    return [min(count - 1, math.floor(i * count / n)) for i in range(n)]


def write_fitted(
    frames: Sequence[NDArray[np.floating] | RGB],
    dest: Path,
    *,
    source_fps: float,
    width: int,
    height: int,
    fps: int,
    duration: float,
) -> int:
    """Encode ``frames`` fitted to the shot as an H.264 MP4 at ``dest``; returns the count.

    Each source frame is fitted once, however many output frames show it.
    """
    order = retime(len(frames), source_fps, fps, duration)
    fitted: dict[int, av.VideoFrame] = {}
    try:
        with av.open(str(dest), "w", format="mp4", options={"movflags": "+faststart"}) as out:
            stream = out.add_stream("libx264", rate=fps, options=CLIP_X264)
            stream.width, stream.height, stream.pix_fmt = width, height, "yuv420p"
            for pts, index in enumerate(order):
                if index not in fitted:
                    fitted.clear()  # order only moves forward: one source frame at a time
                    rgb = cover(to_rgb8(np.asarray(frames[index])), width, height)
                    fitted[index] = av.VideoFrame.from_ndarray(rgb, format="rgb24").reformat(
                        format="yuv420p"
                    )
                frame = fitted[index]
                frame.pts = pts
                out.mux(stream.encode(frame))
            out.mux(stream.encode(None))
    except av.error.FFmpegError as err:
        if isinstance(err, OSError) and err.errno in MACHINE_ERRNOS:
            raise machine_error(err) from None
        raise AssemblyError(f"x264 failed while writing {dest.name}: {err}") from None
    return len(order)
