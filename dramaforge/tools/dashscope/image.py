"""Keyframes from Qwen-Image and Wan text-to-image (``text2image/image-synthesis``), and Wan
image-to-image (``image2image/image-synthesis``) from a character's reference image.

``dashscope:wan2.5-i2i-preview`` draws a shot whose focus has a reference image from it
(``input.images``, sent through temporary storage like ``audio_url``), so the character keeps
its face and clothes across shots and episodes; a shot without one goes to the matching
text-to-image model (``wan2.5-t2i-preview``). Other models ignore references. A reference the
model would refuse (a side under 384 or over 5000 pixels, transparency, another format) is
sent as a converted copy. The model draws at the nearest size it accepts; the result is
resized and centre-cropped to exactly the requested frame with Pillow.
"""

from __future__ import annotations

import math
import os
import uuid
from pathlib import Path
from typing import Any

from PIL import Image, ImageOps

from dramaforge.errors import ProviderError
from dramaforge.tools.dashscope.backend import TaskBackend
from dramaforge.tools.dashscope.transport import TaskResult, Transport
from dramaforge.tools.protocols import Generated, ImageRequest, TaskJournal

PATH = "services/aigc/text2image/image-synthesis"
EDIT_PATH = "services/aigc/image2image/image-synthesis"


def takes_reference(model: str) -> bool:
    """Wan image-to-image models (wan2.5-i2i-preview and later) draw from reference images."""
    return "-i2i" in model and model.startswith("wan")


QWEN_IMAGE_SIZES = [(1664, 928), (1472, 1140), (1328, 1328), (1140, 1472), (928, 1664)]
# wanx2.1 / wan2.2 t2i: any width and height in [512, 1440].
WAN_RANGE = (512, 1440)
# wan2.5: any width*height whose area is in range, aspect between 1:4 and 4:1.
WAN25_AREA = {"t2i": (768 * 768, 1440 * 1440), "i2i": (768 * 768, 1280 * 1280)}
WAN25_ASPECT = (1 / 4, 4.0)
# input.images of wan2.5 i2i: JPEG, PNG without transparency, BMP or WEBP; sides in range.
REFERENCE_FORMATS = ("JPEG", "PNG", "BMP", "WEBP")
REFERENCE_SIDES = (384, 5000)


def model_size(model: str, width: int, height: int) -> tuple[int, int]:
    """The size closest in aspect (then in area) to ``width x height`` that ``model`` accepts."""
    if model.startswith("qwen-image"):
        target = width / height
        return min(
            QWEN_IMAGE_SIZES,
            key=lambda s: (abs(s[0] / s[1] - target), abs(s[0] * s[1] - width * height)),
        )
    if model.startswith("wan2.5"):
        return _by_area(width, height, *WAN25_AREA["i2i" if "-i2i" in model else "t2i"])
    lo, hi = WAN_RANGE
    scale = max(lo / min(width, height), 1.0)
    scale = min(scale, hi / max(width, height))
    w, h = round(width * scale / 16) * 16, round(height * scale / 16) * 16
    return max(lo, min(hi, w)), max(lo, min(hi, h))


def _by_area(width: int, height: int, lo: int, hi: int) -> tuple[int, int]:
    """Multiples of 16 closest to the aspect of ``width x height``, area within [lo, hi]."""
    ratio = min(max(width / height, WAN25_ASPECT[0]), WAN25_ASPECT[1])
    area = min(max(width * height, lo), hi)
    w, h = math.sqrt(area * ratio), math.sqrt(area / ratio)
    sizes = [
        (a, b)
        for a in (math.floor(w / 16) * 16, math.ceil(w / 16) * 16)
        for b in (math.floor(h / 16) * 16, math.ceil(h / 16) * 16)
        if lo <= a * b <= hi
    ]
    return min(sizes, key=lambda s: (abs(s[0] / s[1] - ratio), abs(s[0] * s[1] - area)))


def reference_file(reference: Path, scratch: Path) -> Path:
    """``reference`` if the model takes it as it is, else a copy it takes, written at
    ``scratch``: RGB PNG, scaled into the accepted sides (the same bytes every time, so a
    resumed render reconciles its submit)."""
    lo, hi = REFERENCE_SIDES
    with Image.open(reference) as img:
        if (
            img.format in REFERENCE_FORMATS
            and img.mode in ("RGB", "L")
            and "transparency" not in img.info
            and lo <= min(img.size)
            and max(img.size) <= hi
        ):
            return reference
        scale = min(max(lo / min(img.size), 1.0), hi / max(img.size))
        size = (max(1, round(img.width * scale)), max(1, round(img.height * scale)))
        img.convert("RGB").resize(size, Image.Resampling.LANCZOS).save(scratch, format="PNG")
    return scratch


def _verify_image(path: Path) -> None:
    with Image.open(path) as img:
        img.load()


def _url(result: TaskResult) -> str:
    for item in result.output.get("results") or []:
        if item.get("url"):
            return str(item["url"])
    raise ProviderError(f"DashScope image task {result.task_id} succeeded without an image URL")


class DashScopeImage(TaskBackend):
    """``dashscope:<model>`` image backend, e.g. ``dashscope:qwen-image``."""

    def __init__(self, model: str, transport: Transport, price: float = 0.0) -> None:
        super().__init__(model or "qwen-image", "image", transport, price)
        self.takes_reference = takes_reference(self.model)

    def _uses_reference(self, request: ImageRequest) -> bool:
        return self.takes_reference and bool(request.reference)

    def body(self, request: ImageRequest) -> dict[str, Any]:
        model = self.model
        if self.takes_reference and not self._uses_reference(request):
            model = model.replace("-i2i", "-t2i")  # nothing to draw from: text to image
        w, h = model_size(model, request.width, request.height)
        return {
            "model": model,
            "input": {"prompt": request.prompt},
            "parameters": {
                "size": f"{w}*{h}",
                "n": 1,
                "seed": request.seed % 2**31,
                "prompt_extend": False,
                "watermark": False,
            },
        }

    def generate(
        self, request: ImageRequest, dest: Path, journal: TaskJournal | None = None
    ) -> Generated:
        body = self.body(request)
        scratch = dest.with_name(f".{dest.stem}.{uuid.uuid4().hex[:8]}")
        raw, copy = scratch.with_suffix(".download"), scratch.with_suffix(".reference.png")
        try:
            if self._uses_reference(request):
                files = {"input.images[]": reference_file(Path(str(request.reference)), copy)}
                result = self.fetch(
                    EDIT_PATH, body, _url, raw, _verify_image, journal=journal, files=files
                )
            else:
                result = self.fetch(PATH, body, _url, raw, _verify_image, journal=journal)
            _fit(raw, dest, request.width, request.height)
        finally:
            raw.unlink(missing_ok=True)
            copy.unlink(missing_ok=True)
        count = int(result.usage.get("image_count") or 1)
        return Generated(cost=self.price * count, model=self.model)


def _fit(src: Path, dest: Path, width: int, height: int) -> None:
    """Scale to cover and centre-crop to exactly ``width x height``; write PNG atomically."""
    tmp = dest.with_name(f".{dest.stem}.{uuid.uuid4().hex[:8]}.fit.png")
    try:
        with Image.open(src) as img:
            fitted = ImageOps.fit(img.convert("RGB"), (width, height), Image.Resampling.LANCZOS)
            fitted.save(tmp, format="PNG")
        os.replace(tmp, dest)
    finally:
        tmp.unlink(missing_ok=True)
