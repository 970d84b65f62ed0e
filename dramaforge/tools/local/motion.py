"""Camera motion over a still keyframe: the offline stand-in for a video model.

Each frame is the keyframe's window for that instant resampled to the output size by OpenCV
(``cv2.warpAffine``, bilinear, the matrix mapping every output pixel centre to its point in
the window): the window is placed at sub-pixel positions, so pans and zooms glide.
``zoompan`` rounds its window to whole pixels and judders visibly even on a 4x upscaled input
(measured: frame-to-frame pan step std 0.28 px for zoompan at 4x against 0.01 px for a
sub-pixel window).

Why OpenCV, not Pillow (the earlier way, ``Image.resize`` with a fractional ``box``): the same
frames of a 1080x1920 zoom cost 4.1 ms (Y, Cb and Cr) against Pillow's 10.3, and were most of
the offline animatic's own CPU. The picture is the same: Y within 51-62 dB PSNR of Pillow's on
the storyboard keyframes for every move. The difference: Pillow filters a window larger than
the frame down, warpAffine interpolates. Here a window is at most ``ZOOM`` (1.25x) the frame,
since the keyframe is scaled to at most that once, so only 1-px detail shows it (a little
moire on 1-px stripes, no loss on the panels). Why not ffmpeg's ``perspective`` filter (before
Pillow): with ``-loop 1`` ffmpeg decoded and scaled the PNG again for every frame and built a
full-size coordinate table per frame (~4x Pillow's cost). Here the keyframe is decoded and
converted once, and each frame is warped straight into the yuv420p frame that x264 encodes
next, in this process (``encode``): no copy, no pipe, nothing whole-clip held in memory.

The clip is an intermediate that the final cut decodes and encodes again, so it is encoded
with x264 ``ultrafast`` at a fixed QP 16: measured on the keyframes' zoom, pan and push, 30%
less x264 CPU than CRF 18 (which spent bits on detail the final cut drops), smaller files
quicker to decode, and after the final cut's encode the same picture (PSNR against the raw
frames 50.8-52.0 dB, CRF 18 51.1-52.4).
"""

from __future__ import annotations

import os
from collections.abc import Callable, Iterator
from pathlib import Path

import av
import numpy as np
from numpy.typing import NDArray
from PIL import Image, UnidentifiedImageError

from dramaforge.errors import MACHINE_ERRNOS, AssemblyError, ProviderError, machine_error
from dramaforge.media.colour import MATRICES, OFFLINE, PRIMARIES, RANGES, TRANSFERS
from dramaforge.schema import CameraMove
from dramaforge.tools.local.faces import Face, Painter, Talk, read_faces
from dramaforge.tools.protocols import Generated, TaskJournal, VideoRequest

# How far each move goes, as the width of the visible window relative to the keyframe.
ZOOM = 1.25  # zoom_in ends on (zoom_out starts from) the middle 1/1.25 of the keyframe
PAN_ZOOM = 1.15  # a pan looks through a window 1/1.15 wide and slides it across
PUSH = 1.04  # "static": a very slow push-in so the shot never looks frozen

# x264 for the intermediate clip: cheap to encode and to decode, and a picture the final cut's
# encode cannot tell apart (see the module docstring). A fixed QP, not a CRF: on these flat,
# smooth frames CRF 18 spends bits on detail below the final cut's own loss. One thread:
# x264's threads cost ~20% more CPU for the same clip. Lossless (``-qp 0``) is High 4:4:4
# Predictive, which browsers (the studio plays takes) and editors do not open.
CLIP_X264 = {"preset": "ultrafast", "qp": "16"}

Plane = NDArray[np.uint8]  # one TV-range Y, Cb or Cr plane, rows by columns
Overlay = Callable[[int, tuple[Plane, Plane, Plane], tuple[float, float, float, float]], None]

# YCbCr from RGB is full range (JPEG); H.264 without range tags means limited (TV) range.
_Y_TV = np.array([16 + round(v * 219 / 255) for v in range(256)], dtype=np.uint8)
_C_TV = np.array([16 + round(v * 224 / 255) for v in range(256)], dtype=np.uint8)


def _even(x: float) -> int:
    return max(2, round(x / 2) * 2)


