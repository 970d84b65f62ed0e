"""Procedural music, ambience and sound effects: the offline stand-in for a sound model.

The description (Chinese or English) is matched against keyword lists; the sound is then
synthesised with numpy (additive tones, spectrally shaped noise, envelopes, a noise-tail
reverb). Synthesising in numpy rather than an ffmpeg filter graph gives an exact sample count,
a seeded random generator and a measured peak in one pass, with no subprocess; the file is a
stereo 48 kHz 16-bit WAV. Same request, same samples.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from functools import lru_cache
from pathlib import Path

import numpy as np
from numpy.typing import NDArray

from dramaforge.media.files import write_wav
from dramaforge.tools.protocols import Generated, SoundRequest, TaskJournal

RATE = 48_000
Signal = NDArray[np.float64]
Rng = np.random.Generator

# Peak level per kind (dBFS): beds sit under dialogue, effects are allowed to be present.
PEAK_DB = {"music": -8.0, "ambience": -20.0, "sfx": -4.0}


def _has(text: str, *words: str) -> bool:
    """Chinese words match anywhere; English words at a word start ("ring", not "bring")."""
    low = text.lower()
    return any(re.search(rf"\b{re.escape(w)}", low) if w.isascii() else w in low for w in words)


# ---------------------------------------------------------------- building blocks


def _t(n: int) -> Signal:
    return np.arange(n) / RATE


def _tone(freq: float, n: int, partials: tuple[float, ...] = (1.0,), detune: float = 0.0) -> Signal:
    t = _t(n)
    out = np.zeros(n)
    for k, amp in enumerate(partials, start=1):
        out += amp * np.sin(2 * np.pi * freq * k * (1 + detune) * t)
    return out


BLOCK = 1 << 18
"""Samples per block of long noise (5.5 s): a scene-long bed is made block by block, so its
memory is a few blocks and one output array, not six arrays the length of the scene."""


def _noise(rng: Rng, n: int, lo: float, hi: float, tilt: float = 0.0) -> Signal:
    """White noise band-limited to lo..hi Hz (soft edges); ``tilt`` dB/octave slope.

    Longer than two blocks, it is shaped block by block and overlap-added under sine windows
    (the square roots of periodic Hann: the blocks are independent, so their powers add, and
    the squared windows of overlapping halves sum to one), keeping spectrum and level steady."""
    if n <= 2 * BLOCK:
        out = _shaped(rng.standard_normal(n), lo, hi, tilt)
    else:
        hop = BLOCK // 2
        window = np.sqrt(np.hanning(BLOCK + 1)[:-1])  # squares sum to one: steady power
        out = np.zeros(n + BLOCK)
        for start in range(0, n + hop, hop):
            block = _shaped(rng.standard_normal(BLOCK), lo, hi, tilt) * window
            out[start : start + BLOCK] += block[: len(out) - start]
        out = out[hop : hop + n]
    out /= np.max(np.abs(out)) + 1e-12
    return out


def _shaped(white: Signal, lo: float, hi: float, tilt: float) -> Signal:
    n = len(white)
    spec = np.fft.rfft(white)
    spec *= _band(n, lo, hi, tilt)
    shaped: Signal = np.fft.irfft(spec, n)
    return shaped


@lru_cache(maxsize=64)
def _band(n: int, lo: float, hi: float, tilt: float) -> Signal:
    """The band-pass and tilt gains of an ``n``-sample spectrum, computed once a shape: a long
    noise is shaped block by block, every block with the same gains (read-only)."""
    f = np.fft.rfftfreq(n, 1 / RATE)
    f[0] = 1.0
    band: Signal = 1 / (1 + (lo / f) ** 4) / (1 + (f / hi) ** 4)
    band *= (f / 1000.0) ** (tilt / 6.02)
    band.flags.writeable = False
    return band


def _decay(n: int, seconds: float, attack: float = 0.002) -> Signal:
    t = _t(n)
    return np.minimum(t / attack, 1.0) * np.exp(-t / seconds)


def _place(out: Signal, sound: Signal, at: float, gain: float = 1.0) -> None:
    start = round(at * RATE)
    if start >= len(out):
        return
    end = min(len(out), start + len(sound))
    out[start:end] += gain * sound[: end - start]


def _smooth_random(rng: Rng, n: int, per_second: float) -> Signal:
    """A slow random curve in 0..1 (wind gusts, traffic swells)."""
    points = max(int(n / RATE * per_second) + 2, 2)
    curve = np.interp(np.linspace(0, points - 1, n), np.arange(points), rng.random(points))
    return np.asarray(curve, dtype=np.float64)


def _reverb(x: Signal, rng: Rng, seconds: float, mix: float) -> Signal:
    m = round(seconds * RATE)
    ir = rng.standard_normal(m) * np.exp(-_t(m) * 6.9 / seconds)
    size = 1 << int(np.ceil(np.log2(len(x) + m)))
    wet = np.fft.irfft(np.fft.rfft(x, size) * np.fft.rfft(ir, size), size)[: len(x)]
    wet *= np.max(np.abs(x)) / (np.max(np.abs(wet)) + 1e-12)
    return np.asarray((1 - mix) * x + mix * wet, dtype=np.float64)


def _fade(x: Signal, fade_in: float, fade_out: float) -> Signal:
    n = len(x)
    env = np.ones(n)
    a, b = min(round(fade_in * RATE), n), min(round(fade_out * RATE), n)
    if a:
        env[:a] = np.linspace(0, 1, a)
    if b:
        env[n - b :] *= np.linspace(1, 0, b)
    return x * env


# ---------------------------------------------------------------- music

_MOODS: dict[str, tuple[float, list[tuple[int, tuple[int, ...]]], float]] = {
    # mood -> (root Hz, progression of (semitones from root, chord), seconds per chord)
    "bright": (293.66, [(0, (0, 4, 7)), (7, (0, 4, 7)), (9, (0, 3, 7)), (5, (0, 4, 7))], 2.0),
    "sad": (220.0, [(0, (0, 3, 7)), (8, (0, 4, 7)), (3, (0, 4, 7)), (10, (0, 4, 7))], 3.5),
    "tense": (73.42, [(0, (0, 7, 13)), (1, (0, 6, 12))], 4.0),
    "romantic": (174.61, [(0, (0, 4, 7, 11)), (9, (0, 3, 7, 10)), (5, (0, 4, 7, 11))], 3.5),
    "calm": (196.0, [(0, (0, 4, 7)), (9, (0, 3, 7)), (5, (0, 4, 7)), (7, (0, 4, 7))], 3.0),
}


def music_mood(description: str) -> str:
    d = description
    if _has(
        d, "轻快", "欢快", "快乐", "开心", "活泼", "喜庆", "happy", "upbeat", "cheer", "playful"
    ):
        return "bright"
    if _has(d, "紧张", "悬疑", "恐怖", "危险", "tense", "suspense", "thriller", "danger", "horror"):
        return "tense"
    if _has(d, "悲伤", "伤感", "难过", "哀", "sad", "melanchol", "grief", "sorrow"):
        return "sad"
    if _has(d, "浪漫", "温柔", "甜", "爱", "romantic", "soft", "tender", "love", "gentle"):
        return "romantic"
    return "calm"


def _music(description: str, n: int, rng: Rng) -> Signal:
    mood = music_mood(description)
    root, progression, step = _MOODS[mood]
    bright = mood == "bright"
    partials = (1.0, 0.5, 0.3, 0.15) if bright else (1.0, 0.3, 0.08)
    seg = round(step * RATE)
    out = np.zeros(n + seg)
    for i, start in enumerate(range(0, n, seg)):
        base, chord = progression[i % len(progression)]
        length = min(seg + seg // 2, len(out) - start)  # overlap into the next chord
        env = _fade(np.ones(length), step * 0.3, step * 0.5)
        pad = np.zeros(length)
        for interval in chord:
            f = root * 2 ** ((base + interval) / 12)
            pad += _tone(f, length, partials, 0.0015) + _tone(f, length, partials, -0.0015)
        pad += 0.8 * _tone(root * 2 ** ((base - 12) / 12), length, (1.0, 0.2))
        if mood == "romantic":
            pad *= 1 + 0.25 * np.sin(2 * np.pi * 4.5 * _t(length))
        out[start : start + length] += pad * env
        if bright or mood == "romantic":  # arpeggiated plucks over the pad
            notes = 8 if bright else 4
            for k in range(notes):
                f = root * 2 ** ((base + chord[k % len(chord)] + 12) / 12)
                pluck = _tone(f, seg // 2, (1.0, 0.4, 0.2)) * _decay(seg // 2, 0.25)
                _place(out, pluck, (start + k * seg / notes) / RATE, 0.9)
    out = out[:n]
    if mood == "tense":
        beat = _tone(55.0, RATE // 4, (1.0, 0.5)) * _decay(RATE // 4, 0.06)
        for at in np.arange(0.0, n / RATE, 1.1):
            _place(out, beat, float(at), 2.5)
        out += 0.4 * _noise(rng, n, 2000, 7000) * _smooth_random(rng, n, 0.5)
    out = _reverb(out, rng, 1.8, 0.35)
    return _fade(out, min(1.0, n / RATE / 4), min(1.5, n / RATE / 3))


# ---------------------------------------------------------------- ambience


def _ambience(description: str, n: int, rng: Rng) -> Signal:
    d = description
    layers: list[Signal] = []
    if _has(d, "雨", "rain", "storm"):
        bed = _noise(rng, n, 600, 9000, tilt=-2)
        drops = np.zeros(n)
        drop = _noise(rng, 600, 2000, 8000) * _decay(600, 0.003)
        for at in rng.uniform(0, n / RATE, int(n / RATE * 40)):
            _place(drops, drop, float(at), rng.uniform(0.2, 1.0))
        layers.append(bed + 0.6 * drops)
    if _has(d, "街", "马路", "城市", "交通", "street", "traffic", "city", "road"):
        swell = 0.4 + 0.6 * _smooth_random(rng, n, 0.3)
        layers.append(_noise(rng, n, 40, 600, tilt=-3) * swell)
    if _has(d, "风", "wind", "breeze"):
        gust = 0.2 + 0.8 * _smooth_random(rng, n, 0.4)
        layers.append(_noise(rng, n, 150, 1200, tilt=-1) * gust)
    if _has(d, "夜", "night", "cricket", "虫"):
        chirps = np.zeros(n)
        chirp = _tone(4400.0, RATE // 40) * np.hanning(RATE // 40)
        for at in np.arange(rng.uniform(0, 0.5), n / RATE, 0.7):
            for k in range(3):
                _place(chirps, chirp, float(at) + k * 0.05, 0.3)
        layers.append(0.5 * _noise(rng, n, 60, 400, tilt=-2) + chirps)
    if _has(d, "海", "浪", "sea", "ocean", "wave", "beach"):
        surf = 0.15 + 0.85 * (0.5 - 0.5 * np.cos(2 * np.pi * _t(n) / 7.0))
        layers.append(_noise(rng, n, 100, 4000, tilt=-2) * surf)
    if not layers or _has(d, "教室", "办公室", "房间", "室内", "classroom", "office", "room"):
        tone = _noise(rng, n, 40, 300, tilt=-3)
        murmur = _noise(rng, n, 300, 1500) * (0.2 + 0.8 * _smooth_random(rng, n, 2.0))
        layers.append(tone + 0.25 * murmur)
    mix: Signal = np.sum([x / (np.max(np.abs(x)) + 1e-12) for x in layers], axis=0)
    return mix


# ---------------------------------------------------------------- sound effects


def _bell(rng: Rng) -> Signal:
    n = RATE * 3
    partials = (1.0, 2.76, 5.4, 8.93)
    out = sum(_tone(880.0 * p, n) * _decay(n, 1.2 / p**0.5) / p for p in partials)
    return np.asarray(out, dtype=np.float64)


def _school_bell(rng: Rng) -> Signal:
    n = round(RATE * 2.5)
    ring = _tone(1200.0, n, (1.0, 0.6, 0.4, 0.3)) * (
        0.5 + 0.5 * np.sign(np.sin(2 * np.pi * 22 * _t(n)))
    )
    return np.asarray(_fade(ring, 0.01, 0.3), dtype=np.float64)


def _doorbell(rng: Rng) -> Signal:
    out = np.zeros(RATE * 2)
    for at, f in ((0.0, 659.25), (0.5, 523.25)):
        _place(out, _tone(f, RATE, (1.0, 0.3)) * _decay(RATE, 0.5), at)
    return out


def _phone(rng: Rng) -> Signal:
    out = np.zeros(RATE * 3)
    burst = RATE
    trill = np.where(np.sin(2 * np.pi * 16 * _t(burst)) > 0, 1318.5, 1568.0)
    ring = np.sin(2 * np.pi * np.cumsum(trill) / RATE) * _fade(np.ones(burst), 0.01, 0.01)
    for at in (0.0, 1.6):
        _place(out, ring, at)
    return out


def _knock(rng: Rng) -> Signal:
    out = np.zeros(round(RATE * 1.2))
    hit = _tone(150.0, RATE // 5, (1.0, 0.5)) * _decay(RATE // 5, 0.03)
    hit += 0.5 * _noise(rng, RATE // 5, 200, 1500) * _decay(RATE // 5, 0.015)
    for at in (0.05, 0.3, 0.55):
        _place(out, hit, at)
    return out


def _footsteps(rng: Rng) -> Signal:
    out = np.zeros(RATE * 3)
    for k in range(6):
        step = _noise(rng, RATE // 4, 80, 2500, tilt=-2) * _decay(RATE // 4, 0.04)
        _place(out, step, 0.1 + k * 0.48, rng.uniform(0.7, 1.0))
    return out


def _door(rng: Rng) -> Signal:
    n = round(RATE * 1.5)
    t = _t(n)
    creak = np.sin(2 * np.pi * np.cumsum(300 + 250 * t + 40 * np.sin(2 * np.pi * 9 * t)) / RATE)
    out = 0.4 * creak * _fade(np.ones(n), 0.1, 0.4) * (t < 1.0)
    _place(out, _noise(rng, RATE // 2, 40, 500, tilt=-2) * _decay(RATE // 2, 0.08), 1.0)
    return np.asarray(out, dtype=np.float64)


def _thunder(rng: Rng) -> Signal:
    n = RATE * 5
    rumble = _noise(rng, n, 20, 300, tilt=-3) * _decay(n, 1.5, attack=0.05)
    crack = _noise(rng, n, 500, 8000) * _decay(n, 0.15)
    return rumble * (0.6 + 0.4 * _smooth_random(rng, n, 6.0)) + 0.5 * crack


def _applause(rng: Rng) -> Signal:
    n = RATE * 4
    out = np.zeros(n)
    clap = _noise(rng, RATE // 20, 800, 4000) * _decay(RATE // 20, 0.01)
    for at in rng.uniform(0, 3.8, 240):
        _place(out, clap, float(at), rng.uniform(0.3, 1.0))
    return _fade(out, 0.3, 1.0)


def _heartbeat(rng: Rng) -> Signal:
    out = np.zeros(round(RATE * 3.4))
    beat = _tone(55.0, RATE // 4, (1.0, 0.4)) * _decay(RATE // 4, 0.06, attack=0.01)
    for k in range(4):
        _place(out, beat, k * 0.85)
        _place(out, beat, k * 0.85 + 0.28, 0.7)
    return out


def _page(rng: Rng) -> Signal:
    n = round(RATE * 0.8)
    swish = _noise(rng, n, 1500, 8000) * np.hanning(n) ** 2
    return swish * (0.7 + 0.3 * np.sin(2 * np.pi * 25 * _t(n)))


def _whoosh(rng: Rng) -> Signal:
    n = round(RATE * 1.2)
    out = np.zeros(n)
    for k, (lo, hi) in enumerate(((200, 600), (500, 1500), (1200, 4000))):
        out += _noise(rng, n, lo, hi) * np.roll(np.hanning(n) ** 3, (k - 1) * n // 8)
    return out


# First match wins: specific words ("电话铃", "门铃", "上课铃") before general ones ("铃", "门").
_SFX: list[tuple[tuple[str, ...], Callable[[Rng], Signal]]] = [
    (("电话", "手机", "phone", "ringtone", "cellphone"), _phone),
    (("门铃", "doorbell"), _doorbell),
    (("上课", "下课", "学校", "校铃", "school bell", "class bell", "电铃"), _school_bell),
    (("敲门", "knock"), _knock),
    (("铃", "钟", "bell", "chime", "ring"), _bell),
    (("脚步", "footstep", "steps", "walking"), _footsteps),
    (("门", "door"), _door),
    (("雷", "thunder"), _thunder),
    (("掌声", "鼓掌", "applause", "clapping"), _applause),
    (("心跳", "heartbeat", "heart beat"), _heartbeat),
    (("翻书", "翻页", "纸", "page", "paper", "book"), _page),
]


def sfx_maker(description: str) -> Callable[[Rng], Signal]:
    for words, make in _SFX:
        if _has(description, *words):
            return make
    return _whoosh


def _sfx(description: str, n: int, rng: Rng) -> Signal:
    sound = sfx_maker(description)(rng)
    out = np.zeros(n)
    length = min(n, len(sound))
    out[:length] = _fade(sound[:length], 0.0, min(0.02, length / RATE / 4))
    return out


# ---------------------------------------------------------------- backend

_KINDS: dict[str, Callable[[str, int, Rng], Signal]] = {
    "music": _music,
    "ambience": _ambience,
    "sfx": _sfx,
}


def synthesize(request: SoundRequest) -> NDArray[np.int16]:
    """The (frames, 2) int16 samples for ``request``."""
    make = _KINDS.get(request.kind, _sfx)
    n = max(1, round(request.duration * RATE))
    rng = np.random.default_rng(request.seed)
    left = make(request.description, n, rng)
    right = left
    if request.kind == "ambience":  # a decorrelated second take of the noise gives width
        right = make(request.description, n, np.random.default_rng(request.seed + 1))
    stereo = np.stack([left, right], axis=1)
    peak = np.max(np.abs(stereo))
    if peak > 0:
        stereo *= 10 ** (PEAK_DB.get(request.kind, -4.0) / 20) / peak
    return np.asarray(np.round(stereo * 32767), dtype=np.int16)


class SynthBackend:
    """SoundBackend: procedural music, ambience and effects matched by keywords."""

    name = "local:synth"

    def generate(
        self, request: SoundRequest, dest: Path, journal: TaskJournal | None = None
    ) -> Generated:
        samples = synthesize(request)
        write_wav(dest, samples.tobytes(), channels=2, rate=RATE)
        if request.kind == "music":
            model = music_mood(request.description)
        elif request.kind == "sfx":
            model = sfx_maker(request.description).__name__.strip("_")
        else:
            model = request.kind
        return Generated(duration=len(samples) / RATE, model=f"{self.name}:{model}")
