"""The fake DashScope's lip-sync models: ``wan2.2-s2v``, its ``wan2.2-s2v-detect`` check, and
``videoretalk``, with the request checks their API references state.

* ``POST /api/v1/services/aigc/image2video/video-synthesis`` (async): ``wan2.2-s2v`` takes
  ``input.image_url`` (JPG/PNG/BMP/WEBP, sides 400-7000 px) and ``input.audio_url`` (WAV or
  MP3, under 20 s, 15 MB at most), ``parameters.resolution`` 480P or 720P; the result is
  ``output.results.video_url``. ``videoretalk`` takes ``input.video_url`` (H.264/H.265,
  2-120 s, 15-60 fps, sides 640-2048 px), ``input.audio_url`` (WAV/MP3/AAC, 2-120 s, 30 MB)
  and an optional ``input.ref_image_url``; the result is ``output.video_url``. Both bill
  ``usage.video_duration`` seconds (the audio's length for s2v, the video's for retalk).
* ``POST /api/v1/services/aigc/image2video/face-detect`` (synchronous): ``wan2.2-s2v-detect``
  on ``input.image_url``; ``output.check_pass`` and ``output.humanoid``, ``usage.image_count``.

Inputs are URLs only: ``oss://`` files uploaded to the fake's temporary storage (with the
resolve header) or plain http(s) URLs, which the fake does not fetch. The retalk result is
the uploaded clip itself (the real model returns the same clip with new lips); the s2v result
is a test pattern as long as the voice.
"""

from __future__ import annotations

import tempfile
from collections.abc import Callable
from io import BytesIO
from pathlib import Path
from typing import Any

from PIL import Image

from dramaforge.media.probe import probe

API = "/api/v1"
LIPSYNC_PATH = f"{API}/services/aigc/image2video/video-synthesis"
DETECT_PATH = f"{API}/services/aigc/image2video/face-detect"
S2V_MODELS = ("wan2.2-s2v",)
RETALK_MODELS = ("videoretalk",)
DETECT_MODELS = ("wan2.2-s2v-detect",)

Resolve = Callable[[str], bytes | None]


def _probe_bytes(data: bytes, suffix: str) -> Any:
    with tempfile.NamedTemporaryFile(suffix=suffix) as fh:
        fh.write(data)
        fh.flush()
        return probe(Path(fh.name))


def _file(inputs: dict[str, Any], name: str, resolve: Resolve) -> tuple[bytes | None, str]:
    """The bytes behind ``input.<name>`` (None for an http URL), or a refusal."""
    url = str(inputs.get(name) or "")
    if not url:
        return None, f"input.{name} is required"
    if url.startswith(("http://", "https://")):
        return None, ""
    if not url.startswith("oss://"):
        return None, f"input.{name} must be a public HTTP(S) URL or a temporary oss:// URL"
    data = resolve(url)
    return data, "" if data is not None else f"input.{name} {url} was not uploaded"


def _image(data: bytes, name: str, sides: tuple[int, int], biggest: int) -> str:
    if len(data) > biggest:
        return f"input.{name}: file over {biggest // 2**20} MB"
    try:
        with Image.open(BytesIO(data)) as img:
            fmt, size = img.format, img.size
    except OSError:
        return f"input.{name}: not an image"
    if fmt not in ("JPEG", "PNG", "BMP", "WEBP"):
        return f"input.{name}: {fmt} is not supported"
    if not sides[0] <= min(size) or max(size) > sides[1]:
        return f"input.{name}: {size[0]}x{size[1]}; sides must be {sides[0]} to {sides[1]} px"
    return ""


def _audio(data: bytes, name: str, seconds: tuple[float, float], biggest: int) -> str:
    wav = data[:4] == b"RIFF" and data[8:12] == b"WAVE"
    mp3 = data[:3] == b"ID3" or data[:2] in (b"\xff\xfb", b"\xff\xf3", b"\xff\xf2")
    if not (wav or mp3) or len(data) > biggest:
        return f"input.{name} must be a WAV or MP3 file of {biggest // 2**20} MB at most"
    length = _probe_bytes(data, ".wav" if wav else ".mp3").duration
    low, high = seconds
    if not low - 0.01 <= length < high:
        return f"input.{name} lasts {length:.2f} s; it must last {low:g} to {high:g} s"
    return ""


