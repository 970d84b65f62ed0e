"""Audio timelines, ducking and loudness, all as 48 kHz stereo WAV through ffmpeg."""

from __future__ import annotations

import json
import math
import re
from pathlib import Path

from pydantic import BaseModel

from dramaforge.errors import AssemblyError
from dramaforge.media.ffmpeg import run_ffmpeg
from dramaforge.media.memo import remembered
from dramaforge.media.probe import probe

RATE = 48000
# Timelines and mixes are float WAV: sums above full scale survive until loudnorm brings them
# down (and the critic can still see them). Leaf files (fitted, silence) are plain 16-bit.
WAV = ["-ar", str(RATE), "-ac", "2", "-c:a", "pcm_f32le"]
WAV16 = ["-ar", str(RATE), "-ac", "2", "-c:a", "pcm_s16le"]
BED_DB = -6.0  # the music-and-effects bed under the dialogue, before ducking
STEREO = f"aresample={RATE},aformat=sample_fmts=fltp:channel_layouts=stereo"


def stereo(path: Path) -> str:
    """Filter chain to 48 kHz float stereo. Mono goes to both channels at full level (ffmpeg's
    own upmix would put it 3 dB down in each, so voices would sit lower than stereo beds)."""
    info = probe(path)
    if not info.has_audio:
        raise AssemblyError(f"{path}: has no audio stream")
    return f"pan=stereo|c0=c0|c1=c0,{STEREO}" if info.channels == 1 else STEREO


class Loudness(BaseModel):
    integrated: float
    true_peak: float
    lra: float
    threshold: float = -70.0
    offset: float = 0.0


def silence(duration: float, dest: Path) -> None:
    """``duration`` seconds of digital silence, stereo 48 kHz 16-bit."""
    samples = round(duration * RATE)
    run_ffmpeg(
        [
            *("-f", "lavfi", "-i", f"anullsrc=r={RATE}:cl=stereo"),
            *("-af", f"atrim=end_sample={samples}"),
            *WAV16,
            dest,
        ],
        what=f"writing {duration:.2f}s of silence",
    )


def fit_audio(src: Path, duration: float, dest: Path) -> None:
    """``src`` as stereo 48 kHz 16-bit, padded with silence or trimmed to exactly ``duration``.

    Mono is spread to both channels; any other layout is downmixed.
    """
    samples = round(duration * RATE)
    af = f"{stereo(src)},apad=whole_len={samples},atrim=end_sample={samples}"
    run_ffmpeg(
        ["-i", src, "-vn", "-af", af, *WAV16, dest],
        what=f"fitting {src.name} to {duration:.2f}s",
    )


def sequence_audio(
    items: list[tuple[Path, float]],
    duration: float,
    dest: Path,
    gains_db: list[float] | None = None,
) -> None:
    """Place each file at its start time on a silent timeline of exactly ``duration`` seconds.

    Overlaps are summed (no per-input attenuation), so levels stay what the caller chose.
    """
    gains = [0.0] * len(items) if gains_db is None else gains_db
    if len(gains) != len(items):
        raise AssemblyError(f"{len(items)} sounds but {len(gains)} gains")
    samples = round(duration * RATE)
    inputs: list[str | Path] = _silence(duration)
    chains, labels = [], ["[0:a]"]
    for i, ((path, start), gain) in enumerate(zip(items, gains, strict=True), start=1):
        inputs += ["-i", path]
        delay = max(0, round(start * 1000))
        chains.append(f"[{i}:a]{stereo(path)},volume={gain}dB,adelay={delay}:all=1[a{i}]")
        labels.append(f"[a{i}]")
    mix = (
        f"{''.join(labels)}amix=inputs={len(labels)}:normalize=0:duration=first,"
        f"atrim=end_sample={samples}[out]"
    )
    graph = ";".join([*chains, mix])
    run_ffmpeg(
        [*inputs, "-filter_complex", graph, "-map", "[out]", *WAV, dest],
        what=f"laying out {len(items)} sounds",
    )


def duck_mix(dialogue: Path, bed: Path, dest: Path, bed_gain_db: float = BED_DB) -> None:
    """Dialogue over the bed, the bed pushed down while anyone speaks (sidechain compression).

    The result is as long as ``dialogue``; a shorter bed leaves silence under the end.
    """
    graph = (
        f"[0:a]{stereo(dialogue)},asplit=2[voice][key];"
        f"[1:a]{stereo(bed)},volume={bed_gain_db}dB,apad[bed];"
        "[bed][key]sidechaincompress=threshold=0.015:ratio=10:attack=15:release=350:makeup=1[ducked];"
        "[voice][ducked]amix=inputs=2:normalize=0:duration=first[out]"
    )
    run_ffmpeg(
        ["-i", dialogue, "-i", bed, "-filter_complex", graph, "-map", "[out]", *WAV, dest],
        what="ducking the music under the dialogue",
    )


def _loudnorm_json(stderr: str) -> dict[str, str]:
    found = re.findall(r"\{[^{}]*\"input_i\"[^{}]*\}", stderr)
    if not found:
        raise AssemblyError("loudness measurement printed no result")
    data: dict[str, str] = json.loads(found[-1])
    return data


