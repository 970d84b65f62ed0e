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
from dramaforge.media.ffmpeg import run_ffmpeg
from dramaforge.media.files import keep_only
from dramaforge.media.fonts import font_path
from dramaforge.media.probe import probe
from dramaforge.media.store import content_digest
from dramaforge.media.subtitles import ass_filter, ass_script, check_font_log
from dramaforge.media.video import concat_list
from dramaforge.schema import Cue

SEGMENT_X264 = ["-c:v", "libx264", "-preset", "veryfast", "-crf", "20", "-pix_fmt", "yuv420p"]
"""The final picture's x264 settings; segments are encoded side by side, one thread each."""
FORMAT = 2
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
    digest = content_digest(clip)
    blob = json.dumps(
        [FORMAT, digest, ass, width, height, fps, SEGMENT_X264, font.name, stat.st_size],
        ensure_ascii=False,
    )
    return hashlib.sha256(blob.encode()).hexdigest()[:32]


@dataclass(frozen=True)
class Job:
    """A segment to encode: its clip, the cues of its window (timed from its start), where."""

    clip: Path
    cues: list[Cue]
    dest: Path
    frames: int


def encode_run(
    jobs: Sequence[Job], *, width: int, height: int, fps: int, work: Path, background: bool = False
) -> None:
    """Encode ``jobs`` in one ffmpeg: their clips joined, their cues burned by one subtitle
    renderer, split back into one file per job at forced IDR frames.

    One process and one libass for many segments: loading the CJK font is most of what a
    short segment's encode costs beyond its frames. Each file starts with an IDR frame
    and holds exactly its clip's frames, so it joins by stream copy wherever it is used.
    The libass log is checked for a font fallback; every file appears complete or not at all.
    """
    first = jobs[0].dest.stem
    cuts, at, placed = [], 0, []
    for job in jobs:
        placed += [c.model_copy(update={"start": c.start + at / fps, "end": c.end + at / fps})
                   for c in job.cues]  # fmt: skip
        at += job.frames
        cuts.append(at)
    listing = concat_list([j.clip for j in jobs], work / f"{first}.txt")
    vf = [f"fps={fps}", "format=yuv420p"]
    if placed:
        script = work / f"{first}.ass"
        script.write_text("\ufeff" + ass_script(placed, width, height), encoding="utf-8")
        vf.insert(0, ass_filter(script))
    keys = "+".join(f"eq(n,{n})" for n in [0, *cuts[:-1]])
    pattern = work / f"{first}-%04d.mp4"
    # One job: no cut at all. Without a limit the segment muxer cuts every 2 s at the next
    # keyframe, and x264 puts one at a scene change (a generated clip with fast motion).
    one = ["-segment_time", "86400"]
    split = ["-segment_frames", ",".join(map(str, cuts[:-1]))] if len(jobs) > 1 else one
    log = run_ffmpeg(
        ["-f", "concat", "-safe", "0", "-i", listing, "-map", "0:v:0", "-an",
         "-vf", ",".join(vf), *SEGMENT_X264, "-threads", "1", "-r", str(fps),
         "-force_key_frames", f"expr:{keys}", "-x264-params", "forced-idr=1",
         "-f", "segment", *split, "-reset_timestamps", "1", "-segment_format", "mp4", pattern],
        what=f"encoding {len(jobs)} segments from {jobs[0].clip.name}",
        background=background,
    )  # fmt: skip
    if placed:
        check_font_log(log, f"burning subtitles into {len(jobs)} segments")
    made = sorted(work.glob(f"{first}-*.mp4"))
    if len(made) != len(jobs):
        raise AssemblyError(f"encoding {len(jobs)} segments made {len(made)} files")
    for job, path in zip(jobs, made, strict=True):
        info = probe(path)
        if abs(info.video_duration - job.frames / fps) > 0.5 / fps:
            raise AssemblyError(
                f"the segment of {job.clip.name} is {info.video_duration:.3f}s, "
                f"expected {job.frames / fps:.3f}s"
            )
    for job, path in zip(jobs, made, strict=True):
        os.replace(path, job.dest)


def build_segments(
    segments: Sequence[Segment],
    cues: Sequence[Cue],
    cache: Path,
    *,
    width: int,
    height: int,
    fps: int,
    force: bool = False,
    ahead: bool = False,
) -> tuple[list[Path], int]:
    """Each segment's encoded file (from ``cache`` when it is there) and how many were encoded.

    Missing segments are encoded by one single-threaded encoder per core, each taking a
    contiguous share of them (less CPU in all than fewer encoders with more threads each, and
    as fast on the wall clock). ``force`` encodes every segment again. Files in ``cache``
    that these segments do not use are removed, so the folder holds one episode's worth.
    Segments made ``ahead`` of the cut (a few shots at a time, while the others are still
    with the provider) leave the rest alone and take one encoder at a lower priority: the
    other core stays with the shots in progress.
    """
    cache.mkdir(parents=True, exist_ok=True)
    jobs: dict[Path, Job] = {}
    paths: list[Path] = []
    for seg in segments:
        own = window(cues, seg.start, seg.start + seg.duration)
        ass = ass_script(own, width, height) if own else ""
        dest = cache / f"{segment_key(seg.clip, ass, width, height, fps)}.mp4"
        paths.append(dest)
        if force or not _intact(dest, seg.duration, fps):
            jobs[dest] = Job(seg.clip, own, dest, round(seg.duration * fps))
    if jobs:
        runs = _shares(list(jobs.values()), 1 if ahead else os.cpu_count() or 1)
        with (
            tempfile.TemporaryDirectory(prefix=".segments-", dir=cache) as tmp,
            ThreadPoolExecutor(len(runs)) as pool,
        ):
            done = [
                pool.submit(
                    encode_run,
                    run,
                    width=width,
                    height=height,
                    fps=fps,
                    work=Path(tmp),
                    background=ahead,
                )
                for run in runs
            ]
            for future in done:
                future.result()
    if not ahead:
        keep_only(cache, paths)
    return paths, len(jobs)


def _shares(jobs: list[Job], workers: int) -> list[list[Job]]:
    """``jobs`` in at most ``workers`` contiguous runs of about equal frame counts."""
    total = sum(j.frames for j in jobs)
    runs: list[list[Job]] = [[]]
    done = 0
    for job in jobs:
        if runs[-1] and done >= total * len(runs) / workers:
            runs.append([])
        runs[-1].append(job)
        done += job.frames
    return runs


def _intact(path: Path, duration: float, fps: int) -> bool:
    """A cached segment that decodes as the right length (a damaged file is made again)."""
    if not path.is_file():
        return False
    try:
        info = probe(path)
    except AssemblyError:
        return False
    return info.has_video and abs(info.video_duration - duration) <= 0.5 / fps
