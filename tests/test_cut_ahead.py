"""The cut made ahead: segments and the sound made while shots are still with the provider.

The render against a slow fake DashScope must leave most segments encoded before the
assemble stage starts, and exactly the segments the assemble node makes by itself (the same
cache keys: same clip, same subtitles, same frame), so the work ahead is used, not redone.
"""

from __future__ import annotations

import threading
import time
from pathlib import Path
from typing import Any

import pytest

from bench.measure import dialogue_script
from bench.orchestration import VIDEO, SlowDashScope
from dramaforge.config import Settings
from dramaforge.graph.nodes.assemble import CONFORMED, SEGMENTS, SOUND
from dramaforge.graph.prefetch import Voiced, cut_ahead
from dramaforge.graph.verbs import render_episode
from dramaforge.media.ffmpeg import run_ffmpeg
from dramaforge.media.files import keep_only
from dramaforge.media.probe import probe
from dramaforge.media.video import conformed
from dramaforge.schema import Take
from dramaforge.script import load_script
from dramaforge.tools.registry import registry
from tests.fakes.dashscope_tasks import Task
from tests.test_orchestration import dashscope_settings

HOLD = 120.0
"""Seconds the last clip may wait for the work made ahead (it takes a few on a quiet machine)."""


class LastClipWaits(SlowDashScope):
    """The fake provider, but the episode's last clip stays running until the work made ahead
    has encoded half the shots' segments and the finished sound (at most ``HOLD`` seconds).

    A fixed task latency alone races the background encoder, which runs at a lower priority:
    on a loaded machine every clip may be in before it had the CPU. Held, the last clip is
    the event the work ahead must beat; a render that makes nothing ahead still fails."""

    def __init__(self, latency: float, shots: int, out: Path) -> None:
        super().__init__(latency)
        self.shots, self.out = shots, out
        self.held_from: float | None = None

    def advance(self, task: Task) -> None:
        if task.model == VIDEO and self._last(task) and not self._ahead_made():
            self.held_from = self.held_from or time.time()
            if time.time() - self.held_from < HOLD:
                with self._lock:
                    self.polls[task.task_id] += 1
                    task.status = "RUNNING"
                return
        super().advance(task)

    def _last(self, task: Task) -> bool:
        with self._lock:
            clips = [t for t in self.tasks.values() if t.model == VIDEO]
        others = [t for t in clips if t is not task]
        unfinished = task.status not in ("SUCCEEDED", "FAILED")
        return unfinished and len(clips) == self.shots and all(t.ended for t in others)

    def _ahead_made(self) -> bool:
        segments = list(self.out.rglob(f"{SEGMENTS}/*.mp4"))
        return len(segments) >= self.shots // 2 and any(self.out.rglob(f"{SOUND}/*.m4a"))


@pytest.mark.slow
def test_segments_are_encoded_while_shots_wait_and_the_cut_reuses_them(tmp_path: Path) -> None:
    script = dialogue_script(7, "剪辑", tmp_path / "a.zh.txt", scenes=2)
    out = tmp_path / "out"
    started: list[float] = []

    def note(event: dict[str, Any]) -> None:
        if (event.get("stage"), event.get("status")) == ("assemble", "start"):
            started.append(time.time())

    director = registry().create("director", Settings().backends.director, Settings())
    shots = len(director.direct(load_script(script)).shots)
    with LastClipWaits(1.5, shots, out) as fake:
        settings = dashscope_settings(fake)
        manifest = render_episode(script, out, settings, on_event=note)
        cache = Path(manifest.episode.path).parent / SEGMENTS
        ahead = {p.name: p.stat().st_mtime for p in cache.glob("*.mp4")}
        assert len(ahead) >= len(manifest.shots) - 2  # shots alike in all share a segment
        early = [name for name, at in ahead.items() if at < started[0]]
        assert len(early) >= len(ahead) // 2, (len(early), len(ahead))  # most made ahead
        # The finished sound (mix, loudness, AAC) too: one, made before the cut began.
        (sound,) = (cache.parent / SOUND).glob("*.m4a")
        assert sound.stat().st_mtime < started[0]
        made = sound.stat().st_mtime_ns

        # Alone (nothing made ahead, every segment encoded by the assemble node): the same
        # segments, so each one made ahead had the key the cut looked for.
        alone = settings.model_copy(
            update={"render": settings.render.model_copy(update={"ahead": False})}
        )
        render_episode(script, out, alone, force=True)
    assert sorted(p.name for p in cache.glob("*.mp4")) == sorted(ahead)
    (again,) = (cache.parent / SOUND).glob("*.m4a")  # --force made the sound again, same key
    assert again.name == sound.name and again.stat().st_mtime_ns != made
    info = probe(Path(manifest.episode.path))
    assert info.has_video and info.has_audio
    assert abs(info.duration - sum(r.duration for r in manifest.shots)) < 0.1


