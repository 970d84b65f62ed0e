"""End to end: render real scripts offline and check the real output files."""

from __future__ import annotations

import itertools
import json
import re
import shutil
from pathlib import Path

import pytest

from dramaforge.graph.verbs import render_episode
from dramaforge.media.analysis import pixel_diff
from dramaforge.media.audio import measure_loudness
from dramaforge.media.probe import probe
from dramaforge.media.subtitles import read_srt
from dramaforge.schema import Manifest
from dramaforge.script import load_script
from tests.helpers import EXAMPLES, FIXTURES, counting_context, settings_for

pytestmark = pytest.mark.slow


def _render(script: Path, out: Path, **render: object) -> Manifest:
    return render_episode(script, out, settings_for(**render))  # type: ignore[arg-type]


@pytest.fixture(scope="module")
def zh_episode(tmp_path_factory: pytest.TempPathFactory) -> Manifest:
    out = tmp_path_factory.mktemp("zh")
    return _render(EXAMPLES / "campus_ep01.zh.txt", out, resolution="480p", aspect="9:16")


@pytest.fixture(scope="module")
def en_episode(tmp_path_factory: pytest.TempPathFactory) -> Manifest:
    out = tmp_path_factory.mktemp("en")
    return _render(EXAMPLES / "rain_stop.en.fountain", out, resolution="360p", aspect="16:9")


def _flat(text: str) -> str:
    return re.sub(r"\s+", "", text)


def _check_episode(manifest: Manifest, script: Path, size: tuple[int, int]) -> None:
    ep = manifest.episode
    info = probe(Path(ep.path))
    assert info.has_video and info.has_audio
    assert info.vcodec == "h264" and info.acodec == "aac"
    assert (info.width, info.height) == size
    assert info.sample_rate == 48000 and info.channels == 2
    total = sum(r.duration for r in manifest.shots)
    assert abs(info.duration - total) <= 0.5
    loud = measure_loudness(Path(ep.path))
    assert abs(loud.integrated - (-14.0)) <= 1.0, loud
    assert loud.true_peak <= -1.0, loud

    spoken = load_script(script).spoken_lines()
    cues = read_srt(Path(ep.srt))
    # Cues are timed for reading (a long line shown in parts, short ones joined): every word
    # is there, in order, each cue at most two lines and up at least a second.
    shown = "".join(_flat(re.sub(r"(?m)^- ?", "", c.text)) for c in cues)  # two-voice dashes
    assert shown == "".join(_flat(b.text) for b in spoken)
    assert all(c.end - c.start >= 1.0 - 1e-3 and len(c.text.splitlines()) <= 2 for c in cues)
    assert all(a.end <= b.start + 1e-3 for a, b in itertools.pairwise(cues))
    assert cues[-1].end <= info.duration

    html = (Path(ep.path).parent / "storyboard.html").read_text(encoding="utf-8")
    for shot in manifest.plan.shots:
        assert f'id="{shot.id}"' in html
    assert "data:image/jpeg;base64," in html
    on_disk = json.loads((Path(ep.path).parent / "manifest.json").read_text(encoding="utf-8"))
    assert len(on_disk["shots"]) == len(manifest.plan.shots)
    for r in manifest.shots:
        for t in r.takes:
            assert (
                Path(ep.path).parent / "shots" / r.shot_id / f"take{t.number}_clip.mp4"
            ).is_file()


def test_chinese_episode(zh_episode: Manifest) -> None:
    _check_episode(zh_episode, EXAMPLES / "campus_ep01.zh.txt", (480, 854))
    assert zh_episode.language == "zh"
    assert {s.framing for s in zh_episode.plan.shots} >= {"wide", "close_up"}
    assert any(s.sfx for s in zh_episode.plan.shots)


@pytest.mark.parametrize("name", ["zh_episode", "en_episode"])
def test_the_animatic_talks_in_sync(name: str, request: pytest.FixtureRequest) -> None:
    """Every on-screen line's mouth follows its voice (the critic's measure, >= 0.8); shots
    with nobody speaking in frame have nothing to measure."""
    episode: Manifest = request.getfixturevalue(name)
    for result in episode.shots:
        shot = episode.plan.shot(result.shot_id)
        sync = result.take.critique.sync
        if any(shot.on_screen(line) for line in shot.lines):
            assert sync is not None and sync >= 0.8, (shot.id, sync)
        else:
            assert sync is None, shot.id


