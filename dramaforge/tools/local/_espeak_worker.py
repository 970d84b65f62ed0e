"""Speak one line with libespeak-ng in a fresh process; run as a script, stdlib only.

usage: python _espeak_worker.py LIBRARY DATA_DIR VOICE RATE PITCH DEST.wav  (text on stdin)

Why a process per line: libespeak-ng keeps synthesis state (pitch flutter phase and more)
across calls that neither ``espeak_Terminate`` nor the random seed resets, so the second
rendering of a line differs from the first. A fresh process is deterministic, cannot be
disturbed by other threads, and a crash in the C library cannot take the pipeline down.
Start-up costs about 30 ms.
"""

from __future__ import annotations

import ctypes
import sys
import wave

AUDIO_OUTPUT_SYNCHRONOUS = 2
ESPEAK_RATE, ESPEAK_PITCH = 1, 3
POS_CHARACTER, CHARS_UTF8 = 1, 1

_Callback = ctypes.CFUNCTYPE(
    ctypes.c_int, ctypes.POINTER(ctypes.c_short), ctypes.c_int, ctypes.c_void_p
)


def speak(library: str, data: str, voice: str, rate: int, pitch: int, text: str, dest: str) -> int:
    lib = ctypes.CDLL(library)
    lib.espeak_Initialize.argtypes = [ctypes.c_int, ctypes.c_int, ctypes.c_char_p, ctypes.c_int]
    lib.espeak_SetSynthCallback.argtypes = [_Callback]
    lib.espeak_SetVoiceByName.argtypes = [ctypes.c_char_p]
    lib.espeak_SetParameter.argtypes = [ctypes.c_int, ctypes.c_int, ctypes.c_int]
    lib.espeak_Synth.argtypes = [
        ctypes.c_void_p,
        ctypes.c_size_t,
        ctypes.c_uint,
        ctypes.c_int,
        ctypes.c_uint,
        ctypes.c_uint,
        ctypes.c_void_p,
        ctypes.c_void_p,
    ]
    rate_hz = lib.espeak_Initialize(AUDIO_OUTPUT_SYNCHRONOUS, 0, data.encode(), 0)
    if rate_hz <= 0:
        print(f"espeak-ng could not start with data at {data}", file=sys.stderr)
        return 2
    chunks: list[bytes] = []

    def collect(wav: ctypes._Pointer[ctypes.c_short], count: int, events: int | None) -> int:
        if count > 0:
            chunks.append(ctypes.string_at(wav, count * 2))
        return 0

    callback = _Callback(collect)
    lib.espeak_SetSynthCallback(callback)
    if lib.espeak_SetVoiceByName(voice.encode()) != 0:
        print(f"espeak-ng has no voice {voice!r}", file=sys.stderr)
        return 3
    lib.espeak_SetParameter(ESPEAK_RATE, rate, 0)
    lib.espeak_SetParameter(ESPEAK_PITCH, pitch, 0)
    lib.espeak_ng_SetRandSeed(1)
    raw = text.encode("utf-8") + b"\0"
    status = lib.espeak_Synth(raw, len(raw), 0, POS_CHARACTER, 0, CHARS_UTF8, None, None)
    lib.espeak_Synchronize()
    if status != 0 or not chunks:
        print(f"espeak-ng failed (status {status}) on {text!r}", file=sys.stderr)
        return 4
    with wave.open(dest, "wb") as out:
        out.setnchannels(1)
        out.setsampwidth(2)
        out.setframerate(rate_hz)
        out.writeframes(b"".join(chunks))
    return 0


if __name__ == "__main__":
    library, data, voice, rate, pitch, dest = sys.argv[1:7]
    sys.exit(
        speak(
            library,
            data,
            voice,
            int(rate),
            int(pitch),
            sys.stdin.buffer.read().decode("utf-8"),
            dest,
        )
    )
