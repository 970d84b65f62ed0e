"""Image to video with sound: a product photo is the first frame of every shot.

``render --image product.png --brief "…" --duration 15`` writes a short narrated script from
the brief (saved as ``OUT/<name>/script.txt``), plans it to the duration like a channel
version, and draws every keyframe from the photo instead of from a prompt: a wide shot shows
it whole, closer framings crop in around its subject. An image-to-video backend receives that
keyframe as its first frame (``img_url``); offline, the camera moves over the photo itself.
Voice-over, an effect and music are laid under it as for any episode.

Reframing never stretches and never letterboxes: the crop has the frame's aspect, is placed
so the subject (the photo's centre of visual detail) sits inside the middle of the frame,
and is scaled to cover the frame.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, replace
from pathlib import Path

import numpy as np
from PIL import Image, ImageOps, UnidentifiedImageError

from dramaforge import prompts
from dramaforge.config import Settings
from dramaforge.errors import ScriptError
from dramaforge.modes.fit import Extras, Fit
from dramaforge.modes.runner import PLAIN, RunArgs, write_script
from dramaforge.modes.shared import FittedDirector, FromFile
from dramaforge.schema import Framing, Language, Manifest
from dramaforge.script.detect import detect_language
from dramaforge.script.prose import split_sentences
from dramaforge.tools.protocols import Generated, ImageRequest, TaskJournal

MIN_SECONDS, MAX_SECONDS = 10.0, 30.0
# How much of the photo each framing shows (the side of the crop, relative to the largest
# crop of the frame's aspect that fits in the photo).
ZOOM: dict[Framing, float] = {
    "wide": 1.0,
    "medium": 0.8,
    "reaction": 0.8,
    "close_up": 0.62,
    "insert": 0.55,
}


def subject_centre(image: Image.Image) -> tuple[float, float]:
    """Where the subject is, as fractions of width and height: the centre of mass of local
    detail (gradient energy), which lands on a product against a plain background."""
    grey = np.asarray(image.convert("L").resize((96, 96)), dtype=np.float32)
    energy = np.abs(np.diff(grey, axis=0))[:, :-1] + np.abs(np.diff(grey, axis=1))[:-1, :]
    total = float(energy.sum())
    if total <= 1e-6:
        return 0.5, 0.5
    ys, xs = np.mgrid[0 : energy.shape[0], 0 : energy.shape[1]]
    return float((energy * xs).sum() / total / 95), float((energy * ys).sum() / total / 95)


def reframe(image: Image.Image, width: int, height: int, zoom: float = 1.0) -> Image.Image:
    """A ``width`` x ``height`` view of ``image``: the frame's aspect cut around the subject
    (``zoom`` < 1 cuts closer), scaled to cover. No stretching, no bars."""
    iw, ih = image.size
    aspect = width / height
    cw, ch = (iw, iw / aspect) if iw / ih < aspect else (ih * aspect, ih)
    cw, ch = cw * zoom, ch * zoom
    cx, cy = subject_centre(image)
    left = min(max(cx * iw - cw / 2, 0.0), iw - cw)
    top = min(max(cy * ih - ch / 2, 0.0), ih - ch)
    box = (round(left), round(top), round(left + cw), round(top + ch))
    return image.crop(box).resize((width, height), Image.Resampling.LANCZOS)


@dataclass
class PhotoKeyframes(FromFile):
    """An ImageBackend whose every keyframe is the photo (``source``), framed as the shot asks."""

    KIND = "image"

    def generate(
        self, request: ImageRequest, dest: Path, journal: TaskJournal | None = None
    ) -> Generated:
        with Image.open(self.source) as im:
            image = ImageOps.exif_transpose(im).convert("RGB")
        framed = reframe(image, request.width, request.height, ZOOM.get(request.framing, 1.0))
        framed.save(dest, format="PNG")
        return Generated(model=self.name)


def check_photo(path: Path) -> None:
    if not path.is_file():
        raise ScriptError("no such image; give a PNG or JPEG file", path=str(path))
    try:
        with Image.open(path) as im:
            im.verify()
    except (UnidentifiedImageError, OSError) as err:
        raise ScriptError(f"not an image this can read ({err})", path=str(path)) from err


def photo_script(brief: str, title: str, language: Language) -> str:
    """A marker script narrating the brief over the photo, with music and an opening effect."""
    sentences = [s.strip() for _, s in split_sentences(brief) if s.strip()] or [title]
    lines = [
        *prompts.template("photo", language).format(title=title, visual=sentences[0]).splitlines(),
        *[f"[Narration] {s}" if language == "en" else f"【旁白】{s}" for s in sentences],
    ]
    return "\n".join(lines)


def render_image(
    photo: Path,
    brief: str,
    out: Path,
    settings: Settings,
    *,
    duration: float = 15.0,
    run: RunArgs = PLAIN,
) -> tuple[Path, Manifest]:
    """Render ``photo`` with a voice-over of ``brief`` into ``OUT/<photo name>/``."""
    check_photo(photo)
    if not MIN_SECONDS <= duration <= MAX_SECONDS:
        raise ScriptError(
            f"--duration {duration:g}: an image video is {MIN_SECONDS:g} to {MAX_SECONDS:g} s"
        )
    if not brief.strip():
        raise ScriptError('give --brief "what the voice-over says about the image"')
    name = re.sub(r"[^\w\-]+", "_", photo.stem).strip("_") or "image"
    language = settings.render.language or detect_language(brief)
    script_path = write_script(out, name, photo_script(brief, name, language))
    base = run.base(settings, out)
    r = settings.render
    fit = Fit(duration, r.fps, r.min_shot, Extras(product=name))
    director = FittedDirector(base.director, fit, plans={}, ctx=base)
    ctx = replace(base, director=director, image=PhotoKeyframes(photo.resolve()))
    return script_path, run.render(script_path, out, settings, context=ctx, episode=name)
