"""The offline animatic's faces come alive: mouths open with their own voice, eyes blink, heads
turn toward whoever speaks, and the speaker is ringed with light while they speak.

Why here, in the camera move, and not as a ``local`` lip-sync backend (a pass over the clip):
the move already writes every frame of the clip in this process, so a face drawn into the frame
costs a few small ellipse fills; a pass would decode and encode the whole clip again (the
animatic's speed is measured against a bare encode). The local motion backend therefore takes
the shot's voice like a video model that moves lips itself (``takes_audio``) plus who speaks
when (``VideoRequest.speaking``, on-screen lines only).

The storyboard notes each head it draws in the keyframe (``dramaforge:faces``: name, centre,
radius); a keyframe without that note (an image model's) gets no drawn mouths. A mouth's
opening is the voice's loudness in that frame (RMS over the frame's span of the on-screen
lines' track, scaled by the speaker's loud frames) while that speaker's line is up, else
closed: drawn as an ellipse whose height is proportional to it, so the mouth's area follows
the voice's envelope frame by frame. Everything is drawn straight into the Y, Cb and Cr planes
that x264 reads next.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from numpy.typing import NDArray
from PIL import Image

from dramaforge.media.mouths import frame_loudness
from dramaforge.schema import Cue

FACES_CHUNK = "dramaforge:faces"
SKIN = (238, 204, 176)
LIPS = (150, 60, 60)
MOUTH = (70, 20, 30)
EYES = (30, 30, 30)
RING = (255, 226, 140)

MOUTH_Y = 0.5  # mouth centre below the head's centre, in radii
MOUTH_W = 0.25  # half its width
MOUTH_OPEN = 0.2  # half its height, wide open
EYE_Y, EYE_X, EYE_R = 0.1, 0.35, 0.09
TURN = 0.12  # eyes and mouth move this far (radii) toward the one they look at
BLINK_EVERY = 3.4  # seconds between blinks, about
BLINK = 0.12  # seconds a blink lasts
GATE = 0.06  # below this share of the speaker's loud level a mouth is shut

Plane = NDArray[np.uint8]


@dataclass(frozen=True)
class Face:
    """A head in plane pixels: who, centre, radius."""

    name: str
    x: float
    y: float
    r: float


def read_faces(image: Image.Image) -> list[Face]:
    """The heads the storyboard noted in this keyframe (none for other pictures)."""
    raw = image.info.get(FACES_CHUNK)
    if not isinstance(raw, str):
        return []
    try:
        return [Face(str(n), float(x), float(y), float(r)) for n, x, y, r in json.loads(raw)]
    except (ValueError, TypeError):
        return []


def tv_colour(rgb: tuple[int, int, int]) -> tuple[int, int, int]:
    """An RGB colour as TV-range (Y, Cb, Cr), as the camera move converts the keyframe."""
    r, g, b = rgb
    y = 0.299 * r + 0.587 * g + 0.114 * b
    cb = 128 + (b - y) * 0.564
    cr = 128 + (r - y) * 0.713
    return (
        round(16 + y * 219 / 255),
        round(16 + min(max(cb, 0), 255) * 224 / 255),
        round(16 + min(max(cr, 0), 255) * 224 / 255),
    )


class Talk:
    """What every face does in every frame of one clip."""

    def __init__(
        self, faces: list[Face], speaking: list[Cue], audio: Path | None, fps: int, count: int
    ) -> None:
        self.faces = faces
        self.count = count
        times = np.arange(count) / fps
        level = (
            frame_loudness(audio, fps, count) if audio is not None and speaking else np.zeros(count)
        )
        self.opening: dict[str, NDArray[np.float64]] = {}
        self.speaks: dict[str, NDArray[np.bool_]] = {}
        names = {f.name for f in faces}
        for name in names:
            mask = np.zeros(count, dtype=bool)
            for cue in speaking:
                if cue.speaker == name:
                    mask |= (times >= cue.start) & (times < cue.end)
            loud = level[mask]
            top = float(np.percentile(loud, 95)) if loud.size else 0.0
            opening = np.where(mask, np.clip(level / top, 0.0, 1.0), 0.0) if top > 0 else level * 0
            self.opening[name] = np.where(opening < GATE, 0.0, opening)
            self.speaks[name] = mask
        self.blinks = {f.name: _blinks(f.name, fps, count) for f in faces}

    def look(self, face: Face, i: int, xs: dict[str, float]) -> float:
        """-1, 0 or 1: where ``face`` looks in frame ``i`` (toward the speaker; a speaker
        toward the nearest listener)."""
        speaker = next((n for n, m in self.speaks.items() if m[i] and n != face.name), None)
        if speaker is not None:
            target = xs.get(speaker)
        elif self.speaks[face.name][i]:
            others = [x for n, x in xs.items() if n != face.name]
            target = min(others, key=lambda x: abs(x - xs[face.name])) if others else None
        else:
            target = None
        if target is None or abs(target - xs[face.name]) < 1:
            return 0.0
        return 1.0 if target > xs[face.name] else -1.0


def _blinks(name: str, fps: int, count: int) -> NDArray[np.bool_]:
    """A face's blinks: every ``BLINK_EVERY`` seconds or so, its own phase (from its name)."""
    seed = int.from_bytes(hashlib.sha256(name.encode()).digest()[:4], "big")
    rng = np.random.default_rng(seed)
    shut = np.zeros(count, dtype=bool)
    t = rng.uniform(0.4, BLINK_EVERY)
    while t * fps < count:
        shut[int(t * fps) : int((t + BLINK) * fps) + 1] = True
        t += BLINK_EVERY * rng.uniform(0.7, 1.3)
    return shut


