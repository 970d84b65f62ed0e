"""Measurements the critic and the tests need: luma, motion, flicker, black frames, levels,
clipping, and where speech is in a mix."""

from __future__ import annotations

import itertools
from pathlib import Path

import av
import numpy as np
from pydantic import BaseModel

from dramaforge.errors import AssemblyError
from dramaforge.media.memo import remembered
from dramaforge.media.probe import probe

BLACK_LUMA = 16.0


class VideoStats(BaseModel):
    lumas: list[float]
    motion: float  # mean absolute luma change between consecutive samples, 0..255
    black_fraction: float


class Flicker(BaseModel):
    """Frame-to-frame luma jumps that soon reverse (up then straight back down, or the reverse).

    A camera move or a fade changes the mean luma smoothly; a cut jumps once. Flicker is the
    picture brightening and darkening again within a few frames, which neither does.
    """

    reversals: int  # jumps above the threshold soon answered by one as big the other way
    largest: float  # the largest such reversal (the smaller of its two jumps), 0..255
    frames: int


class AudioStats(BaseModel):
    duration: float
    rms_dbfs: float
    peak_dbfs: float
    clipped_fraction: float


def _small_grey(frame: av.VideoFrame) -> np.ndarray:
    w, h = max(2, frame.width // 4), max(2, frame.height // 4)
    return frame.reformat(width=w, height=h, format="gray").to_ndarray()


def video_stats(path: Path, samples: int = 8) -> VideoStats:
    """Luma at ``samples`` evenly spaced times, motion between them, share of black."""
    return _scan(path, samples)[1].model_copy(deep=True)


def frame_lumas(path: Path) -> list[float]:
    """Mean luma (0..255) of every frame (remembered per file)."""
    return list(_scan(path)[0])


def _scan(path: Path, samples: int = 8) -> tuple[list[float], VideoStats]:
    """Every frame's luma and the sampled frames' stats from one decode (remembered): the
    critic wants both of every clip, and decoding is most of what either costs."""
    return remembered("scan", path, lambda: _decode_scan(path, samples), samples)


_TV_Y = ("yuv420p", "yuv422p", "yuv444p", "nv12")  # 8-bit formats whose first plane is Y


def _luma(frame: av.VideoFrame) -> float:
    """Mean luma on the 0..255 scale of a grey conversion, read from the Y plane with no
    conversion; other formats are converted at quarter size. OpenCV sums every pixel of a
    1080x1920 plane in 0.12 ms, numpy's mean of every other pixel and row took 0.38 (the
    critic reads every frame of every clip)."""
    import cv2  # here: importing this module (the critic's) stays cheap

    if frame.format.name not in _TV_Y or frame.color_range == 2:  # 2: full (JPEG) range
        return float(_small_grey(frame).mean())
    plane = frame.planes[0]
    rows = np.frombuffer(memoryview(plane), np.uint8).reshape(-1, plane.line_size)
    y = float(cv2.mean(rows[: frame.height, : frame.width])[0])
    return (y - 16.0) * 255.0 / 219.0


def _decode_scan(path: Path, samples: int) -> tuple[list[float], VideoStats]:
    duration = probe(path).duration
    pending = [duration * (i + 0.5) / samples for i in range(samples)]
    lumas: list[float] = []
    picked: list[np.ndarray] = []
    last: av.VideoFrame | None = None
    try:
        with av.open(str(path)) as container:
            stream = container.streams.video[0]
            stream.thread_type = "AUTO"
            for frame in container.decode(stream):
                last = frame
                lumas.append(_luma(frame))
                while pending and float(frame.time or 0.0) + 1e-6 >= pending[0]:
                    picked.append(_small_grey(frame))
                    pending.pop(0)
    except (av.error.FFmpegError, IndexError) as err:
        raise AssemblyError(f"{path}: cannot decode video ({err})") from err
    if last is None:
        raise AssemblyError(f"{path}: no video frames")
    if pending:  # times past the last frame see the last frame
        picked += [_small_grey(last)] * len(pending)
    frames = [f.astype(np.float32) for f in picked]
    means = [float(f.mean()) for f in frames]
    diffs = [float(np.abs(a - b).mean()) for a, b in itertools.pairwise(frames)]
    stats = VideoStats(
        lumas=means,
        motion=float(np.mean(diffs)) if diffs else 0.0,
        black_fraction=sum(v < BLACK_LUMA for v in means) / max(1, len(means)),
    )
    return lumas, stats


def flicker(lumas: list[float], threshold: float, window: int = 3) -> Flicker:
    """Count luma reversals: a jump of more than ``threshold`` answered, within ``window``
    frames, by one the other way of more than ``threshold`` (a flash, or a flickering frame)."""
    jumps = np.diff(np.asarray(lumas, dtype=np.float64)).tolist()
    sizes = []
    for i, a in enumerate(jumps):
        back = [abs(b) for b in jumps[i + 1 : i + 1 + window] if a * b < 0]
        if back:
            sizes.append(min(abs(a), max(back)))
    return Flicker(
        reversals=sum(s > threshold for s in sizes),
        largest=round(max(sizes, default=0.0), 2),
        frames=len(lumas),
    )


def frame_at(path: Path, t: float) -> np.ndarray:
    """One RGB frame at time ``t`` (full size)."""
    try:
        with av.open(str(path)) as container:
            stream = container.streams.video[0]
            frame = None
            for frame in container.decode(stream):
                if float(frame.time or 0.0) + 1e-6 >= t:
                    break
            if frame is None:
                raise AssemblyError(f"{path}: no video frames")
            return frame.to_ndarray(format="rgb24")
    except av.error.FFmpegError as err:
        raise AssemblyError(f"{path}: cannot decode video ({err})") from err


def pixel_diff(
    a: Path, b: Path, t: float, box: tuple[float, float, float, float], *, t_b: float | None = None
) -> float:
    """Mean absolute RGB difference inside ``box`` (fractions x0, y0, x1, y1) of two frames."""
    fa, fb = frame_at(a, t), frame_at(b, t if t_b is None else t_b)
    if fa.shape != fb.shape:
        raise AssemblyError(f"frames differ in size: {fa.shape} vs {fb.shape}")
    h, w = fa.shape[:2]
    x0, y0, x1, y1 = int(box[0] * w), int(box[1] * h), int(box[2] * w), int(box[3] * h)
    region_a = fa[y0:y1, x0:x1].astype(np.float32)
    region_b = fb[y0:y1, x0:x1].astype(np.float32)
    return float(np.abs(region_a - region_b).mean())


def read_audio(path: Path) -> tuple[np.ndarray, int]:
    """All samples as float32 in [-1, 1], shape (channels, n), and the sample rate."""
    try:
        with av.open(str(path)) as container:
            stream = container.streams.audio[0]
            chunks = [f.to_ndarray().astype(np.float32) for f in container.decode(stream)]
            rate = stream.rate
            fmt = stream.format.name if stream.format else ""
    except (av.error.FFmpegError, IndexError) as err:
        raise AssemblyError(f"{path}: cannot decode audio ({err})") from err
    if not chunks:
        return np.zeros((1, 0), dtype=np.float32), rate
    data = np.concatenate(chunks, axis=1)
    if fmt.startswith("s16"):
        data = data / 32768.0
    elif fmt.startswith("s32"):
        data = data / 2147483648.0
    if data.shape[0] == 1 and fmt and not fmt.endswith("p"):
        channels = stream.channels or 1
        data = data.reshape(-1, channels).T
    return data, rate


def _db(level: float) -> float:
    return float(20 * np.log10(max(level, 1e-6)))


def rms_dbfs(samples: np.ndarray) -> float:
    """RMS level of float samples in dBFS (-120 for no samples)."""
    return _db(float(np.sqrt(np.mean(np.square(samples))))) if samples.size else -120.0


def clipped_fraction(samples: np.ndarray) -> float:
    """Share of samples at full scale."""
    return float(np.mean(np.abs(samples) >= 0.999)) if samples.size else 0.0


def audio_stats(path: Path) -> AudioStats:
    data, rate = read_audio(path)
    return AudioStats(
        duration=data.shape[1] / rate if rate else 0.0,
        rms_dbfs=rms_dbfs(data),
        peak_dbfs=_db(float(np.max(np.abs(data)))) if data.size else -120.0,
        clipped_fraction=clipped_fraction(data),
    )


SPEECH_BAND = (300.0, 3400.0)  # Hz: where speech carries its energy (telephone band)


SPEECH_RATE = 16000
"""Rate the speech band is measured at: it holds the band (up to 3.4 kHz) with room to spare."""


def speech_levels(path: Path, hop: float = 0.05) -> np.ndarray:
    """``band_levels`` of a file's audio, streamed: memory stays a few hops, whatever the length.

    The episode review reads the whole finished mix; decoding it into one array (float32,
    then float64 frames and their spectra) took about 4 MB a second of episode, the largest
    allocation of a render. Here the audio is decoded, mixed down to mono and resampled to
    ``SPEECH_RATE`` frame by frame, and each complete hop is measured as it arrives.
    """
    size = max(1, int(hop * SPEECH_RATE))
    window = np.hanning(size)
    freqs = np.fft.rfftfreq(size, 1.0 / SPEECH_RATE)
    band = (freqs >= SPEECH_BAND[0]) & (freqs <= SPEECH_BAND[1])
    levels: list[np.ndarray] = []
    pending = np.zeros(0, dtype=np.float32)

    def measure(samples: np.ndarray) -> np.ndarray:
        count = len(samples) // size
        frames = samples[: count * size].reshape(count, size) * window
        power = np.abs(np.fft.rfft(frames, axis=1)) ** 2
        levels.append(10 * np.log10(power[:, band].sum(axis=1) + 1e-12))
        return samples[count * size :]

    try:
        with av.open(str(path)) as container:
            stream = container.streams.audio[0]
            resampler = av.AudioResampler(format="flt", layout="mono", rate=SPEECH_RATE)
            for frame in container.decode(stream):
                for out in resampler.resample(frame):
                    pending = measure(np.concatenate([pending, out.to_ndarray()[0]]))
            for out in resampler.resample(None):
                pending = measure(np.concatenate([pending, out.to_ndarray()[0]]))
    except (av.error.FFmpegError, IndexError) as err:
        raise AssemblyError(f"{path}: cannot decode audio ({err})") from err
    return np.concatenate(levels) if levels else np.zeros(0)
