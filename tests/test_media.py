"""The media layer on real files: every input is made with ffmpeg lavfi, every check reads the
output back (probe, decoded frames and samples, loudness meter, SRT text)."""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np
import pytest

from dramaforge.errors import AssemblyError
from dramaforge.media.analysis import audio_stats, pixel_diff, read_audio, video_stats
from dramaforge.media.audio import (
    duck_mix,
    fit_audio,
    loudnorm,
    measure_loudness,
    sequence_audio,
    silence,
)
from dramaforge.media.cut import Finish, encode_episode
from dramaforge.media.ffmpeg import run_ffmpeg
from dramaforge.media.probe import probe
from dramaforge.media.subtitles import (
    _units,
    check_font_log,
    filter_escape,
    line_units,
    read_srt,
    subtitle_filter,
    wrap_text,
    write_srt,
)
from dramaforge.media.video import concat_videos, normalize_clip
from dramaforge.schema import Cue

W, H, FPS = 320, 568, 25
X264 = ["-c:v", "libx264", "-preset", "ultrafast", "-pix_fmt", "yuv420p", "-threads", "2"]
# Speech-like: a voiced buzz, syllable envelope, pauses; peaks well above its loudness.
SPEECH = (
    "aevalsrc='(sin(2*PI*180*t)+0.5*sin(2*PI*360*t)+0.3*sin(2*PI*540*t))/1.8"
    "*(0.2*abs(sin(2*PI*2.5*t))+0.8*lt(mod(t,0.8),0.01))*gt(sin(2*PI*0.4*t)+0.3,0)'"
    ":s=48000:d={d}"
)
DUAL_MONO = "pan=stereo|c0=c0|c1=c0"  # ffmpeg's own -ac 2 would put each channel 3 dB down


# --- fixtures: inputs made with lavfi --------------------------------------------------------


def lavfi(dest: Path, source: str, *extra: str) -> Path:
    run_ffmpeg(["-f", "lavfi", "-i", source, *extra, dest], what=f"making {dest.name}")
    return dest


def video(dest: Path, source: str, *extra: str) -> Path:
    return lavfi(dest, source, *X264, *extra)


def window_rms_db(data: np.ndarray, rate: int, t0: float, t1: float) -> float:
    part = data[:, int(t0 * rate) : int(t1 * rate)]
    return float(20 * np.log10(max(float(np.sqrt(np.mean(np.square(part)))), 1e-9)))


