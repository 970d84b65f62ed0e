"""Is it still them: an identity score per character per shot, ViStoryBench-style.

Faces are found in a keyframe, embedded, and matched to the shot's cast (the assignment that
maximises the summed similarity, over every pairing: casts are small); each matched
character's score is the cosine similarity of their face to their reference's (``cross``),
and across the episode to their own faces in other shots (``self``). A shot showing a
different number of faces from the people in frame fails the count check. A keyframe that is
near-identical to the reference picture itself is flagged as a copy and left out of the
means: a copy would score as the best possible likeness without drawing anyone anew.

Embeddings:

* real faces: dlib's ResNet face descriptor (128 numbers, aligned by its 5-point landmarks),
  whose weights ship in ``face-recognition-models`` (the ``faces`` extra);
* drawn faces (the offline storyboard's, found by ``media.mouths.drawn_faces``): no shipped
  model embeds a flat cartoon head (dlib finds none), so the head itself is the descriptor:
  the face with its hair, scaled to a small fixed size, centred and normalised. The painter
  draws a character the same in every shot, so this is high for the same character and low
  for another (their hair and outline colours differ).
"""

from __future__ import annotations

import itertools
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from numpy.typing import NDArray
from PIL import Image

from dramaforge.media.face_models import DLIB_LOCK, model_file
from dramaforge.media.mouths import Box, drawn_faces
from dramaforge.schema import CharacterIdentity, IdentityReport, ShotPlan, ShotResult, StyleBible

SIDE = 540  # pictures are searched for faces with their short side reduced to about this
COPY_MAE = 2.0  # mean absolute difference (0-255) of two 64 px thumbnails: the same picture
LIKENESS = {"drawn": 0.5, "real": 0.9}
"""Lowest ``cross`` that counts as the same character, per kind of face. dlib's descriptors
of two different people are about 0.8-0.86 apart in cosine (its 0.6 distance rule), of one
person in another photo 0.95 and up; drawn heads of one character 1.0, of another <= 0."""

Vector = NDArray[np.float64]


@dataclass(frozen=True)
class SeenFace:
    box: Box
    vector: Vector
    kind: str  # "drawn" | "real"


def _unit(v: NDArray[np.float64]) -> Vector:
    norm = float(np.linalg.norm(v))
    return v / norm if norm > 0 else v


def _drawn_vector(rgb: NDArray[np.uint8], box: Box) -> Vector:
    """A drawn head's hair colour as a direction in an opponent-colour plane (red-green,
    yellow-blue): the painter gives each character their own colour, which hair carries."""
    x0, y0, x1, y1 = box
    h, w = y1 - y0, x1 - x0
    hair = rgb[
        max(0, y0 - round(0.35 * h)) : max(1, y0 - round(0.1 * h)), x0 + w // 3 : x1 - w // 3
    ]
    if hair.size == 0:
        return np.zeros(2)
    r, g, b = (float(c) for c in hair.reshape(-1, 3).astype(np.float64).mean(axis=0))
    return _unit(np.array([r - g, (r + g) / 2 - b]))


class _RealFaces:
    """dlib's detector, 5-point aligner and ResNet descriptor (face-recognition-models)."""

    def __init__(self) -> None:
        import dlib  # type: ignore[import-untyped, import-not-found, unused-ignore]

        aligner = model_file("shape_predictor_5_face_landmarks.dat")
        encoder = model_file("dlib_face_recognition_resnet_model_v1.dat")
        if aligner is None or encoder is None:
            raise ImportError("face-recognition-models is not installed (the 'faces' extra)")
        self.detector = dlib.get_frontal_face_detector()
        self.aligner = dlib.shape_predictor(str(aligner))
        self.encoder = dlib.face_recognition_model_v1(str(encoder))

    def __call__(self, rgb: NDArray[np.uint8]) -> list[SeenFace]:
        found = []
        with DLIB_LOCK:  # one dlib call at a time in the process
            for rect in self.detector(rgb, 0):
                shape = self.aligner(rgb, rect)
                vector = np.array(self.encoder.compute_face_descriptor(rgb, shape), np.float64)
                box = (rect.left(), rect.top(), rect.right(), rect.bottom())
                found.append(SeenFace(box, _unit(vector), "real"))
        return found


_real: list[_RealFaces | None] = []


def _real_faces() -> _RealFaces | None:
    """The real-face model, loaded once (None without the ``faces`` extra)."""
    with DLIB_LOCK:  # loading is a dlib call too
        if not _real:
            try:
                _real.append(_RealFaces())
            except ImportError:
                _real.append(None)
    return _real[0]


def faces_in(picture: Path | NDArray[np.uint8]) -> list[SeenFace]:
    """Every face in a picture: drawn heads if it has any, else real faces (if installed)."""
    if isinstance(picture, Path):
        with Image.open(picture) as im:
            im.draft("RGB", (SIDE, SIDE))  # JPEGs decode small; PNGs are reduced below
            image = im.convert("RGB")
    else:
        image = Image.fromarray(picture)
    factor = min(image.size) // SIDE
    if factor > 1:  # a 1080p keyframe's faces are found as well at a third of its pixels
        image = image.reduce(factor)
    rgb = np.asarray(image)
    drawn = [SeenFace(b, _drawn_vector(rgb, b), "drawn") for b in drawn_faces(rgb)]
    if drawn:
        return drawn
    model = _real_faces()
    return model(rgb) if model is not None else []


