"""Moving clips from Wan (``video-generation/video-synthesis``): i2v from the keyframe, or t2v.

The keyframe travels inline as a ``data:image/png;base64,...`` URI (the documented alternative
to a public URL for ``img_url``). Wan renders a fixed set of lengths and resolution tiers;
the result is conformed (cover-scale, crop, fps, hold or cut to the exact length, no audio).

Wan 2.5 and later take the shot's audio (``input.audio_url``: WAV or MP3, 3-30 s, 15 MB at
most, a URL only) and move lips and bodies in sync with it. The voice track is padded with
silence to 3 s if shorter and sent through DashScope's temporary storage (``uploads``); the
clip's own sound is still dropped, since the pipeline lays the same track under it later.
"""

from __future__ import annotations

import base64
import io
import re
import uuid
from pathlib import Path
from typing import Any

from PIL import Image

from dramaforge.errors import ProviderError
from dramaforge.media.ffmpeg import run_ffmpeg
from dramaforge.media.probe import probe
from dramaforge.media.video import normalize_clip
from dramaforge.tools.dashscope.backend import TaskBackend
from dramaforge.tools.dashscope.transport import TaskResult, Transport
from dramaforge.tools.protocols import Generated, TaskJournal, VideoRequest

PATH = "services/aigc/video-generation/video-synthesis"
TIERS = {"480P": 480, "720P": 720, "1080P": 1080}
# Text-to-video sizes per tier, as width*height.
T2V_SIZES = {
    "480P": [(832, 480), (480, 832), (624, 624)],
    "720P": [(1280, 720), (720, 1280), (960, 960), (1088, 832), (832, 1088)],
    "1080P": [(1920, 1080), (1080, 1920), (1440, 1440), (1632, 1248), (1248, 1632)],
}
MAX_INLINE = 10 * 1024 * 1024
AUDIO_SECONDS = (3.0, 30.0)  # what audio_url accepts


def durations(model: str) -> list[int]:
    """Clip lengths (seconds) ``model`` renders."""
    if model.startswith("wan2.6"):
        return [5, 10, 15]
    if model.startswith("wan2.5"):
        return [5, 10]
    if model.endswith("-turbo") and model.startswith("wanx2.1"):
        return [3, 4, 5]
    return [5]  # wan2.2-*, wanx2.1-*-plus


def tiers(model: str) -> list[str]:
    if model in ("wan2.2-i2v-plus", "wan2.2-t2v-plus"):
        return ["480P", "1080P"]
    if model.startswith("wanx2.1") and model.endswith("-plus"):
        return ["720P"]
    if model.startswith("wan2.6"):
        return ["720P", "1080P"]
    if model.startswith("wan2.5"):
        return ["480P", "720P", "1080P"]
    return ["480P", "720P"]


def pick_duration(model: str, wanted: float) -> int:
    """The shortest length that covers ``wanted``, else the longest (the clip is cut later)."""
    options = durations(model)
    return next((d for d in options if d >= wanted - 1e-6), options[-1])


def pick_tier(model: str, width: int, height: int) -> str:
    """The smallest tier at least as sharp as the frame's short side, else the sharpest."""
    short = min(width, height)
    options = sorted(tiers(model), key=TIERS.__getitem__)
    return next((t for t in options if TIERS[t] >= short), options[-1])


def keyframe_uri(path: Path) -> str:
    """The keyframe as a data URI within Wan's limits (360-2000 px a side, 10 MB, no alpha)."""
    with Image.open(path) as src:
        img = src.convert("RGB")
    scale = max(360 / min(img.size), 1.0)
    scale = min(scale, 2000 / max(img.size))
    if scale != 1.0:
        img = img.resize((round(img.width * scale), round(img.height * scale)))
    buf = io.BytesIO()
    img.save(buf, format="PNG")
    mime = "image/png"
    if buf.tell() > MAX_INLINE:
        buf = io.BytesIO()
        img.save(buf, format="JPEG", quality=90)
        mime = "image/jpeg"
    return f"data:{mime};base64,{base64.b64encode(buf.getvalue()).decode('ascii')}"