def _take(shot: str) -> Take:
    def asset(stage: str, ext: str) -> dict[str, str]:
        return {"path": f"{shot}.{ext}", "stage": stage, "key": shot, "backend": "x"}

    return Take.model_validate(
        {
            "number": 1,
            "keyframe": asset("keyframe", "png"),
            "motion": asset("motion", "mp4"),
            "voice": asset("voice", "wav"),
            "duration": 2.0,
            "critique": {"passed": True, "score": 1.0},
        }
    )


def test_the_worker_encodes_shots_as_they_finish_and_stops_when_the_cut_begins() -> None:
    voiced = Voiced()
    calls: list[set[str]] = []
    went = threading.Event()

    def encode(kept: dict[str, Take], todo: set[str]) -> set[str]:
        calls.append(set(todo))
        went.set()
        return {s for s in todo if s != "s2"}  # s2 waits for a later voice

    pending = {"s1": "f1", "s2": "f2", "s3": "f3"}
    voiced.close("ep")  # an earlier render's end
    voiced.open("ep", list(pending))
    cut_ahead(voiced, "ep", pending, encode)
    voiced.keep("ep", "s1", "f1", _take("s1"))
    assert went.wait(5)
    went.clear()
    voiced.keep("ep", "s2", "stale", _take("s2"))  # another render's fingerprint: not this one
    voiced.keep("ep", "s2", "f2", _take("s2"))
    assert went.wait(5)
    went.clear()
    voiced.add("ep", "s3", "f3", 2.0, [], _take("s3").voice)  # a voice: s2 is tried again
    assert went.wait(5)
    voiced.close("ep")  # returns once the worker has stopped
    assert calls[0] == {"s1"}
    assert all("s1" not in c for c in calls[1:])
    assert calls.count({"s2"}) >= 2
    voiced.keep("ep", "s3", "f3", _take("s3"))
    time.sleep(0.2)
    assert {"s3"} not in calls  # closed: nothing more is encoded ahead


def test_a_provider_clip_is_conformed_once_and_kept_only_while_used(tmp_path: Path) -> None:
    src = tmp_path / "wide.mp4"
    run_ffmpeg(
        ["-f", "lavfi", "-i", "testsrc2=s=320x180:r=16:d=2", "-c:v", "libx264",
         "-preset", "ultrafast", "-pix_fmt", "yuv420p", src],
        what="a provider-shaped clip",
    )  # fmt: skip
    cache = tmp_path / CONFORMED
    frame = {"width": 180, "height": 320, "fps": 25, "duration": 1.6}
    first = conformed(src, cache, **frame)  # type: ignore[arg-type]
    info = probe(first)
    assert first.parent == cache and (info.width, info.height, round(info.fps)) == (180, 320, 25)
    made = first.stat().st_mtime_ns
    assert conformed(src, cache, **frame) == first  # type: ignore[arg-type]
    assert first.stat().st_mtime_ns == made  # not encoded again
    assert conformed(first, cache, **frame) == first  # type: ignore[arg-type]  # conforms already
    other = conformed(src, cache, **{**frame, "duration": 1.0})  # type: ignore[arg-type]
    assert other != first
    keep_only(cache, [other])
    assert sorted(cache.iterdir()) == [other]
