"""Real faces: dlib's detector and landmarks, whose models ship in face-recognition-models,
on scikit-image's sample photograph and transformations of it, offline."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from dramaforge.media.ffmpeg import run_ffmpeg
from dramaforge.media.mouths import STRIDE, _landmark_model, drawn_faces, mouth_tracks

pytest.importorskip("dlib", reason="the 'faces' extra (make install adds it)")
data = pytest.importorskip("skimage.data", reason="scikit-image (the dev extra)")


def _transformed(rgb: np.ndarray) -> list[np.ndarray]:
    """The photograph mirrored, shrunk, darkened and brightened."""
    from PIL import Image, ImageEnhance

    img = Image.fromarray(rgb)
    return [
        np.asarray(img.transpose(Image.Transpose.FLIP_LEFT_RIGHT)),
        np.asarray(img.resize((384, 384))),
        np.asarray(ImageEnhance.Brightness(img).enhance(0.7)),
        np.asarray(ImageEnhance.Brightness(img).enhance(1.2)),
    ]


def test_the_landmarks_find_a_real_mouth_and_agree_under_transformations() -> None:
    model = _landmark_model()
    assert model is not None
    photo = data.astronaut()
    ((box, opening),) = model(photo)
    assert 0.03 < opening < 0.4  # a smile shows teeth: the lips are apart
    x0, y0, x1, y1 = box
    assert 150 < (x0 + x1) / 2 < 300 and 50 < (y0 + y1) / 2 < 200
    for variant in _transformed(photo):
        model = _landmark_model()
        assert model is not None
        found = model(variant)  # the largest face: a badge may pass for a small one
        _, other = max(found, key=lambda f: (f[0][2] - f[0][0]) * (f[0][3] - f[0][1]))
        assert abs(other - opening) < 0.04


def test_a_photographed_face_is_tracked_through_a_clip(tmp_path: Path) -> None:
    from PIL import Image

    still = tmp_path / "astronaut.png"
    Image.fromarray(data.astronaut()).save(still)
    clip = tmp_path / "still.mp4"
    run_ffmpeg(
        ["-loop", "1", "-i", still, "-t", "0.6", "-r", "25", "-c:v", "libx264",
         "-pix_fmt", "yuv420p", clip],
        what="a still clip",
    )  # fmt: skip
    tracks = mouth_tracks(clip)  # the face, and maybe a badge dlib takes for a small one
    assert all(len(t) == -(-15 // STRIDE) for t in tracks)  # every measured frame
    assert any(float(np.ptp(t)) < 0.03 and t.mean() > 0.03 for t in tracks)  # a still mouth


def test_drawn_faces_are_not_real_faces_to_dlib(tmp_path: Path) -> None:
    """Why drawn faces are measured by their mouth region: dlib finds none of them."""
    from tests.test_talking_animatic import _keyframe

    with __import__("PIL.Image").Image.open(_keyframe(tmp_path, "close_up")) as im:
        rgb = np.asarray(im.convert("RGB"))
    assert drawn_faces(rgb)
    model = _landmark_model()
    assert model is not None and model(rgb) == []


def test_a_clip_with_no_real_face_runs_the_detector_once_in_a_while() -> None:
    """The detector is the costly part (~0.2 s a 540p frame): a clip where it finds nothing
    (a landscape, a fake provider's test pattern) must not run it on every frame, and the
    ~100 MB predictor loads once a process, not once a clip."""
    from dramaforge.media.mouths import _Landmarks

    first, second = _landmark_model(), _landmark_model()
    assert first is not None and second is not None
    assert first.predictor is second.predictor  # loaded once
    runs: list[int] = []

    def counting(rgb: np.ndarray, upsample: int) -> list[object]:
        runs.append(1)
        return list(first.detector(rgb, upsample))

    tracker = _Landmarks(counting, first.predictor)
    empty = np.full((360, 640, 3), 90, np.uint8)
    for _ in range(3 * _Landmarks.REDETECT):
        assert tracker(empty) == []
    assert len(runs) == 3
    ((_, opening),) = tracker(data.astronaut())  # a face appears: found at the next run
    assert len(runs) == 4 and opening > 0.03
