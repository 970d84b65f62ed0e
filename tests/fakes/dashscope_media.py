"""What the fake DashScope makes and what it refuses: real PNG, MP4 and WAV files, and the
subset of the real API's request checks that the backends must pass."""

from __future__ import annotations

import tempfile
import uuid
from collections.abc import Callable
from io import BytesIO
from pathlib import Path
from typing import Any

from PIL import Image, ImageDraw

from dramaforge.media.ffmpeg import run_ffmpeg
from dramaforge.media.probe import probe

QWEN_IMAGE_SIZES = {"1664*928", "1472*1140", "1328*1328", "1140*1472", "928*1664"}
AUDIO_MODELS = ("wan2.5-", "wan2.6-", "wan2.7-")  # take input.audio_url
AUDIO_LIMITS = (3.0, 30.0, 15 * 1024 * 1024)  # seconds, seconds, bytes
WAN25_AREA = {"t2i": (768 * 768, 1440 * 1440), "i2i": (768 * 768, 1280 * 1280)}
REFERENCE_LIMITS = (384, 5000, 10 * 1024 * 1024)  # input.images: side, side, bytes


class Media:
    """Result files, made on first download and cached by token."""

    def __init__(self) -> None:
        self.dir = Path(tempfile.mkdtemp(prefix="fake-dashscope-"))

    def make(self, kind: str, params: dict[str, Any]) -> bytes:
        data: bytes = getattr(self, f"_{kind}")(params)
        return data

    def _png(self, params: dict[str, Any]) -> bytes:
        w, h = (int(x) for x in str(params.get("size", "1024*1024")).split("*"))
        img = Image.new("RGB", (w, h), (40, 60, 90))
        ImageDraw.Draw(img).ellipse((w // 4, h // 4, 3 * w // 4, 3 * h // 4), fill=(220, 180, 60))
        buf = BytesIO()
        img.save(buf, format="PNG")
        return buf.getvalue()

    def _mp4(self, params: dict[str, Any]) -> bytes:
        # Small frames keep the tests fast; a real clip has the tier's size and a sound track.
        seconds = int(params.get("duration", 5))
        out = self.dir / f"{uuid.uuid4().hex}.mp4"
        run_ffmpeg(
            [
                "-f", "lavfi", "-i", f"testsrc2=size=240x426:rate=24:duration={seconds}",
                "-f", "lavfi", "-i", f"sine=frequency=330:duration={seconds}",
                "-c:v", "libx264", "-preset", "ultrafast", "-pix_fmt", "yuv420p",
                "-c:a", "aac", "-shortest", out,
            ],
            what="making the fake's video",
        )  # fmt: skip
        return out.read_bytes()

    def _lipsync(self, params: dict[str, Any]) -> bytes:
        """videoretalk returns the clip it was given; wan2.2-s2v a clip as long as the voice."""
        video: bytes | None = params.get("video")
        if video is not None:
            return video
        out = self.dir / f"{uuid.uuid4().hex}.mp4"
        seconds = float(params.get("duration", 5.0))
        run_ffmpeg(
            [
                "-f", "lavfi", "-i", f"testsrc2=size=480x854:rate=25:duration={seconds:.2f}",
                "-c:v", "libx264", "-preset", "ultrafast", "-pix_fmt", "yuv420p", out,
            ],
            what="making the fake's talking clip",
        )  # fmt: skip
        return out.read_bytes()

    def _wav(self, params: dict[str, Any]) -> bytes:
        out = self.dir / f"{uuid.uuid4().hex}.wav"
        rate = int(params.get("rate", 24000))
        run_ffmpeg(
            [
                "-f", "lavfi", "-i", f"sine=frequency=220:duration={params['seconds']:.2f}",
                "-ar", str(rate), "-ac", "1", "-c:a", "pcm_s16le", out,
            ],
            what="making the fake's speech",
        )  # fmt: skip
        return out.read_bytes()


def invalid(
    kind: str, body: dict[str, Any], resolve: Callable[[str], bytes | None] | None = None
) -> str:
    """What the real API would reject (a subset), or ''. ``resolve`` reads an oss:// URL."""
    model = str(body.get("model") or "")
    inputs = body.get("input") or {}
    params = body.get("parameters") or {}
    if not model:
        return "model is required"
    if not inputs.get("prompt"):
        return "input.prompt is required"
    size = params.get("size", "1328*1328")
    if kind == "image" and model.startswith("qwen-image") and size not in QWEN_IMAGE_SIZES:
        return f"size {params.get('size')} is not supported by {model}"
    if kind == "image" and model.startswith("wan2.5") and "size" in params:
        problem = _bad_wan25_size(model, str(params["size"]))
        if problem:
            return problem
    if kind == "video" and "i2v" in model:
        img = str(inputs.get("img_url") or "")
        if not img.startswith(("http://", "https://", "data:image/")):
            return "input.img_url must be a URL or a data:image/...;base64 URI"
        if params.get("resolution") not in (None, "480P", "720P", "1080P"):
            return "parameters.resolution must be 480P, 720P or 1080P"
    if kind == "video" and model.startswith("wan2.2") and params.get("duration", 5) != 5:
        return f"{model} renders 5 s only"
    if kind == "video" and "audio_url" in inputs:
        return _bad_audio(model, str(inputs["audio_url"]), resolve)
    return ""


def _bad_wan25_size(model: str, size: str) -> str:
    """wan2.5 t2i and i2i: any width*height with its area in range, aspect 1:4 to 4:1."""
    try:
        w, h = (int(x) for x in size.split("*"))
    except ValueError:
        return f"size {size} must be width*height"
    lo, hi = WAN25_AREA["i2i" if "-i2i" in model else "t2i"]
    if not lo <= w * h <= hi or not 0.25 <= w / h <= 4:
        return f"size {size} is not supported by {model}: area {lo}-{hi}, aspect 1:4 to 4:1"
    return ""


def bad_reference(data: bytes) -> str:
    """An ``input.images`` file the real API refuses: not JPEG, PNG, BMP or WEBP, a PNG with
    transparency, a side under 384 or over 5000 pixels, or over 10 MB."""
    shortest, longest, biggest = REFERENCE_LIMITS
    if len(data) > biggest:
        return "input.images: file over 10MB"
    try:
        with Image.open(BytesIO(data)) as img:
            fmt, mode, size = img.format, img.mode, img.size
            clear = "A" in mode or "transparency" in img.info
    except OSError:
        return "input.images: not an image"
    if fmt not in ("JPEG", "PNG", "BMP", "WEBP") or clear:
        return f"input.images: {fmt} {mode} is not supported (no transparency)"
    if not shortest <= min(size) or max(size) > longest:
        return f"input.images: {size[0]}x{size[1]}; sides must be 384 to 5000 pixels"
    return ""


def _bad_audio(model: str, url: str, resolve: Callable[[str], bytes | None] | None) -> str:
    """audio_url: Wan 2.5+ only (stricter than the real API, which may ignore it), a URL
    (http(s) or an uploaded oss://, never inline), WAV or MP3 of 3-30 s and 15 MB at most."""
    if not model.startswith(AUDIO_MODELS):
        return f"input.audio_url is not supported by {model}"
    if not url.startswith(("http://", "https://", "oss://")):
        return "input.audio_url must be an HTTP(S) URL or a temporary oss:// URL"
    data = resolve(url) if url.startswith("oss://") and resolve is not None else None
    if data is None:
        return "" if url.startswith("http") else f"input.audio_url {url} was not uploaded"
    shortest, longest, biggest = AUDIO_LIMITS
    wav = data[:4] == b"RIFF" and data[8:12] == b"WAVE"
    mp3 = data[:3] == b"ID3" or data[:2] in (b"\xff\xfb", b"\xff\xf3", b"\xff\xf2")
    if not (wav or mp3) or len(data) > biggest:
        return "input.audio_url must be a WAV or MP3 file of 15 MB at most"
    with tempfile.NamedTemporaryFile(suffix=".wav" if wav else ".mp3") as fh:
        fh.write(data)
        fh.flush()
        seconds = probe(Path(fh.name)).duration
    if not shortest - 0.01 <= seconds <= longest + 0.01:
        return f"input.audio_url lasts {seconds:.2f} s; it must last 3 to 30 s"
    return ""