def window(camera: CameraMove, p: float) -> tuple[float, float, float]:
    """The camera's window at progress ``p`` (0..1), in fractions of the keyframe.

    Returns (fraction of the width and height the window covers, left edge, top edge).
    """
    if camera == "zoom_in":
        frac = ZOOM**-p
    elif camera == "zoom_out":
        frac = ZOOM ** -(1 - p)
    elif camera in ("pan_left", "pan_right"):
        frac = 1 / PAN_ZOOM
    else:
        frac = PUSH**-p
    if camera == "pan_left":  # the view travels left: the window slides from right to left
        left = (1 - frac) * (1 - p)
    elif camera == "pan_right":
        left = (1 - frac) * p
    else:
        left = (1 - frac) / 2
    return frac, left, (1 - frac) / 2


def _planes(keyframe: Path, w: int, h: int) -> tuple[tuple[Plane, Plane, Plane], list[Face]]:
    """The keyframe cropped to the frame's shape as TV-range Y, Cb, Cr planes (chroma at half
    size), at its own resolution up to the deepest zoom, so zooming in never enlarges pixels
    and a huge keyframe is not filtered down again on every frame; and the faces the
    storyboard noted in it, in the Y plane's pixels."""
    import cv2  # here, not at the top: only a camera move needs it (CLI start-up is measured)

    try:
        with Image.open(keyframe) as im:
            rgb = im.convert("RGB")
            faces = read_faces(im)
    except (OSError, UnidentifiedImageError) as err:
        raise ProviderError(f"keyframe {keyframe} cannot be read: {err}") from None
    kw, kh = rgb.size
    k = min(max(min(kw / w, kh / h), 1.0), ZOOM)
    ww, wh = _even(w * k), _even(h * k)
    if (kw, kh) != (ww, wh):  # cover: scale to fill, centre crop (once)
        s = max(ww / kw, wh / kh)
        cw, ch = ww / s, wh / s
        box = ((kw - cw) / 2, (kh - ch) / 2, (kw + cw) / 2, (kh + ch) / 2)
        rgb = rgb.resize((ww, wh), Image.Resampling.BICUBIC, box=box)
        faces = [Face(f.name, (f.x - box[0]) * s, (f.y - box[1]) * s, f.r * s) for f in faces]
    # OpenCV's YCrCb is the full-range (JPEG) conversion, rounded (Pillow's YCbCr truncates,
    # half a level low on average), then mapped to TV range; chroma halved by 2x2 averages.
    # 17 ms a 1296x2304 keyframe against Pillow's 35 (Pillow still decodes the PNG: its
    # errors are the ones a user can act on).
    y, cr, cb = cv2.split(cv2.cvtColor(np.asarray(rgb), cv2.COLOR_RGB2YCrCb))
    half = (ww // 2, wh // 2)
    planes = (
        np.asarray(cv2.LUT(y, _Y_TV), dtype=np.uint8),
        np.asarray(cv2.resize(cv2.LUT(cb, _C_TV), half, interpolation=cv2.INTER_AREA), np.uint8),
        np.asarray(cv2.resize(cv2.LUT(cr, _C_TV), half, interpolation=cv2.INTER_AREA), np.uint8),
    )
    return planes, faces


def frames(
    planes: tuple[Plane, Plane, Plane],
    camera: CameraMove,
    outs: tuple[Plane, Plane, Plane],
    count: int,
    overlay: Overlay | None = None,
) -> Iterator[int]:
    """Warp the move's ``count`` frames one at a time into ``outs`` (the Y, Cb and Cr planes of
    the frame being encoded, any size), yielding each frame's index once it is there.

    The next frame overwrites the same planes, so the consumer encodes each before asking for
    the next: a frame is made where the encoder reads it, with no copy. An output pixel's
    centre maps to the window's matching point in the plane (half-pixel centres on both sides,
    as Pillow's ``resize(box=...)`` places them), so the window moves by fractions of a pixel.
    ``overlay`` then draws on the warped frame (the talking faces), given where the Y plane's
    pixels landed: (x scale, x offset, y scale, y offset).
    """
    import cv2  # here, not at the top: only a camera move needs it (CLI start-up is measured)

    cv2.setNumThreads(1)  # shots run in parallel threads; cv2's own pool only adds overhead
    flags = cv2.INTER_LINEAR | cv2.WARP_INVERSE_MAP  # the matrix maps output to source
    for i in range(count):
        frac, left, top = window(camera, i / max(count - 1, 1))
        for plane, out in zip(planes, outs, strict=True):
            ph, pw = plane.shape
            oh, ow = out.shape
            sx, sy = frac * pw / ow, frac * ph / oh
            m = np.array(
                [[sx, 0.0, left * pw + 0.5 * sx - 0.5], [0.0, sy, top * ph + 0.5 * sy - 0.5]]
            )
            cv2.warpAffine(
                plane, m, (ow, oh), dst=out, flags=flags, borderMode=cv2.BORDER_REPLICATE
            )
        if overlay is not None:
            (ph, pw), (oh, ow) = planes[0].shape, outs[0].shape
            sx, sy = frac * pw / ow, frac * ph / oh
            to_out = (
                1 / sx,
                (0.5 - left * pw - 0.5 * sx) / sx,
                1 / sy,
                (0.5 - top * ph - 0.5 * sy) / sy,
            )
            overlay(i, outs, to_out)
        yield i


def _views(frame: av.VideoFrame) -> tuple[Plane, Plane, Plane]:
    """A yuv420p frame's Y, Cb and Cr planes as arrays over its own buffers (rows padded to
    each plane's line size), so the warp writes straight into what x264 reads."""
    y, cb, cr = (
        np.frombuffer(memoryview(p), np.uint8).reshape(-1, p.line_size) for p in frame.planes
    )
    w, h = frame.width, frame.height
    return y[:h, :w], cb[: h // 2, : w // 2], cr[: h // 2, : w // 2]


def encode(
    planes: tuple[Plane, Plane, Plane],
    camera: CameraMove,
    dest: Path,
    *,
    w: int,
    h: int,
    fps: int,
    count: int,
    what: str,
    overlay: Overlay | None = None,
) -> None:
    """The move encoded by x264 (``CLIP_X264``) in this process, to ``dest`` (an MP4).

    In-process (PyAV's libx264), not raw frames piped to an ffmpeg: no process to start, no
    3 MB a frame copied through a pipe and read back (measured: 25% less CPU for a clip,
    the same frames). x264 is given one frame at a time and PyAV releases the GIL while it
    encodes, so shots on other threads keep warping.
    """
    try:
        with av.open(str(dest), "w", format="mp4", options={"movflags": "+faststart"}) as out:
            stream = out.add_stream("libx264", rate=fps, options=CLIP_X264)
            stream.width, stream.height, stream.pix_fmt = w, h, "yuv420p"
            stream.codec_context.thread_count = 1
            _tag(stream.codec_context)
            frame = av.VideoFrame(w, h, "yuv420p")
            for i in frames(planes, camera, _views(frame), count, overlay):
                frame.pts = i
                out.mux(stream.encode(frame))
            out.mux(stream.encode(None))
    except av.error.FFmpegError as err:
        if isinstance(err, OSError) and err.errno in MACHINE_ERRNOS:
            raise machine_error(err) from None
        raise AssemblyError(f"x264 failed while {what}: {err}") from None


def _tag(codec: av.video.codeccontext.VideoCodecContext) -> None:
    """Say in the clip what its pixels are (``media/colour.py``): BT.601 matrix, TV range."""
    names = {v: k for k, v in MATRICES.items()}, {v: k for k, v in PRIMARIES.items()}
    codec.colorspace = names[0][OFFLINE.matrix]
    codec.color_primaries = names[1][OFFLINE.primaries]
    codec.color_trc = {v: k for k, v in TRANSFERS.items()}[OFFLINE.transfer]
    codec.color_range = {v: k for k, v in RANGES.items()}[OFFLINE.range]


class MotionBackend:
    """VideoBackend: an H.264 clip that moves a virtual camera over the keyframe, its faces
    talking with the on-screen lines (``faces``): it takes the voice and who speaks when."""

    name = "local:motion"
    takes_audio = True
    takes_speakers = True

    def generate(
        self, request: VideoRequest, dest: Path, journal: TaskJournal | None = None
    ) -> Generated:
        keyframe = Path(request.keyframe)
        if not keyframe.is_file():
            raise ProviderError(f"keyframe {keyframe} does not exist; make the keyframe first")
        w, h, fps = request.width, request.height, request.fps
        if w % 2 or h % 2:
            raise ProviderError(f"H.264 yuv420p needs even sizes, got {w}x{h}")
        count = max(1, round(request.duration * fps))
        dest.parent.mkdir(parents=True, exist_ok=True)
        tmp = dest.with_name(f".{dest.name}.{os.getpid()}.tmp")
        planes, faces = _planes(keyframe, w, h)
        audio = Path(request.audio) if request.audio else None
        talk = Talk(faces, request.speaking or [], audio, fps, count) if faces else None
        try:
            encode(
                planes,
                request.camera,
                tmp,
                w=w,
                h=h,
                fps=fps,
                count=count,
                what=f"moving the camera ({request.camera}) over {keyframe.name}",
                overlay=Painter(talk) if talk is not None else None,
            )
            tmp.replace(dest)
        finally:
            tmp.unlink(missing_ok=True)
        return Generated(duration=count / fps, model=f"{self.name}:{request.camera}")
