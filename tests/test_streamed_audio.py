"""Audio measured and made in pieces, so memory does not grow with the episode's length."""

from __future__ import annotations

import wave
from pathlib import Path

import numpy as np

from dramaforge.media.analysis import speech_levels
from dramaforge.tools.local.synth import BLOCK, RATE, _noise


def test_speech_levels_follow_speech_band_energy_frame_by_frame(tmp_path: Path) -> None:
    rate, seconds = 48000, 6.0
    t = np.arange(int(rate * seconds)) / rate
    signal = np.where((t >= 2.0) & (t < 3.0), 0.5 * np.sin(2 * np.pi * 1000 * t), 0.0)
    signal += 0.3 * np.sin(2 * np.pi * 60 * t)  # a hum below the speech band, throughout
    path = tmp_path / "probe.wav"
    with wave.open(str(path), "wb") as out:
        out.setnchannels(2)
        out.setsampwidth(2)
        out.setframerate(rate)
        pcm = np.round(np.repeat(signal[:, None], 2, axis=1) * 32767).astype(np.int16)
        out.writeframes(pcm.tobytes())
    levels = speech_levels(path, 0.05)
    assert abs(len(levels) - seconds / 0.05) <= 2
    speech = levels[42:58]  # 2.1-2.9 s
    quiet = np.concatenate([levels[5:38], levels[62:115]])
    assert speech.min() > quiet.max() + 30  # the tone stands 30 dB over the hum's leakage


def test_long_noise_is_made_in_blocks_with_the_same_spectrum_and_no_seams() -> None:
    rng = np.random.default_rng(5)
    n = 5 * BLOCK + 1234
    long = _noise(rng, n, 300, 3000)
    short = _noise(np.random.default_rng(5), BLOCK, 300, 3000)
    assert len(long) == n and np.max(np.abs(long)) <= 1.0 + 1e-9

    def band_share(x: np.ndarray) -> float:
        power = np.abs(np.fft.rfft(x)) ** 2
        f = np.fft.rfftfreq(len(x), 1 / RATE)
        return float(power[(f > 300) & (f < 3000)].sum() / power.sum())

    assert band_share(long) > 0.8 and abs(band_share(long) - band_share(short)) < 0.05
    rms = [float(np.sqrt(np.mean(c**2))) for c in np.array_split(long, 40)]
    assert max(rms) / min(rms) < 1.25  # stationary: no block edges or dips between blocks
