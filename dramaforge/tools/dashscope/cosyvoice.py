"""Voices from CosyVoice (``dashscope:cosyvoice-v2``...), over DashScope's WebSocket API.

CosyVoice has no REST endpoint: a call is one WebSocket session at ``/api-ws/v1/inference``.
The client sends ``run-task`` (model, voice, format), waits for ``task-started``, sends the
text in ``continue-task`` and ends with ``finish-task``; the server answers JSON events
(``result-generated``, then ``task-finished`` with the billed characters, or ``task-failed``
with ``error_code``/``error_message``) and the audio as binary frames. Audio is asked for as
raw 16-bit PCM and written here as a mono WAV.

Like Qwen-TTS it is synchronous, so nothing can be journaled: a refused handshake (nothing
sent) is retried; a session that breaks after ``run-task`` is not, because trying again may
bill the text twice.
"""

from __future__ import annotations

import json
import logging
import time
import uuid
from pathlib import Path
from typing import Any

from websockets.exceptions import ConnectionClosed, InvalidHandshake, InvalidStatus
from websockets.sync.client import ClientConnection, connect

from dramaforge.config import ProviderSettings
from dramaforge.errors import ConfigError, ContentRejected, ProviderError
from dramaforge.media.files import write_wav
from dramaforge.media.probe import probe
from dramaforge.schema import Language
from dramaforge.tools.dashscope.endpoints import api_root
from dramaforge.tools.dashscope.error_codes import MODERATION_CODES, TransientError
from dramaforge.tools.dashscope.speech import DashScopeVoices
from dramaforge.tools.protocols import Generated, SpeechRequest, TaskJournal

log = logging.getLogger(__name__)

RATE = 24000
# cosyvoice-v2 system voices; all speak Chinese and English. Cloned voices ("cosyvoice-v2-
# <prefix>-<id>") are passed through as given.
VOICES: dict[Language, list[str]] = {
    "zh": ["longxiaochun_v2", "longcheng_v2", "longwan_v2", "longshu_v2", "longhua_v2"],
    "en": ["longxiaochun_v2", "longcheng_v2", "longwan_v2", "longhua_v2"],
}


def websocket_url(settings: ProviderSettings) -> str:
    """``websocket_url`` if set, else the WebSocket endpoint on the HTTP base URL's host."""
    if settings.websocket_url:
        return settings.websocket_url
    root = api_root(settings.base_url).removesuffix("/api/v1")
    scheme, rest = root.split("://", 1)
    return f"{'wss' if scheme == 'https' else 'ws'}://{rest}/api-ws/v1/inference"


def _message(action: str, task_id: str, payload: dict[str, Any]) -> str:
    header = {"action": action, "task_id": task_id, "streaming": "duplex"}
    return json.dumps({"header": header, "payload": payload}, ensure_ascii=False)


