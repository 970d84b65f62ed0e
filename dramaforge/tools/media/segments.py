"""The episode's picture as one cached segment per shot, joined by stream copy.

After a one-line edit only one shot changes, yet the whole episode used to be encoded again
(every frame through x264 once more). Here each shot's segment is encoded once, at the final
settings, with the subtitles of its own time window burned in, and kept under a key made of
what decides its pixels: the conformed clip's content, that window's ASS script, the frame
size and rate, the encoder's settings and the font. The episode is then the segments joined
by the concat demuxer with ``-c:v copy``: an edit encodes one segment, not the episode.

A cue that crosses a cut is split at the cut and drawn on both sides from the same style and
text, so it looks the same as it would in one pass over the whole episode.
"""

from __future__ import annotations

import hashlib
import json
import os
import tempfile
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path

from dramaforge.errors import AssemblyError
from dramaforge.schema import Cue
from dramaforge.tools.media.ffmpeg import run_ffmpeg
from dramaforge.tools.media.fonts import font_path
from dramaforge.tools.media.memo import remembered
from dramaforge.tools.media.probe import probe
from dramaforge.tools.media.store import file_digest
from dramaforge.tools.media.subtitles import ass_filter, ass_script, check_font_log

SEGMENT_X264 = ["-c:v", "libx264", "-preset", "veryfast", "-crf", "20", "-pix_fmt", "yuv420p"]
"""FINAL_X264 without its thread count: segments are encoded side by side, one thread each."""
FORMAT = 1
"""Bump when the way a segment is made changes, so older cached segments are not reused."""


@dataclass(frozen=True)
class Segment:
    """One shot's picture: its conformed clip, where it starts in the episode, how long."""

    clip: Path
    start: float
    duration: float


def window(cues: Sequence[Cue], start: float, end: float) -> list[Cue]:
    """The cues on screen in ``[start, end)``, clipped to it and timed from ``start``."""
    return [
        c.model_copy(update={"start": max(c.start, start) - start, "end": min(c.end, end) - start})
        for c in cues
        if c.end > start and c.start < end
    ]


def segment_key(clip: Path, ass: str, width: int, height: int, fps: int) -> str:
    """What decides a segment's pixels, hashed: clip content, its ASS, size, rate, encoder, font."""
    font = font_path()
    stat = font.stat()
    digest = remembered("sha256", clip, lambda: file_digest(clip))
    blob = json.dumps(
        [FORMAT, digest, ass, width, height, fps, SEGMENT_X264, font.name, stat.st_size],
        ensure_ascii=False,
    )
    return hashlib.sha256(blob.encode()).hexdigest()[:32]


def encode_segment(
    clip: Path, ass: str | None, dest: Path, *, fps: int, threads: int, work: Path
) -> None:
    """Encode ``clip`` to ``dest`` at the final settings, ``ass`` burned in when given.

    The clip already conforms (size, rate, length), so every frame is kept as it is; the
    libass log is checked for a font fallback, as for a whole-episode pass. ``dest`` appears
    complete or not at all.
    """
    vf = [f"fps={fps}", "format=yuv420p"]
    if ass is not None:
        script = work / f"{dest.stem}.ass"
        script.write_text("\ufeff" + ass, encoding="utf-8")
        vf.insert(0, ass_filter(script))
    tmp = dest.with_name(f".{dest.stem}.tmp.mp4")
    try:
        log = run_ffmpeg(
            ["-i", clip, "-map", "0:v:0", "-an", "-vf", ",".join(vf), *SEGMENT_X264,
             "-threads", str(threads), "-r", str(fps), tmp],
            what=f"encoding the segment of {clip.name}",
        )  # fmt: skip
        if ass is not None:
            check_font_log(log, f"burning subtitles into the segment of {clip.name}")
        os.replace(tmp, dest)
    finally:
        tmp.unlink(missing_ok=True)


def build_segments(
    segments: Sequence[Segment],
    cues: Sequence[Cue],
    cache: Path,
    *,
    width: int,
    height: int,
    fps: int,
    force: bool = False,
) -> tuple[list[Path], int]:
    """Each segment's encoded file (from ``cache`` when it is there) and how many were encoded.

    Missing segments are encoded side by side, one single-threaded encoder per core (less CPU
    in all than fewer encoders with more threads each, and as fast on the wall clock).
    ``force`` encodes every segment again. Files in ``cache`` that this episode no longer uses
    are removed, so the folder holds one episode's worth of segments.
    """
    cache.mkdir(parents=True, exist_ok=True)
    jobs: list[tuple[Path, str | None, Path]] = []
    paths: list[Path] = []
    for seg in segments:
        own = window(cues, seg.start, seg.start + seg.duration)
        ass = ass_script(own, width, height) if own else None
        dest = cache / f"{segment_key(seg.clip, ass or '', width, height, fps)}.mp4"
        paths.append(dest)
        if force or not _intact(dest, seg.duration, fps):
            jobs.append((seg.clip, ass, dest))
    unique = list({dest: (clip, ass, dest) for clip, ass, dest in jobs}.values())
    if unique:
        workers = max(1, min(len(unique), os.cpu_count() or 1))
        with (
            tempfile.TemporaryDirectory(prefix=".segments-", dir=cache) as tmp,
            ThreadPoolExecutor(workers) as pool,
        ):
            done = [
                pool.submit(encode_segment, c, a, d, fps=fps, threads=1, work=Path(tmp))
                for c, a, d in unique
            ]
            for future in done:
                future.result()
    _sweep(cache, set(paths))
    return paths, len(unique)


def _intact(path: Path, duration: float, fps: int) -> bool:
    """A cached segment that decodes as the right length (a damaged file is made again)."""
    if not path.is_file():
        return False
    try:
        info = probe(path)
    except AssemblyError:
        return False
    return info.has_video and abs(info.video_duration - duration) <= 0.5 / fps


def _sweep(cache: Path, keep: set[Path]) -> None:
    """Remove the segments (and any leftover temp files) this episode no longer uses."""
    for path in cache.iterdir():
        if path.is_file() and path not in keep:
            path.unlink(missing_ok=True)
