"""The critic sends a bad take back to the stage at fault; every take is kept."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from dramaforge.graph.verbs import render_episode
from dramaforge.media.analysis import audio_stats, video_stats
from dramaforge.media.audio import silence
from dramaforge.media.ffmpeg import run_ffmpeg
from dramaforge.media.probe import probe
from dramaforge.schema import Critique, Manifest
from dramaforge.tools.protocols import Generated, SpeechRequest, VideoRequest
from tests.helpers import FIXTURES, counting_context, provider_settings, settings_for

pytestmark = pytest.mark.slow


class BlackFirstClip:
    """A video backend whose first clip is black; later ones come from the real backend."""

    def __init__(self, real: Any) -> None:
        self.real, self.name, self.calls = real, real.name, 0

    def generate(self, request: VideoRequest, dest: Path, journal: object = None) -> Generated:
        self.calls += 1
        if self.calls > 1:
            result: Generated = self.real.generate(request, dest)
            return result
        size = f"{request.width}x{request.height}"
        run_ffmpeg(
            [
                "-f",
                "lavfi",
                "-i",
                f"color=black:s={size}:r={request.fps}",
                "-t",
                f"{request.duration:.3f}",
                "-c:v",
                "libx264",
                "-pix_fmt",
                "yuv420p",
                dest,
            ],
            what="making a black clip",
        )
        return Generated(duration=request.duration)


class ShortFirstClip:
    """A video backend whose first clip is half as long as asked."""

    def __init__(self, real: Any) -> None:
        self.real, self.name, self.calls = real, real.name, 0

    def generate(self, request: VideoRequest, dest: Path, journal: object = None) -> Generated:
        self.calls += 1
        if self.calls == 1:
            request = request.model_copy(update={"duration": round(request.duration / 2, 2)})
        result: Generated = self.real.generate(request, dest)
        return result


class SilentFirstLine:
    """A speech backend whose first line comes back as silence."""

    def __init__(self, real: Any) -> None:
        self.real, self.name, self.calls = real, real.name, 0

    def __getattr__(self, attr: str) -> Any:
        return getattr(self.real, attr)

    def synthesize(self, request: SpeechRequest, dest: Path, journal: object = None) -> Generated:
        self.calls += 1
        if self.calls > 1:
            result: Generated = self.real.synthesize(request, dest)
            return result
        silence(1.0, dest)
        return Generated(duration=1.0)


def test_black_clip_and_silent_voice_are_retried_at_their_stage(tmp_path: Path) -> None:
    settings = settings_for(concurrency=1)
    ctx, _ = counting_context(settings, tmp_path)
    ctx.video = BlackFirstClip(ctx.video)  # type: ignore[assignment]
    ctx.speech = SilentFirstLine(ctx.speech)  # type: ignore[assignment]
    manifest = render_episode(FIXTURES / "short.zh.txt", tmp_path, settings, context=ctx)

    retried = {r.shot_id: r for r in manifest.shots if len(r.takes) > 1}
    faults = {r.takes[0].critique.stage_at_fault for r in retried.values()}
    assert faults == {"motion", "voice"}, [r.takes[0].critique for r in retried.values()]
    for result in retried.values():
        first, second = result.takes
        assert not first.critique.passed and first.critique.issues
        assert second.critique.passed and result.chosen == 1
        assert Path(first.motion.path).is_file() and Path(second.motion.path).is_file()
        if first.critique.stage_at_fault == "motion":
            assert "black" in " ".join(first.critique.issues)
            assert first.keyframe.path == second.keyframe.path  # only the clip was redone
            assert video_stats(Path(second.motion.path)).black_fraction == 0
        else:
            assert "silent" in " ".join(first.critique.issues)
            assert audio_stats(Path(second.voice.path)).rms_dbfs > -40
    html = (Path(manifest.episode.path).parent / "storyboard.html").read_text(encoding="utf-8")
    assert "take 2" in html and "✗" in html
    stats = video_stats(Path(manifest.episode.path), samples=12)
    assert stats.black_fraction == 0


def test_vision_critic_fail_then_pass_retries_keyframe_with_revised_prompt(
    tmp_path: Path,
) -> None:
    from dramaforge.graph.context import build_context
    from tests.fakes.openai_server import FakeOpenAI, json_reply
    from tests.test_vision_critic import verdict

    revised = "REVISED: two students at adjacent desks, morning light"
    server = FakeOpenAI(json_reply(verdict(0.9))).start()
    server.then(json_reply(verdict(0.3, issues=["desk missing"], revised_prompt=revised)))
    try:
        base = settings_for(concurrency=1)
        settings = base.model_copy(
            update={
                "backends": base.backends.model_copy(update={"critic": "openai:fake-vl"}),
                "openai": provider_settings(server, api_key="sk-vl-test-key-77"),
            }
        )
        ctx = build_context(settings, settings.state_root(tmp_path))
        manifest = render_episode(FIXTURES / "short.zh.txt", tmp_path, settings, context=ctx)
        asked = len(server.requests)
        # A fresh render of the same script: every verdict is read back, none is asked again.
        again = render_episode(FIXTURES / "short.zh.txt", tmp_path, settings, context=ctx)
    finally:
        server.stop()
    assert len(server.requests) == asked

    def verdicts(m: Manifest) -> list[list[tuple[str, Critique]]]:
        return [[(k.keyframe.key, k.critique) for k in r.keyframe_reviews] for r in m.shots]

    assert verdicts(again) == verdicts(manifest)
    # The vision review runs on the keyframe before the clip is made: the rejected keyframe
    # never reaches the video model; the shot has one take and two keyframe verdicts.
    reviewed = [r for r in manifest.shots if len(r.keyframe_reviews) > 1]
    assert len(reviewed) == 1
    assert all(len(r.takes) == 1 for r in manifest.shots)
    first, second = reviewed[0].keyframe_reviews
    assert first.critique.stage_at_fault == "keyframe" and not first.critique.passed
    assert first.critique.revised_prompt == revised
    assert second.critique.passed and second.keyframe.prompt == revised
    assert reviewed[0].take.keyframe == second.keyframe
    assert reviewed[0].take.motion.seed == second.keyframe.seed  # only the approved one animated
    assert len(server.requests) == len(manifest.plan.shots) + 1


def test_a_too_short_clip_is_made_again(tmp_path: Path) -> None:
    settings = settings_for(concurrency=1)
    ctx, _ = counting_context(settings, tmp_path)
    ctx.video = ShortFirstClip(ctx.video)  # type: ignore[assignment]
    manifest = render_episode(FIXTURES / "short.zh.txt", tmp_path, settings, context=ctx)
    (retried,) = [r for r in manifest.shots if len(r.takes) > 1]
    first, second = retried.takes
    assert first.critique.stage_at_fault == "motion" and "clip is" in first.critique.issues[0]
    assert second.critique.passed and retried.take.number == 2
    assert first.keyframe.path == second.keyframe.path  # only the clip was redone
    assert abs(probe(Path(second.motion.path)).duration - second.duration) < 0.1
