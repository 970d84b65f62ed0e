"""Mouth opening per frame, measured in the pixels, and how closely it follows a voice.

The lip-sync check: a speaker's mouth should be open while their voice is loud and shut
while it is quiet, so the per-frame opening of the speaker's mouth is correlated (Pearson)
with the voice's loudness envelope (RMS per frame over that speaker's lines, zero outside
them). A face is matched to a speaker by its best correlation: the check needs no names.

Faces are found in two ways. Drawn faces (the offline storyboard's: flat skin-coloured heads)
are found by their colour, and the opening is the dark share of the mouth region of the face;
no shipped face-landmark model finds them (checked: dlib's HOG detector finds no face in the
storyboard's heads), so for them the mouth region is measured directly. Real faces (a video
model's) are found by dlib's HOG detector and measured by its 68-point landmarks
(``face-recognition-models`` ships the predictor), when those packages are installed: the
inner lips' gap over the mouth's width.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import av
import numpy as np
from numpy.typing import NDArray

from dramaforge.errors import AssemblyError
from dramaforge.media.analysis import read_audio

SKIN = (238, 204, 176)
SKIN_TOLERANCE = 26  # per channel, after x264
MEASURE_SIDE = 540  # frames are measured with their short side scaled down to this
MIN_FACE = 10  # pixels wide, at the measured size

Box = tuple[int, int, int, int]  # x0, y0, x1, y1
Floats = NDArray[np.float64]


def frame_loudness(audio: Path, fps: int, count: int) -> Floats:
    """RMS of ``audio`` (mixed to mono) over each of ``count`` frames' spans."""
    samples, rate = read_audio(audio)
    mono = samples.mean(axis=0) if samples.size else np.zeros(0)
    step = rate / fps
    out = np.zeros(count)
    for i in range(count):
        chunk = mono[int(i * step) : int((i + 1) * step)]
        if chunk.size:
            out[i] = float(np.sqrt(np.mean(np.square(chunk, dtype=np.float64))))
    return out


def drawn_faces(rgb: NDArray[np.uint8]) -> list[Box]:
    """Flat skin-coloured heads: blobs of skin colour about 1.5 times as wide as tall (the
    hair covers the top), mostly filled."""
    import cv2  # here, not at the top: only the sync check needs it

    low = np.array([max(0, c - SKIN_TOLERANCE) for c in SKIN], dtype=np.uint8)
    high = np.array([min(255, c + SKIN_TOLERANCE) for c in SKIN], dtype=np.uint8)
    mask = cv2.inRange(rgb, low, high)
    count, _, stats, _ = cv2.connectedComponentsWithStats(mask, connectivity=8)
    boxes = []
    for x, y, w, h, area in stats[1:count]:
        if w >= MIN_FACE and 1.1 <= w / h <= 2.0 and area >= max(0.5 * w * h, MIN_FACE**2 / 2):
            boxes.append((int(x), int(y), int(x + w), int(y + h)))
    return boxes


def drawn_opening(rgb: NDArray[np.uint8], box: Box) -> float:
    """The dark share of a drawn face's mouth region (an open mouth is a dark ellipse)."""
    x0, y0, x1, y1 = box
    w, h = x1 - x0, y1 - y0
    face = rgb[y0:y1, x0:x1].astype(np.float32)
    luma = face @ np.array([0.299, 0.587, 0.114], dtype=np.float32)
    region = luma[int(0.42 * h) : int(0.88 * h), int(0.28 * w) : int(0.72 * w)]
    if region.size == 0:
        return 0.0
    return float(np.mean(region < 0.55 * float(np.median(luma))))


@dataclass
class MouthTrack:
    """One face followed through a clip: where it was last, and its mouth in each frame."""

    centre: tuple[float, float]
    width: float
    openings: list[float] = field(default_factory=list)


def _frames(clip: Path) -> Iterator[NDArray[np.uint8]]:
    try:
        with av.open(str(clip)) as container:
            stream = container.streams.video[0]
            stream.thread_type = "AUTO"
            for frame in container.decode(stream):
                k = min(1.0, MEASURE_SIDE / min(frame.width, frame.height))
                w, h = round(frame.width * k / 2) * 2, round(frame.height * k / 2) * 2
                yield np.asarray(frame.reformat(w, h, "rgb24").to_ndarray(), dtype=np.uint8)
    except (av.error.FFmpegError, IndexError) as err:
        raise AssemblyError(f"{clip}: cannot decode video ({err})") from err