def _num(value: str) -> float:
    try:
        return float(value)
    except ValueError:
        return -math.inf


# EBU R128 meter: ``ebur128`` runs about four times faster than ``loudnorm``'s measuring pass
# (which resamples everything to 192 kHz) and measures the same integrated loudness and true
# peak (within 0.1 LU / 0.1 dB on speech, music and the finished episodes).
METER = "ebur128=peak=true:framelog=quiet"
SILENT_LUFS = -70.0  # the meter's floor: nothing above the absolute gate
_SUMMARY = re.compile(
    r"Summary:.*?I:\s*(?P<i>\S+) LUFS\s*Threshold:\s*(?P<thresh>\S+) LUFS"
    r".*?LRA:\s*(?P<lra>\S+) LU.*?Peak:\s*(?P<tp>\S+) dBFS",
    re.DOTALL,
)


def parse_meter(log: str) -> Loudness:
    """The loudness an ``ebur128`` filter printed into ``log`` (the last summary in it)."""
    found = list(_SUMMARY.finditer(log))
    if not found:
        raise AssemblyError("loudness measurement printed no result")
    d = found[-1]
    integrated = _num(d["i"])
    if integrated <= SILENT_LUFS:
        integrated = -math.inf
    return Loudness(
        integrated=integrated,
        true_peak=_num(d["tp"]),
        lra=_num(d["lra"]),
        threshold=_num(d["thresh"]) if math.isfinite(integrated) else SILENT_LUFS,
    )


def measure_loudness(path: Path) -> Loudness:
    """EBU R128 integrated loudness (LUFS), true peak (dBTP) and loudness range of ``path``.

    Only the audio stream is read (``-vn``): measuring an episode never decodes its video.
    An unchanged file is measured once per process (``memo``).
    """

    def meter() -> Loudness:
        err = run_ffmpeg(
            ["-i", path, "-vn", "-af", METER, "-f", "null", "-"],
            what=f"measuring the loudness of {path.name}",
        )
        return parse_meter(err)

    return remembered("loudness", path, meter).model_copy()


def mix_episode(
    voices: list[tuple[Path, float]],
    bed: Path,
    duration: float,
    dest: Path,
    bed_gain_db: float = -6.0,
) -> Loudness:
    """Dialogue laid out on the timeline over the ducked bed, measured, in one ffmpeg pass.

    The same graph as ``sequence_audio`` followed by ``duck_mix`` (voices placed and summed,
    the bed pushed down while anyone speaks), with the loudness meter on a branch of the
    result, so the mix is written and measured without reading it back.
    """
    samples = round(duration * RATE)
    inputs: list[str | Path] = _silence(duration)
    chains, labels = [], ["[0:a]"]
    for i, (path, start) in enumerate(voices, start=1):
        inputs += ["-i", path]
        chains.append(f"[{i}:a]{stereo(path)},adelay={max(0, round(start * 1000))}:all=1[a{i}]")
        labels.append(f"[a{i}]")
    b = len(voices) + 1
    inputs += ["-i", bed]
    chains += [
        f"{''.join(labels)}amix=inputs={len(labels)}:normalize=0:duration=first,"
        f"atrim=end_sample={samples},asplit=2[voice][key]",
        f"[{b}:a]{stereo(bed)},volume={bed_gain_db}dB,apad[bed]",
        "[bed][key]sidechaincompress=threshold=0.015:ratio=10:attack=15:release=350:makeup=1[ducked]",
        "[voice][ducked]amix=inputs=2:normalize=0:duration=first,asplit=2[out][m]",
        f"[m]{METER},anullsink",
    ]
    log = run_ffmpeg(
        [*inputs, "-filter_complex", ";".join(chains), "-map", "[out]", *WAV, dest],
        what=f"mixing {len(voices)} lines over the score",
    )
    return parse_meter(log)


def gain_to(
    src: Path, measured: Loudness, work: Path, target_lufs: float, true_peak: float
) -> tuple[Path, float]:
    """The audio to encode and the linear gain (dB) that brings it to ``target_lufs``.

    Usually ``src`` itself: the gain is applied in the final encode, no pass of its own.
    Speech has high peaks for its loudness: where the gain would push the true peak over
    the ceiling, the peaks are limited first (a brickwall a dB under the ceiling; one
    audio-only pass that also measures), and the remaining gain stays linear.
    """
    if not math.isfinite(measured.integrated):  # digital silence: nothing to normalise
        return src, 0.0
    gain = target_lufs - measured.integrated
    if measured.true_peak + gain <= true_peak:
        return src, gain
    limited = work / f".limited-{src.stem}.wav"
    ceiling = 10 ** ((true_peak - 1.0) / 20)
    log = run_ffmpeg(
        [
            *("-i", src, "-filter_complex"),
            f"[0:a]{STEREO},volume={gain:.2f}dB,"
            f"alimiter=limit={ceiling:.4f}:attack=2:release=60:level=disabled,asplit=2[out][m];"
            f"[m]{METER},anullsink",
            *("-map", "[out]"),
            *WAV,
            limited,
        ],
        what=f"limiting the peaks of {src.name}",
    )
    after = parse_meter(log)
    rest = target_lufs - after.integrated if math.isfinite(after.integrated) else 0.0
    return limited, min(rest, true_peak - after.true_peak)


