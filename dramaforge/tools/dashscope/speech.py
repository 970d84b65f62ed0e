"""Voices from Qwen-TTS (``multimodal-generation/generation``), asked for as a stream.

Qwen-TTS has no task form: DashScope offers it synchronously, as an SSE stream of the same
call and as a realtime WebSocket, none with an id to look up afterwards. The stream is
preferred: its audio (16-bit PCM at 24 kHz) starts within a second, so a long line no longer
waits out a read timeout for one late reply. A stream that breaks off still cannot be
reconciled the way an image or video submit is: the line is asked for again and may be paid
twice. That is said where it happens: the line's journal remembers a request sent without its
answer, and the next try's asset carries the note "possibly paid twice" (the manifest), its
cost counts both calls, and the shot's progress line says so.
"""

from __future__ import annotations

import base64
import logging
import os
import time
import uuid
from pathlib import Path
from typing import Any

from dramaforge.errors import ConfigError, ProviderError
from dramaforge.media.ffmpeg import run_ffmpeg
from dramaforge.media.files import write_wav
from dramaforge.media.probe import probe
from dramaforge.schema import Language, Voice
from dramaforge.tools import progress
from dramaforge.tools.dashscope.backend import ModelBackend
from dramaforge.tools.dashscope.reconcile import body_digest
from dramaforge.tools.dashscope.transport import Transport
from dramaforge.tools.dashscope.voices import DESIGN_MODEL, ENROLL_MODEL
from dramaforge.tools.protocols import Generated, SpeechRequest, SubmitIntent, TaskJournal

log = logging.getLogger(__name__)

PATH = "services/aigc/multimodal-generation/generation"
STREAM_RATE = 24000
"""Qwen-TTS streams 16-bit mono PCM at 24 kHz."""
TWICE = "possibly paid twice: an earlier request for this line got no reply and was sent again"
# Qwen-TTS system voices. Dylan (Beijing), Jada (Shanghai) and Sunny (Sichuan) speak Chinese
# dialects, so English gets the four bilingual voices only.
VOICES: dict[Language, list[str]] = {
    "zh": ["Cherry", "Ethan", "Serena", "Chelsie", "Dylan", "Jada", "Sunny"],
    "en": ["Cherry", "Ethan", "Serena", "Chelsie"],
}
LANGUAGE_TYPE: dict[Language, str] = {"zh": "Chinese", "en": "English"}


def _audio(event: dict[str, Any]) -> dict[str, Any]:
    audio = (event.get("output") or {}).get("audio")
    return audio if isinstance(audio, dict) else {}


def _verify_audio(path: Path) -> None:
    info = probe(path)
    if not info.has_audio or info.duration <= 0:
        raise ProviderError(f"{path.name} has no audio")


class DashScopeVoices(ModelBackend):
    """What both DashScope speech backends share: the system voices a model offers (Chinese
    ones for a language it lacks), and the check made before any text is spoken: a key, and
    voices for the language. Voices can be listed without a key."""

    def __init__(
        self, model: str, voices: dict[Language, list[str]], price: float, *, keyed: bool
    ) -> None:
        super().__init__(model, price)
        self.system_voices = voices
        self.keyed = keyed

    def check(self, language: Language) -> None:
        if not self.keyed:
            raise ConfigError("dashscope speech needs an API key: set DASHSCOPE_API_KEY")
        if language not in self.system_voices:
            raise ConfigError(f"{self.name} has no voices for language {language!r}")

    def voices(self, language: Language) -> list[Voice]:
        return [Voice(id=v) for v in self.system_voices.get(language, self.system_voices["zh"])]

    def system_voice(self, voice: str) -> bool:
        return any(voice in ids for ids in self.system_voices.values())

    # Voices made for a character (``agents.voices``): what each model can speak with.
    can_design = False
    can_clone = False
    designed_only = False
    """A model that speaks only voices designed for it (every character gets one)."""
    design_spec = f"dashscope:{DESIGN_MODEL}"
    clone_spec = f"dashscope:{ENROLL_MODEL}"

    def design_voice(self, description: str, name: str, language: Language) -> str:
        raise ConfigError(f"{self.name} cannot design voices")

    def clone_voice(self, sample: Path, name: str) -> str:
        raise ConfigError(f"{self.name} cannot clone voices")