def mouth_tracks(clip: Path) -> list[Floats]:
    """Per face seen in most frames, its mouth opening in every frame of ``clip``."""
    tracks: list[MouthTrack] = []
    landmarks = None
    count = 0
    for i, rgb in enumerate(_frames(clip)):
        count = i + 1
        found = [(b, drawn_opening(rgb, b)) for b in drawn_faces(rgb)]
        if not found:
            landmarks = landmarks or _landmark_model()
            found = landmarks(rgb) if landmarks is not None else []
        for box, opening in found:
            cx, cy = (box[0] + box[2]) / 2, (box[1] + box[3]) / 2
            width = box[2] - box[0]
            near = [
                t
                for t in tracks
                if len(t.openings) == i
                and abs(t.centre[0] - cx) + abs(t.centre[1] - cy) < max(t.width, width) * 0.8
            ]
            track = min(near, key=lambda t: abs(t.centre[0] - cx), default=None)
            if track is None:
                track = MouthTrack((cx, cy), width, [np.nan] * i)
                tracks.append(track)
            track.centre, track.width = (cx, cy), width
            track.openings.append(opening)
        for t in tracks:
            if len(t.openings) == i:
                t.openings.append(np.nan)
    series = []
    for t in tracks:
        values = np.array(t.openings, dtype=np.float64)
        seen = ~np.isnan(values)
        if count and seen.sum() >= 0.5 * count:
            series.append(np.where(seen, values, np.nanmedian(values)))
    return series


def correlation(a: Floats, b: Floats) -> float | None:
    """Pearson's r, or None where either does not vary."""
    if len(a) != len(b) or len(a) < 3 or np.std(a) < 1e-9 or np.std(b) < 1e-9:
        return None
    return float(np.corrcoef(a, b)[0, 1])


def speaker_sync(
    clip: Path, voice: Path, fps: int, lines: dict[str, list[tuple[float, float]]]
) -> dict[str, float]:
    """Per speaker (their lines' spans in seconds), the best correlation of any face's mouth
    with their voice's loudness envelope; 0 where no face's mouth follows it at all. Empty
    when no face is found in the clip: nothing was measured."""
    mouths = mouth_tracks(clip)
    count = len(mouths[0]) if mouths else 0
    if count == 0:
        return {}
    level = frame_loudness(voice, fps, count)
    times = np.arange(count) / fps
    scores = {}
    for speaker, spans in lines.items():
        mask = np.zeros(count, dtype=bool)
        for start, end in spans:
            mask |= (times >= start) & (times < end)
        envelope = np.where(mask, level, 0.0)
        found = [correlation(m, envelope) for m in mouths]
        scores[speaker] = max((r for r in found if r is not None), default=0.0)
    return scores


def _landmark_model() -> _Landmarks | None:
    """dlib's HOG face detector and 68-point predictor, if installed (None otherwise)."""
    try:
        import dlib  # type: ignore[import-untyped, import-not-found, unused-ignore]
        import face_recognition_models  # type: ignore[import-untyped, import-not-found, unused-ignore]
    except ImportError:
        return None
    return _Landmarks(dlib, face_recognition_models.pose_predictor_model_location())


class _Landmarks:
    """Real faces: dlib's detector, and the inner lips' gap over the mouth's width."""

    def __init__(self, dlib: object, predictor: str) -> None:
        self.detector = dlib.get_frontal_face_detector()  # type: ignore[attr-defined]
        self.predictor = dlib.shape_predictor(predictor)  # type: ignore[attr-defined]

    def __call__(self, rgb: NDArray[np.uint8]) -> list[tuple[Box, float]]:
        found = []
        for rect in self.detector(rgb, 0):
            shape = self.predictor(rgb, rect)
            pts = np.array([(shape.part(k).x, shape.part(k).y) for k in range(68)], np.float64)
            gap = np.mean(np.abs(pts[[61, 62, 63], 1] - pts[[67, 66, 65], 1]))
            width = max(float(np.linalg.norm(pts[54] - pts[48])), 1.0)
            box = (rect.left(), rect.top(), rect.right(), rect.bottom())
            found.append((box, float(gap / width)))
        return found
