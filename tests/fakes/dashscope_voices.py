"""The fake DashScope's voice customization: Qwen-TTS voice design and CosyVoice enrollment,
with the request checks their API references state.

``POST /api/v1/services/audio/tts/customization`` (synchronous):

* ``model = "qwen-voice-design"``, ``input.action = "create"``: ``voice_prompt`` (1-2048
  characters), ``preview_text`` (1-1024), ``preferred_name`` (``^[a-zA-Z0-9_]{1,16}$``),
  ``target_model`` (a ``qwen3-tts-vd`` model), optional ``language``; ``parameters``
  ``sample_rate``/``response_format``. The reply: ``output.voice``
  (``qwen-tts-vd-<preferred_name>-voice-<date>-<4 hex>``), ``output.target_model`` and
  ``output.preview_audio`` (base64 ``data``, ``sample_rate``, ``response_format``),
  ``usage.count``.
* ``model = "voice-enrollment"``, ``input.action = "create_voice"``: ``target_model``
  (``cosyvoice-v2``/``-v3``...), ``prefix`` (lower-case letters and digits, under 10) and
  ``url``, the sample (here an ``oss://`` upload with the resolve header), a WAV or MP3 the
  reference wants 10-20 s long (the fake refuses under 3 s and over 60 s). The reply:
  ``output.voice_id`` = ``<target_model>-<prefix>-<32 hex>``, ``usage.count``.

Made voices are kept in ``Voices.made`` (id -> what made it); Qwen-TTS ``qwen3-tts-vd``
models speak only with voices designed for them, which the fake's TTS route checks.
"""

from __future__ import annotations

import base64
import io
import re
import tempfile
import threading
import time
import uuid
import wave
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from dramaforge.media.probe import probe

API = "/api/v1"
CUSTOMIZATION_PATH = f"{API}/services/audio/tts/customization"

Resolve = Callable[[str], bytes | None]
Reply = tuple[int, dict[str, Any]]


@dataclass
class Made:
    how: str  # "designed" or "cloned"
    target_model: str
    prompt: str = ""
    sample: bytes = b""


def _bad(message: str) -> Reply:
    return 400, {"code": "InvalidParameter", "message": message}


def _preview_wav(seconds: float = 1.0, rate: int = 24000) -> bytes:
    out = io.BytesIO()
    with wave.open(out, "wb") as w:
        w.setnchannels(1)
        w.setsampwidth(2)
        w.setframerate(rate)
        w.writeframes(b"\x00\x10" * int(seconds * rate))
    return out.getvalue()


class Voices:
    def __init__(self) -> None:
        self.made: dict[str, Made] = {}
        self.calls = 0
        self._lock = threading.Lock()

    def handle(self, body: dict[str, Any], resolve: Resolve, resolved_header: bool) -> Reply:
        model = body.get("model")
        action = (body.get("input") or {}).get("action")
        if model == "qwen-voice-design" and action == "create":
            reply = self._design(body)
        elif model == "voice-enrollment" and action == "create_voice":
            reply = self._enroll(body, resolve, resolved_header)
        else:
            return _bad(f"unsupported model/action {model!r}/{action!r}")
        if reply[0] == 200:
            with self._lock:
                self.calls += 1
        return reply

    def speaks(self, model: str, voice: str) -> bool:
        """Whether a ``qwen3-tts-vd`` ``model`` may speak with ``voice``."""
        made = self.made.get(voice)
        return made is not None and made.how == "designed" and made.target_model == model

    def _design(self, body: dict[str, Any]) -> Reply:
        inputs = body["input"]
        prompt = str(inputs.get("voice_prompt") or "")
        preview = str(inputs.get("preview_text") or "")
        name = str(inputs.get("preferred_name") or "")
        target = str(inputs.get("target_model") or "")
        if not 0 < len(prompt) <= 2048:
            return _bad("voice_prompt must be 1-2048 characters")
        if not 0 < len(preview) <= 1024:
            return _bad("preview_text must be 1-1024 characters")
        if not re.fullmatch(r"[a-zA-Z0-9_]{1,16}", name):
            return _bad("preferred_name must match ^[a-zA-Z0-9_]{1,16}$")
        if not target.startswith("qwen3-tts-vd"):
            return _bad(f"target_model {target!r} does not take designed voices")
        voice = f"qwen-tts-vd-{name}-voice-{time.strftime('%Y%m%d')}-{uuid.uuid4().hex[:4]}"
        with self._lock:
            self.made[voice] = Made("designed", target, prompt=prompt)
        params = body.get("parameters") or {}
        rate = int(params.get("sample_rate") or 24000)
        preview_audio = {
            "data": base64.b64encode(_preview_wav(rate=rate)).decode(),
            "sample_rate": rate,
            "response_format": params.get("response_format") or "wav",
        }
        output = {"preview_audio": preview_audio, "target_model": target, "voice": voice}
        return 200, {"output": output, "usage": {"count": 1}}

    def _enroll(self, body: dict[str, Any], resolve: Resolve, resolved_header: bool) -> Reply:
        inputs = body["input"]
        prefix = str(inputs.get("prefix") or "")
        target = str(inputs.get("target_model") or "")
        url = str(inputs.get("url") or "")
        if not re.fullmatch(r"[a-z0-9]{1,9}", prefix):
            return _bad("prefix must be lower-case letters and digits, under 10 characters")
        if not target.startswith("cosyvoice-"):
            return _bad(f"target_model {target!r} cannot be enrolled for")
        if url.startswith("oss://") and not resolved_header:
            return _bad("url error, please check url!")
        data = resolve(url) if url.startswith("oss://") else None
        if data is None:
            return _bad("url error, please check url!")
        with tempfile.TemporaryDirectory() as tmp:
            sample = Path(tmp) / "sample.wav"
            sample.write_bytes(data)
            try:
                info = probe(sample)
            except Exception:
                return 400, {"code": "Audio.DecoderError", "message": "cannot decode the audio"}
        if not info.has_audio or not 3.0 <= info.duration <= 60.0:
            return 400, {
                "code": "Audio.AudioShortError" if info.duration < 3 else "Audio.AudioLongError",
                "message": f"the sample is {info.duration:.1f} s; 10-20 s is wanted",
            }
        voice = f"{target}-{prefix}-{uuid.uuid4().hex}"
        with self._lock:
            self.made[voice] = Made("cloned", target, sample=data)
        return 200, {"output": {"voice_id": voice}, "usage": {"count": 1}}
