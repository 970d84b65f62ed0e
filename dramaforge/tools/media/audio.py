"""Audio timelines, ducking and loudness, all as 48 kHz stereo WAV through ffmpeg."""

from __future__ import annotations

import json
import math
import re
from pathlib import Path

from pydantic import BaseModel

from dramaforge.errors import AssemblyError
from dramaforge.tools.media.ffmpeg import run_ffmpeg

RATE = 48000
WAV = ["-ar", str(RATE), "-ac", "2", "-c:a", "pcm_f32le"]  # float: sums never clip mid-chain
STEREO = f"aresample={RATE},aformat=sample_fmts=fltp:channel_layouts=stereo"


class Loudness(BaseModel):
    integrated: float
    true_peak: float
    lra: float
    threshold: float = -70.0
    offset: float = 0.0


def silence(duration: float, dest: Path) -> None:
    run_ffmpeg(["-f", "lavfi", "-i", f"anullsrc=r={RATE}:cl=stereo", "-t", f"{duration:.6f}",
                *WAV, dest], what=f"writing {duration:.2f}s of silence")


def fit_audio(src: Path, duration: float, dest: Path) -> None:
    """``src`` as stereo 48 kHz, padded with silence or trimmed to exactly ``duration``."""
    run_ffmpeg(["-i", src, "-af", f"{STEREO},apad,atrim=0:{duration:.6f}", *WAV, dest],
               what=f"fitting {src.name} to {duration:.2f}s")


def sequence_audio(
    items: list[tuple[Path, float]],
    duration: float,
    dest: Path,
    gains_db: list[float] | None = None,
) -> None:
    """Place each file at its start time on a silent timeline of exactly ``duration`` seconds.

    Overlaps are summed (no per-input attenuation), so levels stay what the caller chose.
    """
    gains = gains_db or [0.0] * len(items)
    inputs: list[str | Path] = ["-f", "lavfi", "-t", f"{duration:.6f}", "-i",
                                f"anullsrc=r={RATE}:cl=stereo"]
    chains, labels = [], ["[0:a]"]
    for i, ((path, start), gain) in enumerate(zip(items, gains, strict=True), start=1):
        inputs += ["-i", path]
        delay = max(0, round(start * 1000))
        chains.append(f"[{i}:a]{STEREO},volume={gain}dB,adelay={delay}:all=1[a{i}]")
        labels.append(f"[a{i}]")
    mix = (f"{''.join(labels)}amix=inputs={len(labels)}:normalize=0:duration=first,"
           f"atrim=0:{duration:.6f}[out]")
    graph = ";".join([*chains, mix])
    run_ffmpeg([*inputs, "-filter_complex", graph, "-map", "[out]", *WAV, dest],
               what=f"laying out {len(items)} sounds")


def duck_mix(dialogue: Path, bed: Path, dest: Path, bed_gain_db: float = 0.0) -> None:
    """Dialogue over the bed, the bed pushed down while anyone speaks (sidechain compression)."""
    graph = (
        f"[0:a]{STEREO},asplit=2[voice][key];"
        f"[1:a]{STEREO},volume={bed_gain_db}dB[bed];"
        "[bed][key]sidechaincompress=threshold=0.015:ratio=10:attack=15:release=350:makeup=1[ducked];"
        "[voice][ducked]amix=inputs=2:normalize=0:duration=first[out]"
    )
    run_ffmpeg(["-i", dialogue, "-i", bed, "-filter_complex", graph, "-map", "[out]", *WAV, dest],
               what="ducking the music under the dialogue")


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


def measure_loudness(path: Path) -> Loudness:
    """EBU R128 integrated loudness (LUFS), true peak (dBTP) and loudness range of ``path``."""
    err = run_ffmpeg(["-i", path, "-vn", "-af", "loudnorm=print_format=json", "-f", "null", "-"],
                     what=f"measuring the loudness of {path.name}")
    d = _loudnorm_json(err)
    return Loudness(integrated=_num(d["input_i"]), true_peak=_num(d["input_tp"]),
                    lra=_num(d["input_lra"]), threshold=_num(d["input_thresh"]),
                    offset=_num(d["target_offset"]))


def loudnorm(
    src: Path, dest: Path, target_lufs: float = -14.0, true_peak: float = -1.5, lra: float = 11.0
) -> Loudness:
    """Two-pass EBU R128 normalisation: measure, then apply one linear gain where possible."""
    m = measure_loudness(src)
    if not math.isfinite(m.integrated):  # digital silence: nothing to normalise
        run_ffmpeg(["-i", src, "-af", STEREO, *WAV, dest], what="copying silent audio")
        return m
    target_lra = min(50.0, max(lra, m.lra + 1.0))  # a wider range than measured keeps it linear
    af = (
        f"loudnorm=I={target_lufs}:TP={true_peak}:LRA={target_lra:.1f}:"
        f"measured_I={m.integrated}:measured_TP={m.true_peak}:measured_LRA={m.lra}:"
        f"measured_thresh={m.threshold}:offset={m.offset}:linear=true:print_format=json,"
        f"{STEREO}"
    )
    err = run_ffmpeg(["-i", src, "-af", af, *WAV, dest], what=f"normalising {src.name}")
    d = _loudnorm_json(err)
    return Loudness(integrated=_num(d["output_i"]), true_peak=_num(d["output_tp"]),
                    lra=_num(d["output_lra"]))