def invalid(body: dict[str, Any], resolve: Resolve) -> str:
    """What the real lip-sync models would reject (a subset), or ''."""
    model = str(body.get("model") or "")
    inputs = body.get("input") or {}
    params = body.get("parameters") or {}
    if model in S2V_MODELS:
        if params.get("resolution") not in ("480P", "720P"):
            return "parameters.resolution must be 480P or 720P"
        image, problem = _file(inputs, "image_url", resolve)
        if problem or (image and (problem := _image(image, "image_url", (400, 7000), 10 << 20))):
            return problem
        audio, problem = _file(inputs, "audio_url", resolve)
        if problem or (audio and (problem := _audio(audio, "audio_url", (0.0, 20.0), 15 << 20))):
            return problem
        return ""
    if model in RETALK_MODELS:
        video, problem = _file(inputs, "video_url", resolve)
        if problem:
            return problem
        if video is not None:
            info = _probe_bytes(video, ".mp4")
            if info.vcodec not in ("h264", "hevc"):
                return f"input.video_url: {info.vcodec} is not H.264 or H.265"
            if not 2.0 - 0.01 <= info.duration <= 120.0:
                return f"input.video_url lasts {info.duration:.2f} s; it must last 2 to 120 s"
            if not 15 <= info.fps <= 60:
                return f"input.video_url runs at {info.fps:g} fps; 15 to 60 are accepted"
            if min(info.width, info.height) < 640 or max(info.width, info.height) > 2048:
                return f"input.video_url is {info.width}x{info.height}; sides must be 640-2048"
        audio, problem = _file(inputs, "audio_url", resolve)
        if problem or (audio and (problem := _audio(audio, "audio_url", (2.0, 120.01), 30 << 20))):
            return problem
        if inputs.get("ref_image_url"):
            face, problem = _file(inputs, "ref_image_url", resolve)
            if problem:
                return problem
            if face and (problem := _image(face, "ref_image_url", (1, 9999), 10 << 20)):
                return problem
        return ""
    return f"model {model} is not supported on image2video/video-synthesis"


def result_of(body: dict[str, Any], resolve: Resolve) -> dict[str, Any]:
    """What a finished task returns: the billed seconds and, for retalk, the clip itself."""
    inputs = body.get("input") or {}
    if str(body.get("model")) in RETALK_MODELS:
        video = resolve(str(inputs.get("video_url") or ""))
        seconds = _probe_bytes(video, ".mp4").duration if video else 5.0
        return {"duration": round(seconds, 2), "video": video}
    audio = resolve(str(inputs.get("audio_url") or ""))
    seconds = _probe_bytes(audio, ".wav").duration if audio else 5.0
    return {"duration": round(seconds, 2), "video": None}


def output_of(model: str, url: str) -> dict[str, Any]:
    """``output`` of a finished task: s2v answers under ``results``, retalk at the top."""
    if model in S2V_MODELS:
        return {"results": {"video_url": url}}
    return {"video_url": url}


def detect(body: dict[str, Any], resolve: Resolve, refuse: bool) -> tuple[int, dict[str, Any]]:
    """``wan2.2-s2v-detect``: (HTTP status, reply). ``refuse`` scripts a failed check."""
    if str(body.get("model")) not in DETECT_MODELS:
        return 400, {"code": "InvalidParameter", "message": "model must be wan2.2-s2v-detect"}
    image, problem = _file(body.get("input") or {}, "image_url", resolve)
    if problem or (image and (problem := _image(image, "image_url", (400, 7000), 10 << 20))):
        return 400, {"code": "InvalidParameter", "message": problem}
    output = {"check_pass": not refuse, "humanoid": not refuse}
    return 200, {"output": output, "usage": {"image_count": 1}}
