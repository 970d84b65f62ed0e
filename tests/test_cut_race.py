"""The cut beside a starved encoder: work made ahead that leaves the cut a run of one segment.

Under load (``nice -n 10`` beside other work) the segments made ahead are slow, so the cut
meets some shots not yet encoded and encodes them, often one per encoder. A run of one
segment used to leave the segment muxer on its default (a cut every 2 s at the encoder's own
keyframes), and a clip with a scene change past 2 s came out as two files: ``encoding 1
segments made 2 files``. These tests slow the encoder down and give every clip such a cut.
"""

from __future__ import annotations

import os
import stat
import subprocess
import threading
from pathlib import Path

import numpy as np
import pytest

from dramaforge.graph.prefetch import Voiced
from dramaforge.media import ffmpeg as ffmpeg_module
from dramaforge.media.ffmpeg import ffmpeg_exe
from dramaforge.media.probe import probe
from dramaforge.media.segments import Segment, build_segments

FPS = 24


def _scene_change(dest: Path, first: str, second: str, at: float, length: float) -> Path:
    """A clip that is ``first`` until ``at`` seconds, then ``second`` (x264 puts a keyframe at
    the change)."""
    subprocess.run(
        [ffmpeg_exe(), "-y", "-v", "error",
         "-f", "lavfi", "-i", f"color={first}:s=160x120:r={FPS}:d={at}",
         "-f", "lavfi", "-i", f"color={second}:s=160x120:r={FPS}:d={length - at}",
         "-filter_complex", "[0][1]concat=n=2:v=1", "-c:v", "libx264", "-pix_fmt", "yuv420p",
         str(dest)],
        check=True,
    )  # fmt: skip
    return dest


def _starved(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, delay: float) -> None:
    """Every ffmpeg waits ``delay`` seconds before it starts: a machine busy with other work."""
    wrapper = tmp_path / "slow-ffmpeg"
    wrapper.write_text(f'#!/bin/sh\nsleep {delay}\nexec "{ffmpeg_exe()}" "$@"\n')
    wrapper.chmod(wrapper.stat().st_mode | stat.S_IEXEC)
    monkeypatch.setattr(ffmpeg_module, "ffmpeg_exe", lambda: str(wrapper))


def _colour_at(path: Path, second: float) -> float:
    """The mean brightness of the frame at ``second``."""
    raw = subprocess.run(
        [ffmpeg_exe(), "-v", "error", "-ss", f"{second}", "-i", str(path), "-frames:v", "1",
         "-f", "rawvideo", "-pix_fmt", "gray", "-"],
        check=True, capture_output=True,
    ).stdout  # fmt: skip
    return float(np.frombuffer(raw, np.uint8).mean())


def test_one_segment_with_a_scene_change_past_two_seconds_is_one_file(tmp_path: Path) -> None:
    clip = _scene_change(tmp_path / "a.mp4", "black", "white", 3.0, 4.0)
    (path,), encoded = build_segments(
        [Segment(clip, 0.0, 4.0)], [], tmp_path / "cache", width=160, height=120, fps=FPS
    )
    assert encoded == 1
    info = probe(path)
    assert abs(info.video_duration - 4.0) < 0.5 / FPS
    assert _colour_at(path, 1.0) < 30 and _colour_at(path, 3.5) > 220


def test_the_cut_finishes_what_a_starved_worker_left(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    clips = [
        _scene_change(tmp_path / f"{n}.mp4", a, b, 2.5, 3.5)
        for n, (a, b) in enumerate([("black", "white"), ("white", "black"), ("gray", "white")])
    ]
    segments = [Segment(c, 3.5 * n, 3.5) for n, c in enumerate(clips)]
    cache = tmp_path / "cache"
    _starved(tmp_path, monkeypatch, 0.4)
    voiced = Voiced()
    voiced.open("ep", ["s0", "s1", "s2"])

    def ahead() -> None:  # the worker made ahead gets to the first shot only
        build_segments(segments[:1], [], cache, width=160, height=120, fps=FPS, ahead=True)

    voiced.start("ep", ahead, "cut-ahead")
    voiced.start(
        "ep", lambda: None, "cut-ahead"
    )  # a second render's worker does not hide the first
    voiced.close("ep")  # the cut waits for every worker before it touches the cache
    assert len(list(cache.glob("*.mp4"))) == 1
    monkeypatch.setattr(os, "cpu_count", lambda: 2)  # the two left: one encoder each
    paths, encoded = build_segments(segments, [], cache, width=160, height=120, fps=FPS)
    assert encoded == 2
    assert sorted(cache.glob("*.mp4")) == sorted(paths)
    for path in paths:
        assert abs(probe(path).video_duration - 3.5) < 0.5 / FPS
    assert _colour_at(paths[1], 1.0) > 220 and _colour_at(paths[1], 3.0) < 30


def test_close_waits_for_a_worker_an_earlier_render_left(tmp_path: Path) -> None:
    voiced = Voiced()
    release = threading.Event()
    finished: list[str] = []

    def slow() -> None:
        release.wait(5)
        finished.append("first")

    voiced.open("ep", ["s1"])
    voiced.start(
        "ep", slow, "cut-ahead"
    )  # this render failed before its cut: its worker still waits
    voiced.open("ep", ["s1"])
    voiced.start("ep", lambda: finished.append("second"), "cut-ahead")
    threading.Timer(0.3, release.set).start()
    voiced.close("ep")
    assert sorted(finished) == ["first", "second"]
