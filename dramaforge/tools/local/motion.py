"""Camera motion over a still keyframe: the offline stand-in for a video model.

Each frame is the keyframe's window for that instant resampled to the output size by Pillow
(``Image.resize`` with a fractional ``box``): the window is placed at sub-pixel positions, so
pans and zooms glide, and a window larger than the frame is filtered down, not point-sampled.
``zoompan`` rounds its window to whole pixels and judders visibly even on a 4x upscaled input
(measured: frame-to-frame pan step std 0.28 px for zoompan at 4x against 0.01 px for a
sub-pixel window).

Why not ffmpeg's ``perspective`` filter (the earlier way): with ``-loop 1`` ffmpeg decoded
and scaled the PNG again for every frame, and the filter builds a full-size coordinate table
per frame; the clip cost ~4x what it does now (measured on the same edge: step std 0.07 px
for a pan against 0.009 px here). Here the keyframe is decoded and converted once, each
frame costs separable resizes of its Y, Cb and Cr planes, and the planes go to x264 as raw
yuv420p through a pipe (nothing held in memory).

The clip is an intermediate that the final cut decodes and encodes again, so it is encoded
with x264 ``ultrafast`` at a lower CRF than the final cut's: under half of ``veryfast``'s CPU
with a better picture (PSNR against the raw frames 59.6 dB, ``veryfast`` CRF 20 48.6 dB),
and quicker to decode.
"""

from __future__ import annotations

import contextlib
import os
import subprocess
import tempfile
from collections.abc import Iterator
from pathlib import Path

from PIL import Image, UnidentifiedImageError

from dramaforge.errors import AssemblyError, MachineError, ProviderError
from dramaforge.schema import CameraMove
from dramaforge.tools.base import Generated, TaskJournal, VideoRequest
from dramaforge.tools.media.ffmpeg import ffmpeg_exe

# How far each move goes, as the width of the visible window relative to the keyframe.
ZOOM = 1.25  # zoom_in ends on (zoom_out starts from) the middle 1/1.25 of the keyframe
PAN_ZOOM = 1.15  # a pan looks through a window 1/1.15 wide and slides it across
PUSH = 1.04  # "static": a very slow push-in so the shot never looks frozen

# x264 for the intermediate clip: cheap to encode and to decode; CRF below the final cut's 20
# so the second generation loses nothing visible. One thread: the Pillow side is the slower
# half, and x264's threads cost ~20% more CPU for the same clip.
CLIP_X264 = [
    "-c:v", "libx264", "-preset", "ultrafast", "-crf", "18", "-pix_fmt", "yuv420p",
    "-threads", "1",
]  # fmt: skip

BILINEAR = Image.Resampling.BILINEAR  # filtered (antialiased) when the window is larger

# Pillow's YCbCr is full range (JPEG); H.264 without range tags means limited (TV) range.
_Y_TV = [16 + round(v * 219 / 255) for v in range(256)]
_C_TV = [16 + round(v * 224 / 255) for v in range(256)]


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


def _planes(keyframe: Path, w: int, h: int) -> tuple[Image.Image, Image.Image, Image.Image]:
    """The keyframe cropped to the frame's shape as TV-range Y, Cb, Cr planes (chroma at half
    size), at its own resolution up to the deepest zoom, so zooming in never enlarges pixels
    and a huge keyframe is not filtered down again on every frame."""
    try:
        with Image.open(keyframe) as im:
            rgb = im.convert("RGB")
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
    y, cb, cr = rgb.convert("YCbCr").split()
    half = (ww // 2, wh // 2)
    return (
        y.point(_Y_TV),
        cb.point(_C_TV).resize(half, BILINEAR),
        cr.point(_C_TV).resize(half, BILINEAR),
    )


def frames(
    planes: tuple[Image.Image, Image.Image, Image.Image],
    camera: CameraMove,
    w: int,
    h: int,
    count: int,
) -> Iterator[bytes]:
    """The move as raw yuv420p (``w`` x ``h``, ``count`` frames), one plane at a time.

    A pan's window keeps its height and top, so each plane is resampled vertically once and
    every frame needs only the horizontal pass (Pillow skips a pass whose box spans the whole
    axis at its own size): about half the cost of a zoom's frame.
    """
    layers = list(planes)
    sizes = [(w, h), (w // 2, h // 2), (w // 2, h // 2)]
    ww = layers[0].width
    rows_fixed = camera in ("pan_left", "pan_right")
    if rows_fixed:
        frac, _, top = window(camera, 0.0)
        layers = [
            p.resize(
                (p.width, size[1]),
                BILINEAR,
                box=(0, top * p.height, p.width, (top + frac) * p.height),
            )
            for p, size in zip(layers, sizes, strict=True)
        ]
    for i in range(count):
        frac, left, top = window(camera, i / max(count - 1, 1))
        for plane, size in zip(layers, sizes, strict=True):
            r = plane.width / ww  # 1 for Y, 1/2 for chroma
            x0, x1 = left * ww * r, (left + frac) * ww * r
            if rows_fixed:
                y0, y1 = 0.0, float(size[1])
            else:
                y0, y1 = top * plane.height, (top + frac) * plane.height
            yield plane.resize(size, BILINEAR, box=(x0, y0, x1, y1)).tobytes()


def encode(raw: Iterator[bytes], dest: Path, *, w: int, h: int, fps: int, what: str) -> None:
    """Pipe raw yuv420p (any chunking) into x264 (``CLIP_X264``), writing ``dest`` (an MP4).

    ffmpeg's log goes to a temporary file, not a pipe nobody reads while frames are written.
    """
    cmd = [
        ffmpeg_exe(), "-hide_banner", "-y", "-f", "rawvideo", "-pix_fmt", "yuv420p",
        "-s", f"{w}x{h}", "-framerate", str(fps), "-i", "pipe:0", "-an", *CLIP_X264,
        "-movflags", "+faststart", "-f", "mp4", str(dest),
    ]  # fmt: skip
    with tempfile.TemporaryFile() as log:
        try:
            proc = subprocess.Popen(cmd, stdin=subprocess.PIPE, stdout=log, stderr=log)
        except OSError as err:
            raise MachineError(f"cannot run ffmpeg at {cmd[0]}: {err.strerror}") from None
        assert proc.stdin is not None
        try:
            for frame in raw:
                proc.stdin.write(frame)
        except BrokenPipeError:
            pass  # ffmpeg stopped early: its exit status and log say why
        finally:  # also when making a frame failed: ffmpeg must see the end of its input
            with contextlib.suppress(BrokenPipeError):
                proc.stdin.close()
            code = proc.wait()
        if code != 0:
            log.seek(0)
            tail = log.read().decode("utf-8", "replace").strip().splitlines()[-12:]
            raise AssemblyError(f"ffmpeg failed while {what}:\n" + "\n".join(tail))


class MotionBackend:
    """VideoBackend: an H.264 clip that moves a virtual camera over the keyframe."""

    name = "local:motion"

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
        try:
            encode(
                frames(_planes(keyframe, w, h), request.camera, w, h, count),
                tmp,
                w=w,
                h=h,
                fps=fps,
                what=f"moving the camera ({request.camera}) over {keyframe.name}",
            )
            tmp.replace(dest)
        finally:
            tmp.unlink(missing_ok=True)
        return Generated(duration=count / fps, model=f"{self.name}:{request.camera}")