def similarity(a: SeenFace, b: SeenFace) -> float:
    """Cosine similarity; faces of different kinds (drawn and real) are not comparable: 0."""
    return float(np.dot(a.vector, b.vector)) if a.kind == b.kind else 0.0


def match(faces: list[SeenFace], references: dict[str, SeenFace]) -> dict[str, int]:
    """Which face is which character: the pairing with the highest summed similarity."""
    names = list(references)
    best: tuple[float, dict[str, int]] = (-1e9, {})
    width = min(len(names), len(faces))
    for chosen in itertools.permutations(range(len(faces)), width):
        for who in itertools.combinations(names, width):
            total = sum(
                similarity(faces[i], references[n]) for n, i in zip(who, chosen, strict=True)
            )
            if total > best[0]:
                best = (total, dict(zip(who, chosen, strict=True)))
    return best[1]


def reference_face(picture: Path) -> SeenFace | None:
    """The character's face on their reference picture: the largest face on it."""
    found = faces_in(picture)
    if not found:
        return None
    return max(found, key=lambda f: (f.box[2] - f.box[0]) * (f.box[3] - f.box[1]))


def is_copy(picture: Path, reference: Path) -> bool:
    """Near-identical pictures: a keyframe that is its reference, not a new drawing of them."""

    def thumb(path: Path) -> NDArray[np.float64]:
        with Image.open(path) as im:
            return np.asarray(im.convert("RGB").resize((64, 64)), dtype=np.float64)

    return float(np.abs(thumb(picture) - thumb(reference)).mean()) < COPY_MAE


@dataclass(frozen=True)
class ShotIdentity:
    """One keyframe against the cast's references: each visible character's likeness, how
    many faces were seen, and whether the keyframe is a copy of a reference picture."""

    scores: dict[str, float]
    kinds: dict[str, str]
    matched: dict[str, SeenFace]
    faces: int
    cast: int
    copies: list[str]

    def below(self) -> dict[str, float]:
        """Characters drawn unlike their reference."""
        return {n: s for n, s in self.scores.items() if s < LIKENESS[self.kinds[n]]}


def judge(keyframe: Path, references: dict[str, Path], in_frame: int) -> ShotIdentity:
    """``keyframe`` against each visible character's reference picture (name -> path);
    ``in_frame``: how many people the shot shows."""
    refs = {n: f for n, p in references.items() if (f := reference_face(p)) is not None}
    seen = faces_in(keyframe)
    pairs = match(seen, refs)
    return ShotIdentity(
        scores={n: round(similarity(seen[i], refs[n]), 4) for n, i in pairs.items()},
        kinds={n: refs[n].kind for n in pairs},
        matched={n: seen[i] for n, i in pairs.items()},
        faces=len(seen),
        cast=in_frame,
        copies=[n for n, p in references.items() if is_copy(keyframe, p)],
    )


def _stats(values: list[float]) -> tuple[float | None, float | None]:
    if not values:
        return None, None
    return round(float(np.mean(values)), 4), round(min(values), 4)


def report(
    plan: ShotPlan, results: dict[str, ShotResult], bible: StyleBible, origins: dict[str, str]
) -> IdentityReport:
    """The episode's identity scores from each shot's chosen keyframe. ``origins``: the shot
    each character's reference was taken from (that shot is the reference: left out)."""
    cross: dict[str, dict[str, float]] = {}
    faces: dict[str, list[SeenFace]] = {}
    miscounted, copies = [], []
    for shot in plan.shots:
        result = results.get(shot.id)
        if result is None or not shot.visible():
            continue
        refs = {
            n: Path(ref)
            for n in shot.visible()
            if n in bible.characters
            and (ref := bible.characters[n].reference_image)
            and Path(ref).is_file()
            and origins.get(n) != shot.id
        }
        seen = judge(Path(result.take.keyframe.path), refs, len(shot.visible()))
        if seen.faces and seen.faces != seen.cast:
            miscounted.append(shot.id)
        if seen.copies:
            copies.append(shot.id)
            continue
        for name, score in seen.scores.items():
            cross.setdefault(name, {})[shot.id] = score
            faces.setdefault(name, []).append(seen.matched[name])
    characters = []
    for name in bible.characters:
        own = faces.get(name, [])
        pairs = [similarity(a, b) for a, b in itertools.combinations(own, 2)]
        c_mean, c_worst = _stats(list(cross.get(name, {}).values()))
        s_mean, s_worst = _stats(pairs)
        characters.append(
            CharacterIdentity(
                name=name,
                shots=cross.get(name, {}),
                cross_mean=c_mean,
                cross_worst=c_worst,
                self_mean=s_mean,
                self_worst=s_worst,
            )
        )
    every = [v for per in cross.values() for v in per.values()]
    selves = [similarity(a, b) for own in faces.values() for a, b in itertools.combinations(own, 2)]
    c_mean, c_worst = _stats(every)
    s_mean, s_worst = _stats(selves)
    return IdentityReport(
        characters=characters,
        cross_mean=c_mean,
        cross_worst=c_worst,
        self_mean=s_mean,
        self_worst=s_worst,
        miscounted=miscounted,
        copies=copies,
    )