class DashScopeSpeech(DashScopeVoices):
    """``dashscope:<model>`` speech backend, e.g. ``dashscope:qwen-tts``."""

    def __init__(self, model: str, transport: Transport | None, price: float = 0.0) -> None:
        super().__init__(model or "qwen-tts", VOICES, price, keyed=transport is not None)
        self.transport = transport
        # Only the qwen3-tts-vd models speak with designed voices (and only with those).
        self.can_design = self.designed_only = self.model.startswith("qwen3-tts-vd")

    def design_voice(self, description: str, name: str, language: Language) -> str:
        from dramaforge.tools.dashscope.voices import design_voice

        self.check(language)
        assert self.transport is not None
        return design_voice(self.transport, description, name, language, self.model)

    def body(self, request: SpeechRequest) -> dict[str, Any]:
        voice = request.voice.id
        if not self.system_voice(voice) and request.voice.origin != "designed":
            voice = VOICES[request.language][0]
        inputs: dict[str, Any] = {"text": request.text, "voice": voice}
        if self.model.startswith("qwen3-tts"):
            inputs["language_type"] = LANGUAGE_TYPE[request.language]
        return {"model": self.model, "input": inputs}

    def synthesize(
        self, request: SpeechRequest, dest: Path, journal: TaskJournal | None = None
    ) -> Generated:
        """One paid reply per line, even across a crash: the reply's audio URL is journaled
        before the download, so a resumed run fetches that file instead of asking again
        (unless the URL has expired meanwhile: then the line is asked for once more)."""
        self.check(request.language)
        assert self.transport is not None
        what = f"{self.model} speech"
        kept = journal.read().result if journal is not None else None
        if kept is not None:
            try:
                self._fetch(kept, dest, what)
                cost = self.price * len(request.text) / 1000  # paid by the run that died
                return Generated(duration=probe(dest).duration, cost=cost, model=self.model)
            except ProviderError as err:
                log.warning("%s: the kept reply could not be fetched (%s); asking again", what, err)
        body = self.body(request)
        again = self._sending(body, journal)
        if again:
            progress.report("dashscope", f"asked again after a lost reply: {TWICE.split(':')[0]}")
        try:
            events = self.transport.post_stream(PATH, body, what)
        except ProviderError as err:
            if journal is not None and not err.maybe_paid:
                journal.forget()  # answered, and answered no: nothing was charged
            raise
        last = events[-1]
        pcm = b"".join(base64.b64decode(a["data"]) for a in map(_audio, events) if a.get("data"))
        url = _audio(last).get("url")
        if url and journal is not None:
            journal.record_result(str(url))  # replaces the note of the request in flight
        if pcm:
            write_wav(dest, pcm, channels=1, rate=STREAM_RATE)
        elif url:
            self._fetch(str(url), dest, what)
        else:
            raise ProviderError(f"DashScope {what}: the reply has no audio")
        usage = last.get("usage") or {}
        chars = int(usage.get("characters") or len(request.text))
        cost = self.price * chars / 1000
        return Generated(
            duration=probe(dest).duration,
            cost=cost * 2 if again else cost,
            model=self.model,
            note=TWICE if again else "",
        )

    def _sending(self, body: dict[str, Any], journal: TaskJournal | None) -> bool:
        """Note in the journal that ``body`` goes out now; True when an earlier request for
        it went out and its reply never came (this one may pay a second time)."""
        if journal is None:
            return False
        earlier = journal.read().intent
        journal.intend(
            SubmitIntent(model=self.model, body_sha256=body_digest(body), sent_at=time.time())
        )
        return earlier is not None and earlier.model == self.model

    def _fetch(self, url: str, dest: Path, what: str) -> None:
        """Download the reply's WAV to ``dest`` as mono 16-bit PCM."""
        assert self.transport is not None
        raw = dest.with_name(f".{dest.stem}.{uuid.uuid4().hex[:8]}.download.wav")
        try:
            self.transport.download(url, raw, _verify_audio, what)
            info = probe(raw)
            if info.channels == 1 and info.acodec.startswith("pcm_"):
                os.replace(raw, dest)
                return
            tmp = dest.with_name(f".{dest.stem}.{uuid.uuid4().hex[:8]}.mono.wav")
            try:
                run_ffmpeg(
                    ["-i", raw, "-ac", "1", "-c:a", "pcm_s16le", tmp],
                    what=f"making {dest.name} mono",
                )
                os.replace(tmp, dest)
            finally:
                tmp.unlink(missing_ok=True)
        finally:
            raw.unlink(missing_ok=True)
