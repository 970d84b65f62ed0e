"""Music to video: cuts on the beats of a click track of known tempo, the track as the sound."""

from __future__ import annotations

import itertools
import wave
from pathlib import Path

import av
import numpy as np
import pytest

from dramaforge.media.analysis import read_audio
from dramaforge.media.ffmpeg import run_ffmpeg
from dramaforge.media.probe import probe
from dramaforge.modes.music import Beats, cut_frames, render_music
from tests.helpers import settings_for

pytest.importorskip("librosa")

BPM, FIRST, SECONDS = 120, 0.5, 14.0
BEATS = np.arange(FIRST, SECONDS, 60 / BPM)


def click_track(dest: Path) -> Path:
    """Clicks (1 kHz, 30 ms, decaying) on every beat at BPM from FIRST, accented on the bar,
    over a quiet hum, encoded to MP3."""
    sr = 44100
    y = 0.02 * np.sin(2 * np.pi * 110 * np.arange(int(SECONDS * sr)) / sr)
    n = int(0.03 * sr)
    click = np.sin(2 * np.pi * 1000 * np.arange(n) / sr) * np.exp(-np.arange(n) / (0.006 * sr))
    for k, b in enumerate(BEATS):
        i = round(b * sr)
        y[i : i + n] += click * (0.9 if k % 4 == 0 else 0.6)
    wav = dest.with_suffix(".wav")
    with wave.open(str(wav), "wb") as w:
        w.setnchannels(1)
        w.setsampwidth(2)
        w.setframerate(sr)
        w.writeframes((y * 32767).astype(np.int16).tobytes())
    run_ffmpeg(["-i", wav, "-c:a", "libmp3lame", "-b:a", "128k", dest], what="mp3")
    return dest


def cuts_in(path: Path) -> list[int]:
    """Frame numbers where the picture changes abruptly (a hard cut), by frame difference."""
    frames = []
    with av.open(str(path)) as container:
        for frame in container.decode(video=0):
            frames.append(frame.reformat(width=64, height=112, format="gray").to_ndarray())
    diffs = np.array(
        [np.abs(a.astype(float) - b.astype(float)).mean() for a, b in itertools.pairwise(frames)]
    )
    # A cut: a difference well above that of the frames around it (camera moves are smooth).
    cuts = []
    for i, d in enumerate(diffs):
        around = np.concatenate([diffs[max(0, i - 4) : i], diffs[i + 1 : i + 5]])
        if d > 2.0 and d > 3 * float(np.median(around)):
            cuts.append(i + 1)
    return cuts


def test_cuts_are_whole_bars_on_beat_frames() -> None:
    slow = np.arange(0.5, SECONDS, 0.75)  # 80 BPM: a 3 s bar, halved where it is loud
    grid = Beats(80.0, list(slow), [0.0, 8.0], [False, True], SECONDS)
    cuts = cut_frames(grid, 25)
    assert cuts[0] == 0 and cuts[-1] == 350
    inner = cuts[1:-1]
    assert all(min(abs(c - b * 25) for b in slow) <= 0.5 for c in inner)
    gaps = np.diff([c / 25 for c in inner])
    per = np.round(gaps / 0.75)
    assert np.all(np.abs(gaps - per * 0.75) <= 1 / 25 + 1e-9)  # whole beats, to the frame
    assert per[0] == 4 and per[-1] == 2  # a bar, then half bars in the loud section


@pytest.mark.slow
def test_music_video_cuts_on_every_beat_within_a_frame(tmp_path: Path) -> None:
    track = click_track(tmp_path / "clicks.mp3")
    script, manifest = render_music(
        track,
        "A city wakes up. Trains rush past. Lights go on at night.",
        tmp_path / "out",
        settings_for(max_takes=1),
    )
    assert script.is_file()
    path = Path(manifest.episode.path)
    info = probe(path)
    fps = 25
    assert abs(info.duration - SECONDS) <= 1 / fps + 1e-3
    planned = np.cumsum([r.duration for r in manifest.shots])[:-1]
    found = cuts_in(path)
    assert len(found) == len(planned) >= 4
    for frame in found:
        assert min(abs(frame / fps - b) for b in BEATS) <= 1 / fps + 1e-6, frame / fps
    # The soundtrack is the track: its clicks are where the beats are.
    samples, rate = read_audio(path)  # (channels, n)
    mono = np.abs(samples.mean(axis=0))
    hop = rate // 100
    env = np.array([mono[i : i + hop].max() for i in range(0, len(mono) - hop, hop)])
    loud = env > 0.5 * env.max()
    peaks = [i / 100 for i in range(1, len(env)) if loud[i] and not loud[i - 1]]
    assert len(peaks) >= len(BEATS) - 2
    assert all(min(abs(p - b) for b in BEATS) < 0.03 for p in peaks)
