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
from typing import Any

import av
import numpy as np
from numpy.typing import NDArray

from dramaforge.errors import AssemblyError
from dramaforge.media.analysis import read_audio
from dramaforge.media.face_models import DLIB_LOCK, model_file

SKIN = (238, 204, 176)  # the storyboard's (tools/local/faces.py: media cannot import it)
SKIN_SPREAD = (20, 8, 8)  # Y, Cb, Cr: how far a drawn face's skin strays after x264
MEASURE_SIDE = 540  # frames are measured with their short side at most about this
MIN_FACE = 5  # pixels wide, at chroma size (about 10 in the frame's measured luma)
STRIDE = 2  # every other frame: 12.5 mouth shapes a second still follow syllables
REFIND = 4  # measured frames between two searches for drawn faces

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


def tv_ycc(rgb: NDArray[np.uint8]) -> NDArray[np.uint8]:
    """RGB as TV-range Y, Cb, Cr (what an H.264 frame holds), for measuring pictures."""
    f = rgb.astype(np.float32)
    y = f @ np.array([0.299, 0.587, 0.114], np.float32)
    cb = 128 + (f[..., 2] - y) * 0.564
    cr = 128 + (f[..., 0] - y) * 0.713
    out = np.stack([16 + y * 219 / 255, 16 + cb * 224 / 255, 16 + cr * 224 / 255], axis=-1)
    return np.asarray(np.clip(np.rint(out), 0, 255), dtype=np.uint8)


def _skin() -> tuple[NDArray[np.uint8], NDArray[np.uint8]]:
    centre = tv_ycc(np.array([[SKIN]], dtype=np.uint8))[0, 0].astype(int)
    spread = np.array(SKIN_SPREAD)
    return (
        np.asarray(np.clip(centre - spread, 0, 255), np.uint8),
        np.asarray(np.clip(centre + spread, 0, 255), np.uint8),
    )


def drawn_faces(rgb: NDArray[np.uint8]) -> list[Box]:
    """Drawn heads in an RGB picture (see ``faces_in``): a picture is exact, so its skin is
    found in RGB, and brightness is computed only where a head may be."""
    import cv2  # here, not at the top: only the face checks need it

    low = np.array([max(0, c - 26) for c in SKIN], dtype=np.uint8)
    high = np.array([min(255, c + 26) for c in SKIN], dtype=np.uint8)
    mask = cv2.inRange(rgb, low, high)
    count, _, stats, _ = cv2.connectedComponentsWithStats(mask, connectivity=8)
    boxes = []
    for x, y, w, h, area in stats[1:count]:
        box = (int(x), int(y), int(x + w), int(y + h))
        if w >= 2 * MIN_FACE and _head_shaped(int(w), int(h), int(area)):
            luma = np.zeros(rgb.shape[:2], np.uint8)
            luma[y : y + h, x : x + w] = tv_ycc(rgb[y : y + h, x : x + w])[..., 0]
            if _has_eyes(luma, box):
                boxes.append(box)
    return boxes


def _head_shaped(w: int, h: int, area: int) -> bool:
    """About 1.5 times as wide as tall (the hair covers the top), mostly filled."""
    return 1.1 <= w / h <= 2.0 and area >= max(0.5 * w * h, MIN_FACE**2 / 2)


def faces_in(ycc: NDArray[np.uint8], luma: NDArray[np.uint8]) -> list[Box]:
    """Flat skin-coloured heads: blobs of skin colour about 1.5 times as wide as tall (the
    hair covers the top), mostly filled, with eyes. Found in ``ycc`` (Y, Cb, Cr at some
    size), given as boxes in ``luma``'s pixels (the same picture's Y at 1 or 2 times that)."""
    import cv2  # here, not at the top: only the sync check needs it

    low, high = _skin()
    mask = cv2.inRange(ycc, low, high)
    count, _, stats, _ = cv2.connectedComponentsWithStats(mask, connectivity=8)
    k = luma.shape[0] // ycc.shape[0]
    boxes = []
    for x, y, w, h, area in stats[1:count]:
        box = (int(x) * k, int(y) * k, int(x + w) * k, int(y + h) * k)
        shaped = _head_shaped(int(w), int(h), int(area))
        if w >= MIN_FACE and shaped and _has_eyes(luma, box):  # a skin-coloured wall has none
            boxes.append(box)
    return boxes


def _dark(luma: NDArray[np.uint8], box: Box, rows: tuple[float, float]) -> NDArray[np.bool_]:
    """Pixels of a face's band of ``rows`` (fractions of its height, middle 60% of its width)
    darker than half the face's typical brightness."""
    x0, y0, x1, y1 = box
    w, h = x1 - x0, y1 - y0
    face = luma[y0:y1, x0:x1]
    band = face[int(rows[0] * h) : int(rows[1] * h), int(0.2 * w) : int(0.8 * w)]
    return np.asarray(band < 0.55 * float(np.median(face)))


def _has_eyes(luma: NDArray[np.uint8], box: Box) -> bool:
    """Dark marks in the band where a drawn face's eyes are (open or shut)."""
    return int(_dark(luma, box, (0.15, 0.5)).sum()) >= 2


def drawn_opening(luma: NDArray[np.uint8], box: Box) -> float:
    """The dark share of a drawn face's mouth region (an open mouth is a dark ellipse)."""
    region = _dark(luma, box, (0.42, 0.88))
    return float(region.mean()) if region.size else 0.0


@dataclass
class MouthTrack:
    """One face followed through a clip: where it was last, and its mouth in each frame."""

    centre: tuple[float, float]
    width: float
    openings: list[float] = field(default_factory=list)
    box: Box = (0, 0, 0, 0)


