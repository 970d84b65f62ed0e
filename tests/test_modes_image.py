"""Image to video with sound: every shot starts from the photo, with voice and music."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from PIL import Image, ImageDraw

from dramaforge.errors import ScriptError
from dramaforge.media.analysis import frame_at, read_audio
from dramaforge.media.probe import probe
from dramaforge.media.subtitles import read_srt
from dramaforge.modes.image import reframe, render_image, subject_centre
from tests.helpers import settings_for


def test_photo(path: Path) -> Path:
    """A product shot: a soft backdrop and a red bottle with a blue label, right of centre."""
    image = Image.new("RGB", (960, 640))
    px = np.zeros((640, 960, 3), dtype=np.uint8)
    px[..., 0] = np.linspace(230, 170, 960, dtype=np.uint8)[None, :]
    px[..., 1] = np.linspace(220, 190, 640, dtype=np.uint8)[:, None]
    px[..., 2] = 200
    image = Image.fromarray(px)
    draw = ImageDraw.Draw(image)
    draw.rounded_rectangle((580, 120, 720, 560), radius=40, fill=(200, 30, 40))
    draw.rectangle((580, 300, 720, 380), fill=(30, 60, 200))
    draw.ellipse((610, 70, 690, 140), fill=(40, 40, 40))
    image.save(path)
    return path


test_photo.__test__ = False  # type: ignore[attr-defined]


def _small(a: np.ndarray) -> np.ndarray:
    grey = Image.fromarray(a.astype(np.uint8)).convert("L").resize((12, 16))
    v = np.asarray(grey, dtype=np.float64).ravel()
    return (v - v.mean()) / (v.std() + 1e-9)


def _likeness(frame: np.ndarray, photo: Image.Image) -> float:
    """Best correlation of the frame's top (above the subtitles) with the photo framed as any
    shot frames it."""
    h, w = frame.shape[:2]
    top = frame[: int(h * 0.7)]
    best = -1.0
    for zoom in (1.0, 0.8, 0.62, 0.55):
        view = np.asarray(reframe(photo, w, h, zoom))[: int(h * 0.7)]
        best = max(best, float(np.mean(_small(top) * _small(view))))
    return best


def test_reframe_keeps_the_subject_in_frame_without_stretching(tmp_path: Path) -> None:
    photo = Image.open(test_photo(tmp_path / "p.png")).convert("RGB")
    cx, cy = subject_centre(photo)
    assert 0.62 < cx < 0.76 and 0.3 < cy < 0.7  # the bottle, right of centre
    tall = np.asarray(reframe(photo, 180, 320))
    assert tall.shape == (320, 180, 3)
    red = (tall[..., 0] > 150) & (tall[..., 1] < 80)
    _, xs = np.nonzero(red)
    # The bottle is in the middle of a portrait crop, not cut off at the edge.
    assert 0.25 < xs.mean() / 180 < 0.75 and red.mean() > 0.1


@pytest.mark.slow
def test_image_video_frames_resemble_the_photo_and_it_has_sound(tmp_path: Path) -> None:
    photo_path = test_photo(tmp_path / "bottle.png")
    script, manifest = render_image(
        photo_path,
        "Meet Fizz, the bottle that keeps it cold. Made for long days.",
        tmp_path / "out",
        settings_for(max_takes=1),
        duration=10,
    )
    assert script == tmp_path / "out" / "bottle" / "script.txt" and script.is_file()
    path = Path(manifest.episode.path)
    info = probe(path)
    assert (info.width, info.height) == (360, 640) and info.has_audio
    assert abs(info.duration - 10) <= 0.5
    photo = Image.open(photo_path).convert("RGB")
    other = photo.transpose(Image.Transpose.ROTATE_90)  # same colours, other composition
    for t in np.linspace(0.3, info.duration - 0.3, 6):
        frame = frame_at(path, float(t))
        assert _likeness(frame, photo) > 0.7, t
        assert _likeness(frame, photo) > _likeness(frame, other) + 0.4, t
    cues = read_srt(Path(manifest.episode.srt))
    assert [" ".join(c.text.split()) for c in cues] == [
        "Meet Fizz, the bottle that keeps it cold.", "Made for long days.",
    ]  # fmt: skip
    kinds = {a.stage for a in manifest.score}
    assert {"music", "sfx"} <= kinds
    samples, _ = read_audio(path)
    assert float(np.abs(samples).mean()) > 1e-3


def test_image_mode_refuses_bad_input(tmp_path: Path) -> None:
    settings = settings_for()
    not_image = tmp_path / "x.png"
    not_image.write_text("hello")
    with pytest.raises(ScriptError, match="not an image"):
        render_image(not_image, "Hi.", tmp_path, settings)
    photo = test_photo(tmp_path / "p.png")
    with pytest.raises(ScriptError, match="10 to 30"):
        render_image(photo, "Hi.", tmp_path, settings, duration=45)