def takes_audio(model: str) -> bool:
    """Wan 2.5 and later (i2v and t2v) generate in sync with an ``audio_url``."""
    found = re.match(r"wanx?(\d+)\.(\d+)-", model)
    return found is not None and (int(found[1]), int(found[2])) >= (2, 5)


def audio_track(src: Path, dest: Path) -> None:
    """The voice track as ``audio_url`` takes it: mono 16-bit WAV of 3 to 30 seconds."""
    shortest, longest = AUDIO_SECONDS
    run_ffmpeg(
        [
            *("-i", src, "-af", f"apad=whole_dur={shortest}", "-t", f"{longest}"),
            *("-ac", "1", "-ar", "24000", "-c:a", "pcm_s16le", "-fflags", "+bitexact"),
            *("-flags:a", "+bitexact", dest),
        ],
        what=f"preparing {src.name} for audio_url",
    )


def _verify_video(path: Path) -> None:
    info = probe(path)
    if not info.has_video or info.duration <= 0:
        raise ProviderError(f"{path.name} has no video")


def _url(result: TaskResult) -> str:
    url = result.output.get("video_url")
    if not url:
        raise ProviderError(f"DashScope video task {result.task_id} succeeded without a video URL")
    return str(url)


class DashScopeVideo(TaskBackend):
    """``dashscope:<model>`` video backend, e.g. ``dashscope:wan2.5-i2v-preview``.

    ``takes_audio`` is true for Wan 2.5 and later: ``request.audio`` is sent with the submit.
    Older models never see it. Any audio the model puts in the clip is dropped.
    """

    def __init__(self, model: str, transport: Transport, price: float = 0.0) -> None:
        super().__init__(model or "wan2.2-i2v-flash", "video", transport, price)
        self.takes_audio = takes_audio(self.model)

    @property
    def image_to_video(self) -> bool:
        return "i2v" in self.model

    def body(self, request: VideoRequest) -> dict[str, Any]:
        tier = pick_tier(self.model, request.width, request.height)
        params: dict[str, Any] = {
            "duration": pick_duration(self.model, request.duration),
            "seed": request.seed % 2**31,
            "prompt_extend": False,
            "watermark": False,
        }
        inputs: dict[str, Any] = {"prompt": request.prompt}
        if self.image_to_video:
            inputs["img_url"] = keyframe_uri(Path(request.keyframe))
            params["resolution"] = tier
        else:
            target = request.width / request.height
            w, h = min(T2V_SIZES[tier], key=lambda s: abs(s[0] / s[1] - target))
            params["size"] = f"{w}*{h}"
        return {"model": self.model, "input": inputs, "parameters": params}

    def generate(
        self, request: VideoRequest, dest: Path, journal: TaskJournal | None = None
    ) -> Generated:
        body = self.body(request)
        raw = dest.with_name(f".{dest.stem}.{uuid.uuid4().hex[:8]}.download.mp4")
        sound = dest.with_name(f".{dest.stem}.{uuid.uuid4().hex[:8]}.audio.wav")
        try:
            files = {}
            if self.takes_audio and request.audio:
                audio_track(Path(request.audio), sound)
                files["input.audio_url"] = sound
            result = self.fetch(PATH, body, _url, raw, _verify_video, journal=journal, files=files)
            normalize_clip(
                raw,
                dest,
                width=request.width,
                height=request.height,
                fps=request.fps,
                duration=request.duration,
            )
        finally:
            raw.unlink(missing_ok=True)
            sound.unlink(missing_ok=True)
        billed = float(
            result.usage.get("video_duration")
            or result.usage.get("duration")
            or body["parameters"]["duration"]
        )
        return Generated(duration=probe(dest).duration, cost=self.price * billed, model=self.model)
