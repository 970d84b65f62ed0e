"""The lip-sync stage: on-screen lines only, through the fake DashScope's wan2.2-s2v (with its
image check) and videoretalk, paid once, each line on its own speaker's lips."""

from __future__ import annotations

import io
import wave
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from dramaforge.config import ProviderSettings, Settings, frame_size
from dramaforge.graph.context import RenderContext, build_context
from dramaforge.graph.nodes.lipsync import turns
from dramaforge.graph.verbs import render_episode
from dramaforge.media.probe import probe
from dramaforge.schema import Cue, Line, Manifest, Shot
from dramaforge.tools.protocols import Generated, VideoRequest
from tests.fakes.dashscope_server import FakeDashScope, Fault, Task
from tests.helpers import settings_for

TWO_SPEAKERS = """# 两人
人物：阿明（男，高中生）；小雪（女，高中生）
【场景1】教室 - 白天 - 内
阿明：早上好。
小雪：你来晚了。
【旁白】铃声响了，两人都笑了。
"""


def _shot(framing: str = "medium", **fields: object) -> Shot:
    base = {
        "id": "s01-01",
        "index": 0,
        "scene_index": 1,
        "scene_heading": "教室",
        "duration": 3.0,
        "framing": framing,
        "camera": "static",
        "visual_prompt": "two students",
        "characters": ["阿明", "小雪"],
    }
    return Shot.model_validate(base | fields)


def test_only_lines_spoken_in_frame_are_synced() -> None:
    shot = _shot()
    assert shot.on_screen(Line(text="早上好。", speaker="阿明"))
    assert not shot.on_screen(Line(text="放学后。", narration=True))
    assert not shot.on_screen(Line(text="我在门外。", speaker="老师"))  # not in the shot
    for heard in ("(V.O.)", "(O.S.)", "（画外音）", "(voice-over)", "（内心独白）"):
        assert not shot.on_screen(Line(text="…", speaker="阿明", parenthetical=heard)), heard
    assert shot.on_screen(Line(text="…", speaker="阿明", parenthetical="(softly)"))
    close = _shot("close_up", focus="小雪")
    assert not close.on_screen(Line(text="早上好。", speaker="阿明"))  # out of the close-up
    assert close.on_screen(Line(text="嗯。", speaker="小雪"))
    assert not _shot("insert").on_screen(Line(text="早上好。", speaker="阿明"))


def test_a_shot_is_cut_between_turns_on_whole_frames() -> None:
    cues = [
        Cue(start=0.3, end=1.1, text="a", speaker="阿明"),
        Cue(start=1.45, end=2.0, text="b", speaker="阿明"),
        Cue(start=2.35, end=3.3, text="c", speaker="小雪"),
    ]
    pieces = turns(cues, 3.8, 25)
    assert [who for who, _ in pieces] == ["阿明", "小雪"]
    (_, (a0, a1)), (_, (b0, b1)) = pieces
    assert (a0, b1) == (0.0, 3.8) and a1 == b0
    assert 2.0 < a1 < 2.35 and round(a1 * 25) == a1 * 25


@pytest.fixture
def dashscope() -> Iterator[FakeDashScope]:
    with FakeDashScope(api_key="sk-lipsync-test") as fake:
        yield fake


def _settings(ds: FakeDashScope, lipsync: str) -> Settings:
    base = settings_for()
    fast = {"timeout": 10.0, "poll_interval": 0.01, "poll_timeout": 30.0, "max_retries": 2}
    return base.model_copy(
        update={
            "backends": base.backends.model_copy(update={"lipsync": lipsync}),
            "dashscope": ProviderSettings(api_key=ds.api_key, base_url=ds.url, **fast),
            "prices": {lipsync: 0.5},
        }
    )


def _render(tmp_path: Path, settings: Settings, context: RenderContext | None = None) -> Manifest:
    script = tmp_path / "two.zh.txt"
    script.write_text(TWO_SPEAKERS, encoding="utf-8")
    return render_episode(script, tmp_path / "out", settings, context=context)


