"""The episode review after assembly, on a real render with one line missing from the mix."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from dramaforge.agents.episode_review import EpisodeCritic, Targets
from dramaforge.graph.verbs import render_episode
from dramaforge.media.audio import measure_loudness
from dramaforge.media.ffmpeg import run_ffmpeg
from dramaforge.media.probe import probe
from dramaforge.media.subtitles import read_srt
from dramaforge.schema import Manifest
from tests.helpers import FIXTURES, counting_context, settings_for
from tests.test_critic_loop import SilentFirstLine

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def silent_line(tmp_path_factory: pytest.TempPathFactory) -> Manifest:
    """One take per shot, so the take whose first line came back silent is used."""
    out = tmp_path_factory.mktemp("review")
    settings = settings_for(concurrency=1, max_takes=1)
    ctx, _ = counting_context(settings, out)
    ctx.speech = SilentFirstLine(ctx.speech)  # type: ignore[assignment]
    return render_episode(FIXTURES / "short.zh.txt", out, settings, context=ctx)


def _checks(manifest: Manifest) -> dict[str, bool]:
    assert manifest.review is not None
    return {c.name: c.passed for c in manifest.review.checks}


def test_cue_over_a_missing_line_fails_the_review_and_the_episode_stays(
    silent_line: Manifest,
) -> None:
    ep = silent_line.episode
    [broken] = [r for r in silent_line.shots if not r.take.critique.passed]
    assert broken.take.critique.stage_at_fault == "voice"  # the critic saw it; one take allowed
    silent_text = broken.take.cues[0].text

    review = silent_line.review
    assert review is not None and not review.passed
    assert _checks(silent_line) == {
        "duration": True,
        "cut": True,
        "loudness": True,
        "true_peak": True,
        "av_sync": True,
        "subtitle_timing": False,
        "subtitle_reading": True,
        "subtitle_overflow": True,
        "identity": True,  # every face like its character's reference
    }
    cues = read_srt(Path(ep.srt))
    assert [c.text for c in review.cues] == [c.text for c in cues]
    quiet = [c for c in review.cues if c.speech < EpisodeCritic().min_speech]
    assert [c.text for c in quiet] == [silent_text]
    assert quiet[0].speech < 0.1
    assert min(c.speech for c in review.cues if c not in quiet) > 0.4

    # Reported, not deleted: the file is there, whole, and the report says why.
    assert probe(Path(ep.path)).has_audio
    folder = Path(ep.path).parent
    on_disk = json.loads((folder / "manifest.json").read_text(encoding="utf-8"))
    assert on_disk["review"]["passed"] is False
    html = (folder / "storyboard.html").read_text(encoding="utf-8")
    assert "Episode review: failed" in html and "subtitle_timing" in html
    assert silent_text[:4] in html


def _targets(manifest: Manifest, **update: object) -> Targets:
    ep = manifest.episode
    base = Targets(
        planned=sum(s.duration for s in manifest.plan.shots),
        shots=sum(r.duration for r in manifest.shots),
        fps=25,
        width=ep.width,
        height=ep.height,
        lufs=-14.0,
        true_peak=-1.5,
    )
    return base.model_copy(update=update)


def test_loudness_sync_and_duration_are_measured_on_the_file(
    silent_line: Manifest, tmp_path: Path
) -> None:
    ep = silent_line.episode
    video, srt = Path(ep.path), Path(ep.srt)
    critic = EpisodeCritic()

    quiet = tmp_path / "quiet.mp4"
    run_ffmpeg(["-i", video, "-c:v", "copy", "-af", "volume=-6dB", "-c:a", "aac", quiet],
               what="turning the mix down")  # fmt: skip
    review = critic.review(quiet, srt, _targets(silent_line))
    [loud] = [c for c in review.checks if c.name == "loudness"]
    assert not loud.passed and loud.measured is not None
    assert loud.measured == pytest.approx(measure_loudness(quiet).integrated, abs=0.01)
    assert loud.measured < -19.0

    short_audio = tmp_path / "drift.mp4"
    keep = probe(video).duration - 0.4
    run_ffmpeg(["-i", video, "-c:v", "copy", "-af", f"atrim=end={keep:.3f}", "-c:a", "aac",
                short_audio], what="cutting the audio short")  # fmt: skip
    drift = {c.name: c for c in critic.review(short_audio, srt, _targets(silent_line)).checks}
    assert not drift["av_sync"].passed
    assert drift["av_sync"].measured == pytest.approx(0.4, abs=0.05)

    longer_plan = _targets(silent_line, planned=ep.duration * 1.5, limit=ep.duration - 1)
    checks = {c.name: c for c in critic.review(video, srt, longer_plan).checks}
    assert not checks["duration"].passed and "-33%" in checks["duration"].detail
    assert not checks["channel_limit"].passed and checks["cut"].passed
