"""A segment whose clip changes scene after 2 s stays one file: generated clips (an open
model's fast motion, random frames) make x264 put keyframes where the segment muxer, left
without a limit, cut the segment in two."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from dramaforge.media.fit import write_fitted
from dramaforge.media.probe import probe
from dramaforge.media.segments import Job, encode_run


def test_one_segment_with_a_scene_change_is_one_file(tmp_path: Path) -> None:
    rng = np.random.default_rng(0)
    # Nine unrelated smooth pictures slowed over 3.5 s (a short generated clip fitted to a
    # longer shot): a scene change every few frames, so x264 puts keyframes past 2 s.
    frames = [rng.integers(0, 255, (4, 8, 3), dtype=np.uint8) for _ in range(9)]
    clip = tmp_path / "clip.mp4"
    write_fitted(frames, clip, source_fps=16, width=360, height=640, fps=12, duration=3.5)
    work = tmp_path / "work"
    work.mkdir()
    dest = tmp_path / "segment.mp4"
    encode_run(
        [Job(clip=clip, cues=[], dest=dest, frames=42)], width=360, height=640, fps=12, work=work
    )
    assert probe(dest).duration == probe(clip).duration