@pytest.fixture(scope="module")
def media(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A folder with a space in its name, so every path in a command is tested quoted."""
    root = tmp_path_factory.mktemp("media") / "my clips"
    root.mkdir()
    return root


@pytest.fixture(scope="module")
def wide_clip(media: Path) -> Path:
    return video(media / "wide.mp4", "testsrc2=s=640x360:r=30:d=2")


@pytest.fixture(scope="module")
def conformed(media: Path) -> list[Path]:
    """Three conforming 2 s shots at W x H, FPS (moving test pattern)."""
    shots = []
    for i in range(3):
        shots.append(
            video(
                media / f"shot{i}.mp4",
                f"testsrc2=s={W}x{H}:r={FPS}:d=2",
                "-vf",
                f"hue=h={i * 90},setsar=1",
            )
        )
    return shots


@pytest.fixture(scope="module")
def speech(media: Path) -> Path:
    return lavfi(media / "speech.wav", SPEECH.format(d=6), "-af", DUAL_MONO, "-c:a", "pcm_s16le")


# --- probe -----------------------------------------------------------------------------------


def test_probe_reads_streams(wide_clip: Path, speech: Path) -> None:
    v = probe(wide_clip)
    assert (v.has_video, v.has_audio, v.vcodec, v.pix_fmt) == (True, False, "h264", "yuv420p")
    assert (v.width, v.height, v.fps, v.sar) == (640, 360, 30.0, "1:1")
    assert v.duration == pytest.approx(2.0, abs=0.01)
    a = probe(speech)
    assert (a.has_video, a.has_audio, a.acodec) == (False, True, "pcm_s16le")
    assert (a.sample_rate, a.channels, a.duration) == (48000, 2, pytest.approx(6.0, abs=1e-3))


def test_probe_missing_or_garbage_names_the_file(tmp_path: Path) -> None:
    with pytest.raises(AssemblyError, match=r"nothere\.mp4"):
        probe(tmp_path / "nothere.mp4")
    junk = tmp_path / "junk.mp4"
    junk.write_bytes(b"not a video " * 200)
    with pytest.raises(AssemblyError, match=r"junk\.mp4"):
        probe(junk)


# --- video -----------------------------------------------------------------------------------


def test_normalize_fills_vertical_frame_exactly(wide_clip: Path, tmp_path: Path) -> None:
    longer, shorter = tmp_path / "long.mp4", tmp_path / "short.mp4"
    normalize_clip(wide_clip, longer, width=360, height=640, fps=25, duration=2.96)
    normalize_clip(wide_clip, shorter, width=360, height=640, fps=25, duration=1.2)
    for path, seconds in ((longer, 2.96), (shorter, 1.2)):
        info = probe(path)
        assert (info.width, info.height, info.sar, info.fps) == (360, 640, "1:1", 25.0)
        assert (info.vcodec, info.pix_fmt, info.has_audio) == ("h264", "yuv420p", False)
        assert info.duration == pytest.approx(seconds, abs=1e-3)
    # Cover, not fit: no letterbox bars at the top or bottom of the vertical frame.
    lumas = video_stats(longer, samples=3).lumas
    assert min(lumas) > 30
    # The padded tail holds the last frame: nothing moves after the source ends.
    assert pixel_diff(longer, longer, 2.2, (0, 0, 1, 1), t_b=2.9) < 0.1


def test_normalize_links_a_conforming_clip(conformed: list[Path], tmp_path: Path) -> None:
    dest = tmp_path / "same.mp4"
    normalize_clip(conformed[0], dest, width=W, height=H, fps=FPS, duration=2.0)
    assert dest.read_bytes() == conformed[0].read_bytes()
    assert not [p for p in tmp_path.iterdir() if p.name.startswith(".")]


def test_concat_copies_streams(conformed: list[Path], tmp_path: Path) -> None:
    dest = tmp_path / "joined.mp4"
    concat_videos(conformed, dest)
    info = probe(dest)
    assert info.duration == pytest.approx(6.0, abs=1 / FPS)
    assert (info.width, info.height, info.fps) == (W, H, FPS)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["joined.mp4"]


# --- analysis (the critic's cheap checks) ----------------------------------------------------


def test_video_stats_tell_black_frozen_and_moving(media: Path, conformed: list[Path]) -> None:
    black = video(media / "black.mp4", f"color=black:s={W}x{H}:r={FPS}:d=2")
    frozen = video(media / "frozen.mp4", f"color=0x4080c0:s={W}x{H}:r={FPS}:d=2")
    b, f, m = video_stats(black), video_stats(frozen), video_stats(conformed[0])
    assert b.black_fraction == 1.0
    assert f.black_fraction == 0.0 and f.motion < 0.5
    assert m.black_fraction == 0.0 and m.motion > 2.0
    assert len(m.lumas) == 8


def test_audio_stats_detect_clipping(media: Path) -> None:
    clean = lavfi(media / "clean.wav", "sine=f=440:d=1", "-af", f"volume=-6dB,{DUAL_MONO}")
    hot = lavfi(media / "hot.wav", "sine=f=440:d=1", "-af", f"volume=+24dB,{DUAL_MONO}")
    c, h = audio_stats(clean), audio_stats(hot)
    assert c.clipped_fraction == 0.0
    assert c.peak_dbfs == pytest.approx(-6.0 - 18.06, abs=0.2)  # lavfi's sine peaks at 1/8
    assert h.clipped_fraction > 0.2
    assert c.duration == pytest.approx(1.0, abs=1e-3)


# --- audio -----------------------------------------------------------------------------------


def test_fit_audio_pads_and_trims_to_the_sample(media: Path, tmp_path: Path) -> None:
    mono = lavfi(media / "beep.wav", "sine=f=440:d=1:sample_rate=22050")
    for seconds in (2.5, 0.4):
        dest = tmp_path / f"fit{seconds}.wav"
        fit_audio(mono, seconds, dest)
        info = probe(dest)
        assert (info.sample_rate, info.channels, info.acodec) == (48000, 2, "pcm_s16le")
        data, rate = read_audio(dest)
        assert data.shape == (2, round(seconds * 48000))
    padded, rate = read_audio(tmp_path / "fit2.5.wav")
    assert window_rms_db(padded, rate, 0.1, 0.9) == pytest.approx(-21.07, abs=0.05)  # full level
    assert window_rms_db(padded, rate, 1.1, 2.5) < -90


def test_silence_is_silent_and_exact(tmp_path: Path) -> None:
    dest = tmp_path / "quiet.wav"
    silence(1.5, dest)
    data, _ = read_audio(dest)
    assert data.shape == (2, 72000) and not data.any()


def test_sequence_places_and_sums_without_normalising(media: Path, tmp_path: Path) -> None:
    tone = lavfi(media / "tone.wav", "sine=f=440:d=0.5", "-af", f"volume=-12dB,{DUAL_MONO}")
    single, double = tmp_path / "single.wav", tmp_path / "double.wav"
    sequence_audio([(tone, 1.0)], 3.0, single)
    sequence_audio([(tone, 1.0), (tone, 1.0), (tone, 2.0)], 3.0, double, gains_db=[0, 0, -6])
    a, rate = read_audio(single)
    b, _ = read_audio(double)
    assert a.shape == b.shape == (2, 144000)
    assert window_rms_db(a, rate, 0.0, 0.95) < -90  # nothing before its start
    assert window_rms_db(a, rate, 1.05, 1.45) > -40
    # Two copies at the same time are twice as loud (+6 dB): no 1/n scaling by amix.
    assert window_rms_db(b, rate, 1.05, 1.45) - window_rms_db(a, rate, 1.05, 1.45) == (
        pytest.approx(6.02, abs=0.1)
    )
    assert window_rms_db(b, rate, 2.05, 2.45) - window_rms_db(a, rate, 1.05, 1.45) == (
        pytest.approx(-6.0, abs=0.1)
    )
    with pytest.raises(AssemblyError):
        sequence_audio([(tone, 0.0)], 1.0, tmp_path / "x.wav", gains_db=[0.0, 1.0])


def test_duck_mix_lowers_the_bed_under_speech(media: Path, tmp_path: Path) -> None:
    tone = lavfi(media / "line.wav", "sine=f=300:d=1.5", "-af", f"volume=-6dB,{DUAL_MONO}")
    dialogue = tmp_path / "dialogue.wav"
    sequence_audio([(tone, 2.0)], 5.0, dialogue)
    bed = lavfi(media / "bed.wav", "anoisesrc=c=pink:a=0.2:d=6:r=48000:seed=7", "-af", DUAL_MONO)
    mix = tmp_path / "mix.wav"
    duck_mix(dialogue, bed, mix)
    m, rate = read_audio(mix)
    d, _ = read_audio(dialogue)
    assert m.shape == d.shape  # as long as the dialogue
    ducked_bed = m - d  # the mix is an exact float sum of voice and ducked bed
    before = window_rms_db(ducked_bed, rate, 0.5, 1.8)
    during = window_rms_db(ducked_bed, rate, 2.5, 3.4)
    after = window_rms_db(ducked_bed, rate, 4.4, 5.0)
    assert before - during > 10, (before, during)
    assert after - during > 6  # it comes back once the line ends
    raw, _ = read_audio(bed)
    assert window_rms_db(raw, rate, 0.5, 1.8) - before == pytest.approx(6.0, abs=0.5)


def test_measure_loudness_of_a_known_tone(media: Path) -> None:
    # A 997 Hz sine at -20 dBFS in both channels reads -20 LUFS (EBU Tech 3341).
    # lavfi's sine peaks at 1/8 (-18.06 dBFS); -1.94 dB more makes -20 dBFS.
    tone = lavfi(
        media / "ref.wav", "sine=f=997:d=5:sample_rate=48000", "-af", f"volume=-1.94dB,{DUAL_MONO}"
    )
    loud = measure_loudness(tone)
    assert loud.integrated == pytest.approx(-20.0, abs=0.3)
    assert loud.true_peak == pytest.approx(-20.0, abs=0.3)


def test_loudnorm_hits_target_with_peaks_under_ceiling(speech: Path, tmp_path: Path) -> None:
    dest = tmp_path / "norm.wav"
    before = measure_loudness(speech)
    assert before.true_peak + (-14.0 - before.integrated) > -1.5  # needs the peak limiter
    result = loudnorm(speech, dest)
    after = measure_loudness(dest)
    assert after.integrated == pytest.approx(-14.0, abs=0.5)
    assert result.integrated == pytest.approx(after.integrated, abs=0.3)
    assert after.true_peak <= -1.3
    assert probe(dest).sample_rate == 48000
    assert probe(dest).duration == pytest.approx(6.0, abs=1e-3)


def test_loudnorm_of_silence_does_not_crash(tmp_path: Path) -> None:
    quiet, dest = tmp_path / "quiet.wav", tmp_path / "out.wav"
    silence(2.0, quiet)
    result = loudnorm(quiet, dest)
    assert result.integrated == -np.inf
    assert probe(dest).duration == pytest.approx(2.0, abs=1e-3)


# --- subtitles -------------------------------------------------------------------------------


def test_srt_round_trip(tmp_path: Path) -> None:
    cues = [
        Cue(start=0.0, end=1.25, text="你好，世界！"),
        Cue(start=1.5, end=3723.007, text="Two\nlines"),
    ]
    dest = tmp_path / "a.srt"
    write_srt(cues, dest)
    assert "01:02:03,007" in dest.read_text(encoding="utf-8")
    back = read_srt(dest)
    assert [(c.start, c.end, c.text) for c in back] == [(c.start, c.end, c.text) for c in cues]


def test_wrap_text_respects_width() -> None:
    zh = wrap_text("我今天真的非常非常高兴，因为我们终于见面了，你知道吗？", 16)
    assert all(_units(line) <= 16 for line in zh.splitlines())
    assert zh.replace("\n", "") == "我今天真的非常非常高兴，因为我们终于见面了，你知道吗？"
    assert not any(line[0] in "，。？" for line in zh.splitlines())
    en = wrap_text("The quick brown fox jumps over the lazy dog again", 20)
    assert en.splitlines() == ["The quick brown fox", "jumps over the lazy", "dog again"]
    assert wrap_text("short", 20) == "short"
    assert 20 <= line_units(720, 1280) <= 30  # 10-15 CJK characters across a 9:16 frame


def test_filter_escape_survives_the_two_parsers() -> None:
    assert filter_escape("/a b/it's: x,y[1];z") == "/a b/it\\\\\\'s\\\\: x\\,y\\[1\\]\\;z"


@pytest.fixture(scope="module")
def burned(media: Path, conformed: list[Path]) -> tuple[Path, str]:
    """conformed[0] with a Chinese subtitle burned in, from an SRT in an awkwardly named folder."""
    odd = media / "it's: a, dir"
    odd.mkdir()
    srt = odd / "字幕 1.srt"
    write_srt([Cue(start=0.0, end=2.0, text="你好，世界！这是字幕")], srt)
    out = media / "burned.mp4"
    log = run_ffmpeg(
        ["-i", conformed[0], "-vf", subtitle_filter(srt, W, H), *X264, out], what="burning"
    )
    return out, log


def test_chinese_subtitles_are_drawn(burned: tuple[Path, str], conformed: list[Path]) -> None:
    out, log = burned
    check_font_log(log, "burning")  # raises on any font fallback
    assert "fontselect: (Noto Sans CJK SC" in log
    bottom = pixel_diff(conformed[0], out, 1.0, (0.05, 0.6, 0.95, 0.95))
    top = pixel_diff(conformed[0], out, 1.0, (0.05, 0.05, 0.95, 0.4))
    assert bottom > 3.0 and bottom > 5 * top, (bottom, top)


def test_font_fallback_is_an_error(conformed: list[Path], media: Path, tmp_path: Path) -> None:
    srt = tmp_path / "s.srt"
    write_srt([Cue(start=0.0, end=1.0, text="你好")], srt)
    vf = subtitle_filter(srt, W, H).replace("Noto Sans CJK SC", "No Such Font")
    log = run_ffmpeg(["-t", "0.2", "-i", conformed[0], "-vf", vf, "-f", "null", "-"], what="x")
    with pytest.raises(AssemblyError, match="font fallback"):
        check_font_log(log, "burning")


# --- the final cut ---------------------------------------------------------------------------


def test_encode_episode(conformed: list[Path], speech: Path, tmp_path: Path) -> None:
    cues = [Cue(start=0.5, end=5.5, text="我们终于见面了")]
    dest = tmp_path / "out" / "episode.mp4"
    report = encode_episode(
        clips=conformed, audio=speech, cues=cues, finish=Finish(W, H, FPS), dest=dest,
        segment_cache=tmp_path / "segments",
    )  # fmt: skip
    info = probe(dest)
    assert (info.vcodec, info.acodec, info.width, info.height) == ("h264", "aac", W, H)
    assert (info.sample_rate, info.channels, info.fps) == (48000, 2, FPS)
    assert info.duration == pytest.approx(6.0, abs=1 / FPS)
    assert abs(info.video_duration - info.audio_duration) <= 1 / FPS
    # Within ±1 LU of the target after AAC encoding, measured on the final file.
    loud = measure_loudness(dest)
    assert loud.integrated == pytest.approx(-14.0, abs=1.0)
    assert report.loudness.integrated == pytest.approx(loud.integrated, abs=0.05)
    assert loud.true_peak <= -1.4
    assert report.duration == pytest.approx(info.duration)
    assert os.listdir(dest.parent) == ["episode.mp4"]  # no temp files left beside it
    # The subtitle is on the picture (compare with the source shot under it).
    assert pixel_diff(conformed[1], dest, 1.0, (0.1, 0.6, 0.9, 0.95), t_b=3.0) > 3.0


def test_render_refuses_mismatched_lengths(
    conformed: list[Path], media: Path, tmp_path: Path
) -> None:
    short = lavfi(media / "short.wav", SPEECH.format(d=4), "-af", DUAL_MONO, "-c:a", "pcm_s16le")
    dest = tmp_path / "episode.mp4"
    with pytest.raises(AssemblyError, match="within one frame"):
        encode_episode(
            clips=conformed, audio=short, cues=[], finish=Finish(W, H, FPS), dest=dest,
            segment_cache=tmp_path / "segments",
        )  # fmt: skip
    assert not dest.exists()