def _loud_windows(wav_bytes: bytes, hop: float = 0.05) -> np.ndarray:
    """Start times (s) of the hops of ``wav_bytes`` with speech in them."""
    with wave.open(io.BytesIO(wav_bytes)) as w:
        rate, channels = w.getframerate(), w.getnchannels()
        samples = np.frombuffer(w.readframes(w.getnframes()), dtype=np.int16)
    mono = samples.reshape(-1, channels).mean(axis=1) / 32768
    size = int(rate * hop)
    frames = mono[: len(mono) // size * size].reshape(-1, size)
    loud = np.sqrt((frames**2).mean(axis=1)) > 0.01
    return np.flatnonzero(loud) * hop


def _synced(manifest: Manifest) -> dict[str, list[str]]:
    """Shot id -> its on-screen speakers, in order, for shots that have any."""
    found = {}
    for shot in manifest.plan.shots:
        who = [line.speaker or "" for line in shot.lines if shot.on_screen(line)]
        if who:
            found[shot.id] = list(dict.fromkeys(who))
    return found


def _tasks(ds: FakeDashScope, model: str) -> list[Task]:
    return sorted((t for t in ds.tasks.values() if t.model == model), key=lambda t: t.created)


@pytest.mark.slow
def test_videoretalk_syncs_each_on_screen_speaker_once_and_never_narration(
    dashscope: FakeDashScope, tmp_path: Path
) -> None:
    settings = _settings(dashscope, "dashscope:videoretalk")
    manifest = _render(tmp_path, settings)
    synced = _synced(manifest)
    assert synced, "the script has on-screen dialogue"
    assert dashscope.submits["videoretalk"] == sum(len(v) for v in synced.values())
    assert manifest.backends["lipsync"] == "dashscope:videoretalk"
    for result in manifest.shots:
        take = result.take
        if result.shot_id in synced:
            assert take.motion.backend == "dashscope:videoretalk"
            assert take.unsynced is not None and take.unsynced.backend == "local:motion"
            info = probe(Path(take.motion.path))
            assert info.has_video and not info.has_audio
            assert info.duration == pytest.approx(take.duration, abs=0.05)
            assert (info.width, info.height) == frame_size("9:16", "360p")
        else:  # narration and silent shots keep the clip as the video model made it
            assert take.unsynced is None and take.motion.backend == "local:motion"
    # Each pass hears one speaker: all its speech inside that speaker's cues in one shot.
    pairs = {(sid, who) for sid, speakers in synced.items() for who in speakers}
    heard = set()
    for task in _tasks(dashscope, "videoretalk"):
        assert task.audio is not None
        loud = _loud_windows(task.audio)
        assert len(loud) > 0
        fits = {
            (r.shot_id, who)
            for r in manifest.shots
            for who in {c.speaker for c in r.take.cues if c.speaker}
            if all(
                any(c.start - 0.05 <= t <= c.end for c in r.take.cues if c.speaker == who)
                for t in loud
            )
        }
        assert fits & pairs, fits
        heard |= fits & pairs
    assert heard == pairs
    assert manifest.total_cost > 0

    again = render_episode(tmp_path / "two.zh.txt", tmp_path / "out", settings)
    assert dashscope.submits["videoretalk"] == sum(len(v) for v in synced.values())
    assert [r.take.motion.key for r in again.shots] == [r.take.motion.key for r in manifest.shots]


@pytest.mark.slow
def test_s2v_checks_the_picture_runs_one_task_at_a_time_and_splits_two_speakers(
    dashscope: FakeDashScope, tmp_path: Path
) -> None:
    dashscope.running_polls = 2  # tasks overlap unless the stage holds to one at a time
    manifest = _render(tmp_path, _settings(dashscope, "dashscope:wan2.2-s2v"))
    synced = _synced(manifest)
    tasks = _tasks(dashscope, "wan2.2-s2v")
    assert len(tasks) == sum(len(v) for v in synced.values())  # one per turn
    assert dashscope.max_in_flight["wan2.2-s2v"] == 1
    assert 1 <= dashscope.detects <= len(tasks)  # the keyframe is checked, once per picture
    for body in dashscope.bodies:
        if body.get("model") == "wan2.2-s2v":
            assert body["parameters"]["resolution"] == "480P"
    for result in manifest.shots:
        if result.shot_id in synced:
            info = probe(Path(result.take.motion.path))
            assert info.duration == pytest.approx(result.take.duration, abs=0.05)
            assert result.take.motion.backend == "dashscope:wan2.2-s2v"
    two = [sid for sid, who in synced.items() if len(who) == 2]
    if two:  # the split shot's turns add up to the shot
        shot_tasks = [t for t in tasks if t.audio is not None]
        assert sum(probe_seconds(t.audio) for t in shot_tasks) == pytest.approx(
            sum(r.take.duration for r in manifest.shots if r.shot_id in synced), abs=0.1
        )


def probe_seconds(data: bytes | None) -> float:
    assert data is not None
    with wave.open(io.BytesIO(data)) as w:
        return w.getnframes() / w.getframerate()


@pytest.mark.slow
def test_a_refused_picture_keeps_the_clip_and_says_why(
    dashscope: FakeDashScope, tmp_path: Path
) -> None:
    dashscope.fault("detect", *[Fault("refuse") for _ in range(8)])
    manifest = _render(tmp_path, _settings(dashscope, "dashscope:wan2.2-s2v"))
    synced = _synced(manifest)
    assert synced and dashscope.submits["wan2.2-s2v"] == 0
    for result in manifest.shots:
        if result.shot_id in synced:
            assert result.take.motion.backend == "local:motion"
            assert any("lips not synced" in i for i in result.take.critique.issues)


class Mute:
    """The offline camera move given no voice: its faces never talk (a video model that
    does not take audio)."""

    def __init__(self, real: Any) -> None:
        self.real, self.name = real, real.name

    def generate(self, request: VideoRequest, dest: Path, journal: object = None) -> Generated:
        result: Generated = self.real.generate(request, dest)
        return result


@pytest.mark.slow
def test_a_take_whose_lips_do_not_follow_the_voice_goes_back_to_the_lipsync_stage(
    dashscope: FakeDashScope, tmp_path: Path
) -> None:
    """The clip's faces do not talk and the fake's retalk gives the clip back unchanged: the
    critic measures mouths that do not follow the voice and sends each such take back to lip
    sync (a new try, a new task), then keeps the best of ``max_takes``."""
    settings = _settings(dashscope, "dashscope:videoretalk")
    ctx = build_context(settings, settings.state_root(tmp_path / "out"))
    ctx.video = Mute(ctx.video)  # type: ignore[assignment]
    manifest = _render(tmp_path, settings, ctx)
    synced = _synced(manifest)
    pairs = sum(len(v) for v in synced.values())
    assert dashscope.submits["videoretalk"] == 2 * pairs  # each take synced again
    for result in manifest.shots:
        if result.shot_id not in synced:
            assert len(result.takes) == 1
            continue
        first, second = result.takes
        assert first.critique.stage_at_fault == "lipsync"
        assert first.critique.sync is not None and first.critique.sync < 0.5
        assert "lips out of sync" in first.critique.issues[0]
        assert first.unsynced is not None and second.unsynced is not None
        assert first.unsynced.key == second.unsynced.key  # the clip was not made again
        assert first.motion.key != second.motion.key  # the lip sync was


def test_without_a_lipsync_route_unmoving_lips_are_noted_not_retried(tmp_path: Path) -> None:
    """A video model that does not take the voice and no lip-sync backend: nothing was asked
    to move the lips, so no retry (and no paid clip) can help; the take says how to fix it."""
    settings = settings_for()
    ctx = build_context(settings, settings.state_root(tmp_path / "out"))
    ctx.video = Mute(ctx.video)  # type: ignore[assignment]
    manifest = _render(tmp_path, settings, ctx)
    synced = _synced(manifest)
    assert synced
    for result in manifest.shots:
        assert len(result.takes) == 1
        if result.shot_id in synced:
            critique = result.take.critique
            assert critique.passed and critique.sync is not None and critique.sync < 0.5
            assert any("no lip-sync route" in i for i in critique.issues)


def test_the_estimate_counts_a_pass_per_on_screen_speaker() -> None:
    from dramaforge.graph.cost import estimate
    from dramaforge.schema import ShotPlan

    talk = _shot(lines=[Line(text="a", speaker="阿明"), Line(text="b", speaker="小雪")])
    told = _shot(id="s01-02", index=1, lines=[Line(text="c", narration=True)])
    plan = ShotPlan(title="t", language="zh", shots=[talk, told])
    settings = settings_for().with_(
        backends={"lipsync": "dashscope:videoretalk"},
        prices={"dashscope:videoretalk": 0.1},
        render={"max_takes": 2},
    )
    cost = estimate(plan, settings)
    once = 2 * 3.0 * 0.1  # a pass per on-screen speaker; narration: none
    assert cost.one_take["dashscope:videoretalk"] == pytest.approx(once)
    assert cost.lines["dashscope:videoretalk"] == pytest.approx(2 * once)  # up to 2 takes
    assert "dashscope:videoretalk" not in estimate(plan, settings_for()).lines


def test_doctor_names_the_lipsync_route_and_the_face_models(
    monkeypatch: pytest.MonkeyPatch, dashscope: FakeDashScope
) -> None:
    import json

    from typer.testing import CliRunner

    from dramaforge.cli.app import app

    monkeypatch.setenv("DASHSCOPE_API_KEY", dashscope.api_key)
    monkeypatch.setenv("DRAMAFORGE_BACKENDS__LIPSYNC", "dashscope:videoretalk")
    result = CliRunner().invoke(app, ["doctor", "--json"])
    checks = {c["name"]: c for c in json.loads(result.output)}
    line = checks["lip sync and faces"]
    assert line["ok"] and line["detail"].startswith("dashscope:videoretalk;")
