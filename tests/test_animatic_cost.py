"""The offline animatic's cheap paths, checked on what they write and read.

The camera move is Pillow resizes piped to x264 (not ffmpeg's perspective filter over a PNG
decoded again for every frame), so its smoothness, colours and encoding are checked here on
the decoded clip; the critic reads each clip once for every frame's luma and the sampled
frames' motion.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable
from pathlib import Path
from typing import TypeVar

import av
import numpy as np
import pytest
from PIL import Image

from dramaforge.errors import AssemblyError, MachineError, ProviderError
from dramaforge.media import analysis
from dramaforge.schema import CameraMove
from dramaforge.tools.local.motion import PAN_ZOOM, MotionBackend, encode, window
from dramaforge.tools.protocols import VideoRequest

W, H, FPS = 320, 192, 25
T = TypeVar("T")


def _clip(tmp_path: Path, key: Image.Image, camera: CameraMove, seconds: float = 2.0) -> Path:
    key.save(tmp_path / "key.png")
    dest = tmp_path / f"{camera}.mp4"
    req = VideoRequest(
        prompt="", keyframe=str(tmp_path / "key.png"), width=W, height=H, fps=FPS,
        duration=seconds, camera=camera, seed=1,
    )  # fmt: skip
    MotionBackend().generate(req, dest)
    return dest


def _luma_planes(path: Path) -> list[np.ndarray]:
    with av.open(str(path)) as container:
        stream = container.streams.video[0]
        assert stream.codec_context.name == "h264"
        assert (stream.width, stream.height) == (W, H)
        return [f.to_ndarray(format="gray").astype(np.float64) for f in container.decode(stream)]


def _edge_x(grey: np.ndarray) -> float:
    """Sub-pixel x of the one dark-to-bright edge: centroid of the horizontal gradient."""
    profile = grey[H // 4 : 3 * H // 4].mean(axis=0)
    grad = np.abs(np.diff(profile))
    grad[grad < grad.max() * 0.05] = 0.0
    return float((np.arange(grad.size) * grad).sum() / grad.sum()) + 0.5


def test_a_pan_glides_at_a_constant_sub_pixel_step(tmp_path: Path) -> None:
    # A keyframe 1.2x the frame with one vertical edge: a pan moves it by a fraction of a pixel
    # a frame. Whole-pixel windows (zoompan) measure a step std of ~0.3 px here.
    kw, kh = round(W * 1.2), round(H * 1.2)
    key = Image.new("RGB", (kw, kh), (40, 40, 40))
    key.paste((220, 220, 220), (kw // 2, 0, kw, kh))
    frames = _luma_planes(_clip(tmp_path, key, "pan_right"))
    assert len(frames) == 2 * FPS
    xs = np.array([_edge_x(f) for f in frames])
    steps = np.diff(xs)
    # The window (1/1.15 of the keyframe wide) slides its slack across in count-1 steps.
    window = kw / PAN_ZOOM
    expected = -(kw - window) / (len(frames) - 1) * (W / window)
    assert abs(expected) < 1.0  # sub-pixel: rounding to whole pixels would show
    assert steps.mean() == pytest.approx(expected, rel=0.03)
    assert steps.std() < 0.05, steps


@pytest.mark.parametrize(("camera", "sign"), [("zoom_in", 1), ("zoom_out", -1)])
def test_a_zoom_moves_the_picture_smoothly(tmp_path: Path, camera: CameraMove, sign: int) -> None:
    kw, kh = round(W * 1.2), round(H * 1.2)
    key = Image.new("RGB", (kw, kh), (40, 40, 40))
    key.paste((220, 220, 220), (kw * 3 // 4, 0, kw, kh))  # an edge right of the centre
    xs = np.array([_edge_x(f) for f in _luma_planes(_clip(tmp_path, key, camera))])
    steps = np.diff(xs) * sign
    assert (steps > 0.2).all(), steps  # outwards (inwards) on every frame
    # The step changes slowly (a constant zoom ratio per frame); the perspective filter over
    # a 1.2x keyframe measured 0.61 px here, this 0.12 px (the metric's own noise).
    assert np.abs(np.diff(steps)).max() < 0.25, steps


def test_colours_survive_the_yuv_conversion(tmp_path: Path) -> None:
    # Pillow's YCbCr is full range; the clip is read as TV range: a missed conversion shifts
    # every colour by ~10 levels.
    colours = [(200, 60, 30), (30, 140, 220), (235, 235, 235), (20, 20, 20)]
    kw, kh = round(W * 1.2), round(H * 1.2)
    key = Image.new("RGB", (kw, kh))
    for n, colour in enumerate(colours):
        key.paste(colour, (n * kw // 4, 0, (n + 1) * kw // 4, kh))
    clip = _clip(tmp_path, key, "static", seconds=0.4)
    with av.open(str(clip)) as container:
        rgb = next(container.decode(video=0)).to_ndarray(format="rgb24").astype(int)
    band = W // 4
    for n, colour in enumerate(colours):
        x = n * band + band // 2
        got = rgb[H // 3 : 2 * H // 3, x - 8 : x + 8].reshape(-1, 3).mean(axis=0)
        assert np.abs(got - np.array(colour)).max() < 6, (colour, got)


def test_the_critic_decodes_a_clip_once_for_lumas_and_stats(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    kw, kh = round(W * 1.2), round(H * 1.2)
    key = Image.linear_gradient("L").resize((kw, kh)).convert("RGB")
    clip = _clip(tmp_path, key, "zoom_out")
    calls: Counter[str] = Counter()

    def counting(fn: Callable[..., T]) -> Callable[..., T]:
        def wrapper(*args: object) -> T:
            calls[fn.__name__] += 1
            return fn(*args)

        return wrapper

    monkeypatch.setattr(analysis, "_decode_scan", counting(analysis._decode_scan))
    monkeypatch.setattr(analysis, "_small_grey", counting(analysis._small_grey))
    stats = analysis.video_stats(clip)
    lumas = analysis.frame_lumas(clip)
    assert calls["_decode_scan"] == 1  # one decode serves both
    assert calls["_small_grey"] == 8  # only the sampled frames are converted
    assert len(lumas) == 2 * FPS and len(stats.lumas) == 8
    # Every frame's luma read from the Y plane is what a grey conversion of the frame gives.
    grey = [f.mean() for f in _luma_planes(clip)]
    assert max(abs(a - b) for a, b in zip(lumas, grey, strict=True)) < 1.0
    assert stats.motion > 0.05  # the move is seen between the sampled frames


def test_an_unreadable_keyframe_is_a_provider_error_and_leaves_nothing(tmp_path: Path) -> None:
    (tmp_path / "key.png").write_bytes(b"not a png")
    req = VideoRequest(
        prompt="", keyframe=str(tmp_path / "key.png"), width=W, height=H, fps=FPS,
        duration=1.0, camera="zoom_in", seed=1,
    )  # fmt: skip
    with pytest.raises(ProviderError, match="cannot be read"):
        MotionBackend().generate(req, tmp_path / "clip.mp4")
    assert sorted(p.name for p in tmp_path.iterdir()) == ["key.png"]


@pytest.mark.parametrize("camera", ["pan_left", "pan_right", "zoom_in", "zoom_out", "static"])
def test_every_frame_shows_the_analytic_window(tmp_path: Path, camera: CameraMove) -> None:
    # Each decoded frame's luma across a sharp edge is the keyframe's row sampled where the
    # camera's window puts each pixel centre (linear between keyframe pixels), to the clip's
    # coding noise (up to ~4 of the 155-level step): a window off by 0.1 px would be ~15
    # levels off at the edge, half a pixel (a corner instead of a centre convention) ~75, a
    # frame left behind more.
    kw, kh = round(W * 1.2), round(H * 1.2)
    edge = kw * 5 // 8  # inside every window of every move
    key = Image.new("RGB", (kw, kh), (40, 40, 40))
    key.paste((220, 220, 220), (edge, 0, kw, kh))
    row = np.where(np.arange(kw) < edge, 16 + 40 * 219 / 255, 16 + 220 * 219 / 255)
    with av.open(str(_clip(tmp_path, key, camera))) as container:
        lumas = [f.to_ndarray()[:H].astype(np.float64) for f in container.decode(video=0)]
    assert len(lumas) == 2 * FPS
    worst = []
    for i, luma in enumerate(lumas):
        frac, left, _ = window(camera, i / (len(lumas) - 1))
        scale = frac * kw / W  # keyframe pixels per output pixel
        centres = left * kw + (np.arange(W) + 0.5) * scale - 0.5  # in keyframe pixel indices
        expected = np.interp(centres, np.arange(kw), row)
        got = luma[H // 4 : 3 * H // 4].mean(axis=0)
        worst.append(np.abs(got - expected).max())
    assert max(worst) < 8.0, np.round(worst, 2)


@pytest.mark.skipif(not Path("/dev/full").exists(), reason="needs Linux's /dev/full")
def test_a_full_disk_while_encoding_is_a_machine_error(tmp_path: Path) -> None:
    # The clip is encoded in this process (PyAV), so the encoder's write errors are ours to
    # sort: a full disk is the machine's (exit 3, one line), anything else the clip's.
    grey = np.full((H // 2, W // 2), 128, np.uint8)
    planes = (np.full((H, W), 90, np.uint8), grey, grey)

    def clip(dest: Path) -> None:
        encode(planes, "static", dest, w=W, h=H, fps=FPS, count=5, what="testing")

    with pytest.raises(MachineError, match="No space left on device"):
        clip(Path("/dev/full"))
    with pytest.raises(AssemblyError, match="x264 failed while testing"):
        clip(tmp_path / "missing" / "clip.mp4")