class Painter:
    """Draws the faces of one clip into each frame's planes, after the camera's warp."""

    def __init__(self, talk: Talk) -> None:
        self.talk = talk
        self.skin, self.lips = tv_colour(SKIN), tv_colour(LIPS)
        self.mouth, self.eyes, self.ring = tv_colour(MOUTH), tv_colour(EYES), tv_colour(RING)

    def __call__(
        self,
        i: int,
        outs: tuple[Plane, Plane, Plane],
        to_out: tuple[float, float, float, float],
    ) -> None:
        """Frame ``i``; ``to_out`` (x scale, x offset, y scale, y offset) maps the keyframe
        plane's pixels to the frame's."""
        kx, dx, ky, dy = to_out
        height, width = outs[0].shape
        placed = [(f, f.x * kx + dx, f.y * ky + dy, f.r * kx) for f in self.talk.faces]
        xs = {f.name: x for f, x, _, _ in placed}
        for face, x, y, r in placed:
            if r < 3 or not (-r < x < width + r and -r < y < height + r):
                continue
            state = _FaceState(
                turn=self.talk.look(face, i, xs) * TURN * r,
                opening=float(self.talk.opening[face.name][i]),
                speaking=bool(self.talk.speaks[face.name][i]),
                shut=bool(self.talk.blinks[face.name][i]),
            )
            for k, plane in enumerate(outs):
                self._draw(plane, k, (x, y, r), state)

    def _draw(
        self, plane: Plane, k: int, head: tuple[float, float, float], state: _FaceState
    ) -> None:
        """One face into plane ``k`` (0: Y at full size; 1, 2: Cb, Cr at half size)."""
        import cv2  # here, not at the top: only a camera move needs it

        c = 1.0 if k == 0 else 0.5
        aa = cv2.LINE_AA if k == 0 else cv2.LINE_8
        x, y, r = (v * c for v in head)

        def ellipse(cx: float, cy: float, a: float, b: float, colour: tuple[int, ...]) -> None:
            axes = (max(1, round(a)), max(1, round(b)))
            cv2.ellipse(plane, (round(cx), round(cy)), axes, 0, 0, 360, colour[k], -1, aa)

        if state.speaking:  # the speaker ringed with light
            thick = max(1, round(r * 0.07))
            cv2.circle(plane, (round(x), round(y)), round(r * 1.08), self.ring[k], thick, aa)
        # Eyes: skin over the drawn ones, then pupils (or lids) where the head looks.
        top, bottom = y + r * (EYE_Y - 0.16), y + r * (EYE_Y + 0.16)
        corner = (round(x - r * 0.6), round(top)), (round(x + r * 0.6), round(bottom))
        cv2.rectangle(plane, *corner, self.skin[k], -1)
        for side in (-EYE_X, EYE_X):
            ex, ey = x + side * r + state.turn * c, y + EYE_Y * r
            if state.shut:
                ellipse(ex, ey, EYE_R * r * 1.3, EYE_R * r * 0.25, self.eyes)
            else:
                ellipse(ex, ey, EYE_R * r, EYE_R * r, self.eyes)
        # Mouth: skin over the closed one, then lips open by the voice's loudness.
        my = y + MOUTH_Y * r
        ellipse(x, my, r * (MOUTH_W + 0.15), r * (MOUTH_OPEN + 0.05), self.skin)
        mx = x + state.turn * c * 0.6
        if state.opening > 0:
            ellipse(mx, my, r * MOUTH_W, r * MOUTH_OPEN * state.opening, self.mouth)
        else:
            ellipse(mx, my, r * MOUTH_W, r * 0.03, self.lips)


@dataclass(frozen=True)
class _FaceState:
    turn: float
    """Pixels (at full size) the eyes move toward whoever this face looks at."""
    opening: float
    speaking: bool
    shut: bool