def loudnorm(
    src: Path, dest: Path, target_lufs: float = -14.0, true_peak: float = -1.5, lra: float = 11.0
) -> Loudness:
    """Two-pass EBU R128 normalisation to one linear gain.

    Speech has high peaks for its loudness: where the gain needed would push the true peak
    over the ceiling, the peaks are limited first (a brickwall a dB under the ceiling), so
    loudnorm can stay linear and actually reach the target instead of settling lower.
    """
    info = probe(src)
    if (info.channels, info.sample_rate) != (2, RATE):  # measure what will be played
        stereo_src = dest.with_name(f".stereo-{dest.stem}.wav")
        run_ffmpeg(
            ["-i", src, "-vn", "-af", stereo(src), *WAV, stereo_src],
            what=f"converting {src.name} to stereo",
        )
        try:
            return loudnorm(stereo_src, dest, target_lufs, true_peak, lra)
        finally:
            stereo_src.unlink(missing_ok=True)
    m = measure_loudness(src)
    if not math.isfinite(m.integrated):  # digital silence: nothing to normalise
        run_ffmpeg(["-i", src, "-af", STEREO, *WAV, dest], what="copying silent audio")
        return m
    gain = target_lufs - m.integrated
    if m.true_peak + gain > true_peak:
        limited = dest.with_name(f".limited-{dest.stem}.wav")
        ceiling = 10 ** ((true_peak - 1.0) / 20)
        run_ffmpeg(
            [
                "-i",
                src,
                "-af",
                f"{STEREO},volume={gain:.2f}dB,"
                f"alimiter=limit={ceiling:.4f}:attack=2:release=60:level=disabled",
                *WAV,
                limited,
            ],
            what=f"limiting the peaks of {src.name}",
        )
        try:
            return _apply(limited, dest, measure_loudness(limited), target_lufs, true_peak, lra)
        finally:
            limited.unlink(missing_ok=True)
    return _apply(src, dest, m, target_lufs, true_peak, lra)


def _apply(
    src: Path, dest: Path, m: Loudness, target_lufs: float, true_peak: float, lra: float
) -> Loudness:
    target_lra = min(50.0, max(lra, m.lra + 1.0))  # a wider range than measured keeps it linear
    af = (
        f"loudnorm=I={target_lufs}:TP={true_peak}:LRA={target_lra:.1f}:"
        f"measured_I={m.integrated}:measured_TP={m.true_peak}:measured_LRA={m.lra}:"
        f"measured_thresh={m.threshold}:offset={m.offset}:linear=true:print_format=json,"
        f"{STEREO}"
    )
    err = run_ffmpeg(["-i", src, "-af", af, *WAV, dest], what=f"normalising {src.name}")
    d = _loudnorm_json(err)
    return Loudness(
        integrated=_num(d["output_i"]), true_peak=_num(d["output_tp"]), lra=_num(d["output_lra"])
    )


def _silence(duration: float) -> list[str | Path]:
    """ffmpeg input arguments for ``duration`` seconds of stereo silence: the timeline that
    every placed sound is mixed onto, so the mix is exactly as long as the cut."""
    return ["-f", "lavfi", "-t", f"{duration:.6f}", "-i", f"anullsrc=r={RATE}:cl=stereo"]


FADE_OUT = 0.6  # a trimmed music bed ends on a fade, not a cut mid-note


def trim_audio(src: Path, duration: float, dest: Path) -> None:
    """The first ``duration`` seconds of ``src``, fading out over its last moments."""
    samples = round(duration * RATE)
    fade = min(FADE_OUT, duration / 4)
    af = (
        f"{stereo(src)},atrim=end_sample={samples},apad=whole_len={samples},"
        f"afade=t=out:st={max(duration - fade, 0):.3f}:d={fade:.3f}"
    )
    run_ffmpeg(["-i", src, "-vn", "-af", af, *WAV16, dest], what=f"trimming {src.name}")


def only_spans(
    src: Path, spans: list[tuple[float, float]], dest: Path, *, start: float = 0.0, end: float
) -> None:
    """``src`` from ``start`` to ``end`` with everything outside ``spans`` silenced.

    One speaker's lines out of a shot's voice track, for a lip-sync model: the narrator's or
    another speaker's words must not move this speaker's lips. Spans are in ``src``'s time.
    """
    kept = "+".join(f"between(t,{a:.3f},{b:.3f})" for a, b in spans) or "0"
    af = (
        f"volume=0:enable='not({kept})',atrim=start={start:.6f}:end={end:.6f},"
        f"asetpts=PTS-STARTPTS,apad=whole_dur={end - start:.6f}"
    )
    run_ffmpeg(["-i", src, "-vn", "-af", af, *WAV16, dest], what=f"isolating lines of {src.name}")