def test_chinese_subtitles_are_drawn(zh_episode: Manifest) -> None:
    """Subtitle pixels differ from the clip underneath while a cue is on screen."""
    start = 0.0
    for result in zh_episode.shots:
        take = result.take
        if take.cues:
            cue = take.cues[0]
            local = (cue.start + cue.end) / 2
            diff = pixel_diff(
                Path(zh_episode.episode.path),
                Path(take.motion.path),
                start + local,
                (0.05, 0.75, 0.95, 0.97),
                t_b=local,
            )
            assert diff > 4.0, diff
            return
        start += result.duration
    pytest.fail("no shot has a subtitle cue")


def test_english_fountain_episode(en_episode: Manifest) -> None:
    _check_episode(en_episode, EXAMPLES / "rain_stop.en.fountain", (640, 360))
    assert en_episode.language == "en"


def test_product_brief_renders_square(tmp_path: Path) -> None:
    manifest = _render(EXAMPLES / "product_ad.en.yaml", tmp_path, resolution="360p", aspect="1:1")
    info = probe(Path(manifest.episode.path))
    assert (info.width, info.height) == (360, 360)
    assert abs(info.duration - sum(r.duration for r in manifest.shots)) <= 0.5


def test_second_render_generates_nothing_and_edit_rerenders_one_shot(tmp_path: Path) -> None:
    script = tmp_path / "short.zh.txt"
    shutil.copy(FIXTURES / "short.zh.txt", script)
    settings = settings_for()
    ctx, calls = counting_context(settings, tmp_path / "out")
    first = render_episode(script, tmp_path / "out", settings, context=ctx)
    shots = len(first.plan.shots)
    assert calls["image"] == calls["video"] == shots
    calls.clear()

    again = render_episode(script, tmp_path / "out", settings, context=ctx)
    assert sum(calls.values()) == 0, calls
    assert again.episode.duration == pytest.approx(first.episode.duration, abs=0.05)

    script.write_text(
        script.read_text(encoding="utf-8").replace("你来晚了。", "你今天又来晚了。"),
        encoding="utf-8",
    )
    edited = render_episode(script, tmp_path / "out", settings, context=ctx)
    # One line re-spoken; its shot is longer, so its clip is remade (the keyframe is not).
    # Scene 1's ambience and music are cut from the ones made before at the next 10 s up
    # (score.BUCKET), not generated again. Nothing else.
    assert calls == {"speech": 1, "video": 1}, calls
    assert "你今天又来晚了。" in Path(edited.episode.srt).read_text(encoding="utf-8")


class Interrupted(Exception):
    pass


def test_resume_does_not_redo_finished_shots(tmp_path: Path) -> None:
    script = FIXTURES / "short.zh.txt"
    settings = settings_for(concurrency=1)
    ctx, calls = counting_context(settings, tmp_path)
    real = ctx.video

    class Dies:
        name = real.name

        def generate(self, *args: object, **kwargs: object) -> object:
            if calls["video"] >= 2:
                raise Interrupted()
            return real.generate(*args, **kwargs)

    ctx.video = Dies()  # type: ignore[assignment]
    events: list[dict[str, object]] = []
    with pytest.raises(Interrupted):
        render_episode(script, tmp_path, settings, context=ctx, on_event=events.append)
    finished = {e["shot"] for e in events if e.get("stage") == "critic" and e["status"] == "done"}
    assert finished  # at least one shot was complete when the render died

    ctx.video = real
    calls.clear()
    events.clear()
    manifest = render_episode(
        script, tmp_path, settings, context=ctx, resume=True, on_event=events.append
    )
    redone = {e["shot"] for e in events if "shot" in e}
    assert not redone & finished
    # Two clips were made before the crash (whichever shots they belong to): none is made again.
    assert calls["video"] == len(manifest.plan.shots) - 2
    assert probe(Path(manifest.episode.path)).has_video