@dataclass
class Frame:
    """A decoded frame for measuring: Y, Cb, Cr at chroma size (``ycc``), Y at twice that
    (``luma``), and the frame as RGB at ``luma``'s size only if asked (real faces)."""

    ycc: NDArray[np.uint8]
    luma: NDArray[np.uint8]
    source: av.VideoFrame

    def rgb(self) -> NDArray[np.uint8]:
        h, w = self.luma.shape
        return np.asarray(self.source.reformat(w, h, "rgb24").to_ndarray(), dtype=np.uint8)


def _frames(clip: Path) -> Iterator[Frame | None]:
    """Every ``STRIDE``-th frame of ``clip`` for measuring, None for the others (decoded, not
    converted). Planes are read in place, subsampled so the chroma's short side is at most
    about ``MEASURE_SIDE / 2``: no colour conversion, no scaling filter."""
    try:
        with av.open(str(clip)) as container:
            stream = container.streams.video[0]
            stream.thread_type = "AUTO"
            for i, frame in enumerate(container.decode(stream)):
                if i % STRIDE or frame.format.name != "yuv420p":
                    yield None if i % STRIDE else _converted(frame)
                    continue
                y, cb, cr = (
                    np.frombuffer(memoryview(p), np.uint8).reshape(-1, p.line_size)
                    for p in frame.planes
                )
                w, h = frame.width // 2, frame.height // 2
                step = max(1, round(min(w, h) / (MEASURE_SIDE / 2)))
                cb, cr = cb[:h:step, :w:step], cr[:h:step, :w:step]
                luma = y[: 2 * h : step, : 2 * w : step][: 2 * cb.shape[0], : 2 * cb.shape[1]]
                ycc = np.dstack([luma[::2, ::2], cb, cr])
                yield Frame(ycc, np.ascontiguousarray(luma), frame)
    except (av.error.FFmpegError, IndexError) as err:
        raise AssemblyError(f"{clip}: cannot decode video ({err})") from err


def _converted(frame: av.VideoFrame) -> Frame:
    """A frame in another pixel format, through yuv420p."""
    w, h = frame.width // 2 * 2, frame.height // 2 * 2
    rgb = frame.reformat(w, h, "rgb24").to_ndarray()
    ycc = tv_ycc(np.asarray(rgb, dtype=np.uint8))
    return Frame(np.ascontiguousarray(ycc[::2, ::2]), np.ascontiguousarray(ycc[..., 0]), frame)


def mouth_tracks(clip: Path) -> list[Floats]:
    """Per face seen in most measured frames, its mouth opening in every ``STRIDE``-th frame
    of ``clip``. Drawn faces are looked for again every ``REFIND`` measured frames (in
    between, the mouths are measured where the faces were: a camera move shifts them by a
    pixel or so in that time)."""
    tracks: list[MouthTrack] = []
    landmarks: _Landmarks | bool | None = False  # not looked for yet
    count = 0
    drawn: list[Box] = []
    for frame in _frames(clip):
        if frame is None:
            continue
        i, count = count, count + 1
        if i % REFIND == 0 or not drawn:
            drawn = faces_in(frame.ycc, frame.luma)
        found = [(b, drawn_opening(frame.luma, b)) for b in drawn]
        if not found:
            if landmarks is False:
                landmarks = _landmark_model()
            found = landmarks(frame.rgb()) if isinstance(landmarks, _Landmarks) else []
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
            track.centre, track.width, track.box = (cx, cy), width, box
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
    level = frame_loudness(voice, fps, count * STRIDE)[::STRIDE][:count]
    times = np.arange(count) * STRIDE / fps
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
    """A tracker over dlib's HOG face detector and 68-point predictor, if installed (None
    otherwise). The models load once a process (the predictor is ~100 MB: a second a clip);
    each clip gets its own tracker."""
    with DLIB_LOCK:
        if not _loaded:
            try:
                import dlib  # type: ignore[import-untyped, import-not-found, unused-ignore]
            except ImportError:
                _loaded.append(None)
            else:
                model = model_file("shape_predictor_68_face_landmarks.dat")
                _loaded.append(
                    (dlib.get_frontal_face_detector(), dlib.shape_predictor(str(model)))
                    if model is not None
                    else None
                )
    found = _loaded[0]
    return _Landmarks(*found) if found is not None else None


_loaded: list[tuple[Any, Any] | None] = []


class _Landmarks:
    """Real faces in one clip: dlib's detector, and the inner lips' gap over the mouth's width."""

    REDETECT = 8
    """Frames between two runs of the detector (~0.2 s a frame at 540p); in between, the
    landmarks are fitted in the faces' last boxes (a few ms): faces move little in 1/3 s. A
    run that finds no face waits as long (a clip with no real face costs a run in 8 frames)."""

    def __init__(self, detector: Any, predictor: Any) -> None:
        self.detector, self.predictor = detector, predictor
        self.rects: list[Any] = []
        self.since = self.REDETECT

    def __call__(self, rgb: NDArray[np.uint8]) -> list[tuple[Box, float]]:
        found = []
        with DLIB_LOCK:  # one dlib call at a time in the process: two at once crash it
            if self.since >= self.REDETECT:
                self.rects, self.since = list(self.detector(rgb, 0)), 0
            self.since += 1
            shapes = [(rect, self.predictor(rgb, rect)) for rect in self.rects]
        for rect, shape in shapes:
            pts = np.array([(shape.part(k).x, shape.part(k).y) for k in range(68)], np.float64)
            gap = np.mean(np.abs(pts[[61, 62, 63], 1] - pts[[67, 66, 65], 1]))
            width = max(float(np.linalg.norm(pts[54] - pts[48])), 1.0)
            box = (rect.left(), rect.top(), rect.right(), rect.bottom())
            found.append((box, float(gap / width)))
        return found
