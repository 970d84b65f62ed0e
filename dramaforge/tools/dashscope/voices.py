"""Voices made for a character on DashScope: designed from words, or cloned from a sample.

Both are one synchronous call to ``services/audio/tts/customization``:

- Qwen-TTS voice design (model ``qwen-voice-design``): ``input.action = "create"`` with the
  description (``voice_prompt``), a line to preview it with, a ``preferred_name`` and the
  speech model that will speak with it (``target_model``, a ``qwen3-tts-vd`` model); the reply
  holds the new voice's name (``output.voice``) and a preview clip (``output.preview_audio``).
- CosyVoice voice enrollment (model ``voice-enrollment``): ``input.action = "create_voice"``
  with a ``prefix``, the ``target_model`` (``cosyvoice-v2``/``v3``) and the sample's ``url``;
  the reply's ``output.voice_id`` names the cloned voice. The local sample goes to DashScope's
  temporary storage first (``uploads``), as every local input that must be a URL does.

A voice is paid for once: the id is kept in the (series) bible, which every later episode
reads instead of asking again. A reply that never came is not retried (``post_sync``).
"""

from __future__ import annotations

import hashlib
import re
from pathlib import Path
from typing import Any

from dramaforge.errors import ProviderError
from dramaforge.schema import Language
from dramaforge.tools.dashscope.transport import Transport

PATH = "services/audio/tts/customization"
DESIGN_MODEL = "qwen-voice-design"
ENROLL_MODEL = "voice-enrollment"
PREVIEW: dict[Language, str] = {
    "zh": "你好，很高兴认识你。这是我的声音。",
    "en": "Hello, it is good to meet you. This is my voice.",
}


def handle(name: str, limit: int) -> str:
    """An ASCII handle for ``name`` (a prefix or preferred name: letters and digits only),
    stable per name so a character's voice is recognisable in the console."""
    ascii_part = re.sub(r"[^a-z0-9]", "", name.lower())
    digest = hashlib.sha256(name.encode()).hexdigest()
    return (ascii_part[: max(0, limit - 4)] + digest)[:limit] or digest[:limit]


def design_body(
    description: str, name: str, language: Language, target_model: str
) -> dict[str, Any]:
    return {
        "model": DESIGN_MODEL,
        "input": {
            "action": "create",
            "target_model": target_model,
            "voice_prompt": description[:2048],
            "preview_text": PREVIEW[language],
            "preferred_name": handle(name, 16),
            "language": language,
        },
        "parameters": {"sample_rate": 24000, "response_format": "wav"},
    }


def enroll_body(name: str, target_model: str) -> dict[str, Any]:
    """The enrollment request; ``input.url`` is filled with the uploaded sample's URL."""
    return {
        "model": ENROLL_MODEL,
        "input": {
            "action": "create_voice",
            "target_model": target_model,
            "prefix": handle(name, 9),
        },
    }


def design_voice(
    transport: Transport, description: str, name: str, language: Language, target_model: str
) -> str:
    """A new voice for ``target_model`` from ``description``; its name."""
    what = f"voice design for {name}"
    reply = transport.post_sync(PATH, design_body(description, name, language, target_model), what)
    voice = (reply.get("output") or {}).get("voice")
    if not voice:
        raise ProviderError(f"DashScope {what}: the reply names no voice")
    return str(voice)


def enroll_voice(transport: Transport, sample: Path, name: str, target_model: str) -> str:
    """A voice cloned from ``sample`` for ``target_model``; its id."""
    what = f"voice enrollment for {name}"
    reply = transport.post_sync(
        PATH, enroll_body(name, target_model), what, files={"input.url": sample}
    )
    voice = (reply.get("output") or {}).get("voice_id")
    if not voice:
        raise ProviderError(f"DashScope {what}: the reply has no voice_id")
    return str(voice)
