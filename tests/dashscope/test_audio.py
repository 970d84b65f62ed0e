"""Wan 2.5+ clips made in sync with the shot's voice track; older models never see it."""

from __future__ import annotations

import io
import wave
from pathlib import Path

import pytest
from PIL import Image

from dramaforge.media.ffmpeg import run_ffmpeg
from dramaforge.media.probe import probe
from dramaforge.media.store import content_key
from dramaforge.tools.dashscope.transport import Transport
from dramaforge.tools.dashscope.video import DashScopeVideo, audio_track, takes_audio
from dramaforge.tools.protocols import VideoRequest
from tests.fakes.dashscope_server import FakeDashScope
from tests.helpers import provider_settings


def tone(path: Path, seconds: float) -> Path:
    run_ffmpeg(
        ["-f", "lavfi", "-i", f"sine=frequency=300:duration={seconds}", "-ar", "48000", path],
        what="making a test voice track",
    )
    return path


def request(tmp_path: Path, audio: Path | None) -> VideoRequest:
    key = tmp_path / "key.png"
    Image.new("RGB", (360, 640), (90, 20, 20)).save(key)
    return VideoRequest(
        prompt="she says hello", keyframe=str(key), width=360, height=640, fps=25,
        duration=2.4, camera="static", seed=3, audio=None if audio is None else str(audio),
    )  # fmt: skip


def video(dashscope_server: FakeDashScope, model: str) -> DashScopeVideo:
    settings = provider_settings(dashscope_server, timeout=10.0, poll_interval=0.01)
    return DashScopeVideo(model, Transport(settings))


def seconds_of(data: bytes) -> float:
    with wave.open(io.BytesIO(data)) as wav:
        return wav.getnframes() / wav.getframerate()


def test_wan25_sends_the_voice_track_through_temporary_storage(
    dashscope_server: FakeDashScope, tmp_path: Path
) -> None:
    voice = tone(tmp_path / "voice.wav", 2.4)
    dest = tmp_path / "clip.mp4"
    made = video(dashscope_server, "wan2.5-i2v-preview").generate(request(tmp_path, voice), dest)

    (task,) = dashscope_server.tasks.values()
    url = task.body["input"]["audio_url"]
    assert url.startswith("oss://dashscope-instant/")  # a URL, never inline bytes
    (stored,) = dashscope_server.uploads.files.values()
    assert stored.model == "wan2.5-i2v-preview" and task.audio == stored.data
    assert task.audio is not None
    assert seconds_of(task.audio) == pytest.approx(3.0, abs=0.01)  # padded to the API's 3 s
    assert task.body["parameters"]["duration"] == 5
    info = probe(dest)
    assert info.duration == pytest.approx(2.4, abs=0.05) and not info.has_audio
    assert made.duration == pytest.approx(2.4, abs=0.05)
    assert not list(tmp_path.glob(".*"))  # the prepared track is gone


def test_older_models_never_see_the_audio(dashscope_server: FakeDashScope, tmp_path: Path) -> None:
    voice = tone(tmp_path / "voice.wav", 2.4)
    video(dashscope_server, "wan2.2-i2v-flash").generate(
        request(tmp_path, voice), tmp_path / "clip.mp4"
    )
    (task,) = dashscope_server.tasks.values()
    assert "audio_url" not in task.body["input"] and task.audio is None
    assert dashscope_server.uploads.files == {}


def test_wan25_without_audio_sends_none(dashscope_server: FakeDashScope, tmp_path: Path) -> None:
    video(dashscope_server, "wan2.5-t2v-preview").generate(
        request(tmp_path, None), tmp_path / "clip.mp4"
    )
    (task,) = dashscope_server.tasks.values()
    assert "audio_url" not in task.body["input"] and dashscope_server.uploads.files == {}


def test_audio_track_is_kept_within_3_to_30_seconds(tmp_path: Path) -> None:
    for seconds, expected in ((1.2, 3.0), (12.5, 12.5), (31.0, 30.0)):
        out = tmp_path / f"out-{seconds}.wav"
        audio_track(tone(tmp_path / f"in-{seconds}.wav", seconds), out)
        info = probe(out)
        assert info.duration == pytest.approx(expected, abs=0.02)
        assert info.channels == 1 and info.acodec == "pcm_s16le"


def test_which_models_take_audio() -> None:
    assert takes_audio("wan2.5-i2v-preview") and takes_audio("wan2.5-t2v-preview")
    assert takes_audio("wan2.6-i2v") and takes_audio("wan2.6-i2v-flash")
    assert not takes_audio("wan2.2-i2v-flash") and not takes_audio("wanx2.1-i2v-turbo")
    assert not takes_audio("wan2.2-t2v-plus")


def test_store_key_without_audio_is_unchanged(tmp_path: Path) -> None:
    """Clips made before the audio field existed keep their cache (and their paid results)."""
    plain = request(tmp_path, None)
    fields = ("prompt", "width", "height", "fps", "duration", "camera", "seed")  # as before
    before = {name: getattr(plain, name) for name in fields}
    key = content_key("motion", "dashscope:wan2.2-i2v-flash", before | {"from": "k"})
    dumped = plain.model_dump(exclude={"keyframe"}) | {"from": "k"}
    assert "audio" not in dumped
    assert content_key("motion", "dashscope:wan2.2-i2v-flash", dumped) == key
    voiced = request(tmp_path, tmp_path / "voice.wav").model_dump(exclude={"keyframe"})
    assert content_key("motion", "dashscope:wan2.5-i2v-preview", voiced | {"from": "k"}) != (
        content_key("motion", "dashscope:wan2.5-i2v-preview", dumped)
    )