class CosyVoice(DashScopeVoices):
    """``dashscope:<model>`` speech backend for CosyVoice models, e.g. ``cosyvoice-v2``."""

    def __init__(self, model: str, settings: ProviderSettings | None, price: float = 0.0) -> None:
        super().__init__(model or "cosyvoice-v2", VOICES, price, keyed=settings is not None)
        self.settings = settings
        self.can_clone = True  # voice enrollment makes voices for cosyvoice-v2 and -v3

    def clone_voice(self, sample: Path, name: str) -> str:
        """Enroll ``sample`` (uploaded to temporary storage) as a voice for this model."""
        from dramaforge.tools.dashscope.transport import Transport
        from dramaforge.tools.dashscope.voices import enroll_voice

        if self.settings is None:
            raise ConfigError("dashscope voice cloning needs an API key: set DASHSCOPE_API_KEY")
        return enroll_voice(Transport(self.settings), sample, name, self.model)

    def __repr__(self) -> str:
        return f"CosyVoice(model={self.model!r})"

    def run_task(self, request: SpeechRequest, task_id: str) -> dict[str, Any]:
        """The ``run-task`` payload for ``request``."""
        voice = request.voice.id
        if not self.system_voice(voice) and not voice.startswith("cosyvoice-"):
            voice = VOICES[request.language][0]
        parameters = {
            "text_type": "PlainText",
            "voice": voice,
            "format": "pcm",
            "sample_rate": RATE,
            "volume": 50,
            "rate": 1.0,
            "pitch": 1.0,
        }
        return {
            "task_group": "audio",
            "task": "tts",
            "function": "SpeechSynthesizer",
            "model": self.model,
            "parameters": parameters,
            "input": {},
        }

    def synthesize(
        self, request: SpeechRequest, dest: Path, journal: TaskJournal | None = None
    ) -> Generated:
        self.check(request.language)
        assert self.settings is not None
        pcm, characters = self._session(request)
        if not pcm:
            raise ProviderError(f"DashScope {self.model} speech: the task finished without audio")
        write_wav(dest, pcm[: len(pcm) - len(pcm) % 2], channels=1, rate=RATE)
        billed = characters or len(request.text)
        return Generated(
            duration=probe(dest).duration, cost=self.price * billed / 1000, model=self.model
        )

    # -- the session ------------------------------------------------------------------------

    def _connect(self) -> ClientConnection:
        """Open the socket; refusals before anything was sent (429, 5xx, resets) are retried."""
        s = self.settings
        assert s is not None and s.api_key is not None
        headers = {
            "Authorization": f"bearer {s.api_key.get_secret_value()}",
            "X-DashScope-DataInspection": "enable",
        }
        what = f"DashScope {self.model} speech"
        for attempt in range(s.max_retries + 1):
            try:
                return connect(
                    websocket_url(s),
                    additional_headers=headers,
                    open_timeout=s.timeout,
                    close_timeout=min(s.timeout, 5.0),
                    max_size=None,
                )
            except InvalidStatus as err:
                status = err.response.status_code
                if status in (401, 403):
                    raise ProviderError(
                        f"{what}: HTTP {status} (check DASHSCOPE_API_KEY and the region's URL)"
                    ) from None
                error: ProviderError = (
                    TransientError(f"{what}: HTTP {status}")
                    if status == 429 or status >= 500
                    else ProviderError(f"{what}: HTTP {status}")
                )
            except (OSError, TimeoutError, InvalidHandshake) as err:
                error = TransientError(f"{what}: {type(err).__name__}")
            if not error.retryable or attempt == s.max_retries:
                raise error
            time.sleep(s.poll_interval * 2**attempt)
        raise AssertionError("unreachable")  # pragma: no cover

    def _session(self, request: SpeechRequest) -> tuple[bytes, int]:
        """Audio bytes and billed characters of one run-task / continue / finish session."""
        assert self.settings is not None
        timeout = self.settings.timeout
        what = f"DashScope {self.model} speech"
        task_id = uuid.uuid4().hex
        audio = bytearray()
        with self._connect() as ws:
            try:
                ws.send(_message("run-task", task_id, self.run_task(request, task_id)))
                self._until(ws, "task-started", timeout, audio)
                ws.send(_message("continue-task", task_id, {"input": {"text": request.text}}))
                ws.send(_message("finish-task", task_id, {"input": {}}))
                done = self._until(ws, "task-finished", timeout, audio)
            except (ConnectionClosed, TimeoutError, OSError) as err:
                raise ProviderError(
                    f"{what}: the session broke off ({type(err).__name__}) after the text was "
                    "sent; trying again may bill it twice",
                    retryable=True,
                ) from None
        usage = (done.get("payload") or {}).get("usage") or {}
        return bytes(audio), int(usage.get("characters") or 0)

    def _until(
        self, ws: ClientConnection, event: str, timeout: float, audio: bytearray
    ) -> dict[str, Any]:
        """Read frames, keeping audio, until ``event``; ``task-failed`` raises."""
        while True:
            frame = ws.recv(timeout=timeout)
            if isinstance(frame, bytes):
                audio.extend(frame)
                continue
            message: dict[str, Any] = json.loads(frame)
            header = message.get("header") or {}
            if header.get("event") == event:
                return message
            if header.get("event") == "task-failed":
                raise _failed(self.model, header)


def _failed(model: str, header: dict[str, Any]) -> ProviderError:
    code = str(header.get("error_code") or "")
    text = f"DashScope {model} speech: task failed: {code} {header.get('error_message') or ''}"
    if code in MODERATION_CODES or "inspection" in code.lower():
        return ContentRejected(text.strip())
    transient = code.startswith(("Throttling", "InternalError")) or code == "ServiceUnavailable"
    return ProviderError(text.strip(), retryable=transient)
