"""DashScope backends against a fake DashScope on loopback: real HTTP, real media, faults."""

from __future__ import annotations

import threading
import time
from pathlib import Path
from typing import Any

import pytest
from PIL import Image

from dramaforge.config import ProviderSettings, Settings
from dramaforge.errors import ConfigError, ContentRejected, ProviderError
from dramaforge.media.probe import probe
from dramaforge.media.store import MemoryJournal
from dramaforge.schema import Voice
from dramaforge.tools import dashscope
from dramaforge.tools.dashscope.endpoints import api_root
from dramaforge.tools.dashscope.image import DashScopeImage, model_size
from dramaforge.tools.dashscope.speech import DashScopeSpeech
from dramaforge.tools.dashscope.transport import Transport
from dramaforge.tools.dashscope.video import DashScopeVideo, pick_duration, pick_tier
from dramaforge.tools.protocols import ImageRequest, JournalEntry, SpeechRequest, VideoRequest
from dramaforge.tools.registry import Registry
from tests.fakes.dashscope_server import FakeDashScope, Fault
from tests.helpers import provider_settings


def provider(server: FakeDashScope, **over: Any) -> ProviderSettings:
    fast = {"timeout": 5.0, "max_retries": 3, "poll_interval": 0.01, "poll_timeout": 10.0}
    return provider_settings(server, **(fast | over))


def image_backend(server: FakeDashScope, model: str = "qwen-image", **over: Any) -> DashScopeImage:
    return DashScopeImage(model, Transport(provider(server, **over)), price=0.25)


def image_request(seed: int = 7) -> ImageRequest:
    return ImageRequest(
        prompt="a lantern-lit alley at night", width=360, height=640, seed=seed,
        framing="wide", scene_heading="EXT. ALLEY - NIGHT",
    )  # fmt: skip


class Journal(MemoryJournal):
    """An in-memory TaskJournal that notes how many polls the server had seen at record time."""

    def __init__(self, dashscope_server: FakeDashScope, task_id: str | None = None) -> None:
        super().__init__()
        self.server = dashscope_server
        self.entry = JournalEntry(task_id=task_id)
        self.polls_at_record: dict[str, int] = {}
        self.forgotten = 0

    @property
    def task_id(self) -> str | None:
        return self.entry.task_id

    def record(self, task_id: str) -> None:
        self.polls_at_record.setdefault(task_id, sum(self.server.polls.values()))
        super().record(task_id)

    def forget(self) -> None:
        super().forget()
        self.forgotten += 1


# -- happy paths ----------------------------------------------------------------------------


def test_image_is_drawn_at_a_model_size_and_fitted_exactly(
    dashscope_server: FakeDashScope, tmp_path: Path
) -> None:
    dest = tmp_path / "key.png"
    made = image_backend(dashscope_server).generate(image_request(), dest)
    with Image.open(dest) as img:
        assert img.size == (360, 640)
    body = dashscope_server.bodies[-1]
    assert body["parameters"]["size"] == "928*1664"
    assert body["parameters"]["seed"] == 7
    assert made.cost == pytest.approx(0.25)
    assert made.model == "qwen-image"
    assert dashscope_server.submits["qwen-image"] == 1


def test_size_mapping_per_model() -> None:
    assert model_size("qwen-image", 1920, 1080) == (1664, 928)
    assert model_size("qwen-image", 720, 720) == (1328, 1328)
    w, h = model_size("wan2.2-t2i-flash", 360, 640)
    assert 512 <= w <= 1440 and 512 <= h <= 1440 and w % 16 == 0 and h % 16 == 0
    assert abs(w / h - 360 / 640) < 0.05
    assert pick_duration("wan2.2-i2v-flash", 3.2) == 5
    assert pick_duration("wan2.5-i2v-preview", 7) == 10
    assert pick_duration("wanx2.1-i2v-turbo", 2.5) == 3
    assert pick_tier("wan2.2-i2v-flash", 360, 640) == "480P"
    assert pick_tier("wan2.2-i2v-plus", 720, 1280) == "1080P"


def test_video_from_keyframe_is_conformed(dashscope_server: FakeDashScope, tmp_path: Path) -> None:
    key = tmp_path / "key.png"
    Image.new("RGB", (360, 640), (90, 20, 20)).save(key)
    backend = DashScopeVideo("wan2.2-i2v-flash", Transport(provider(dashscope_server)), price=0.1)
    request = VideoRequest(
        prompt="she turns", keyframe=str(key), width=360, height=640, fps=25,
        duration=3.2, camera="static", seed=3,
    )  # fmt: skip
    dest = tmp_path / "clip.mp4"
    made = backend.generate(request, dest)
    info = probe(dest)
    assert (info.width, info.height) == (360, 640)
    assert info.duration == pytest.approx(3.2, abs=0.05)
    assert not info.has_audio
    body = dashscope_server.bodies[-1]
    assert body["input"]["img_url"].startswith("data:image/png;base64,")
    assert body["parameters"] == {
        "duration": 5, "seed": 3, "prompt_extend": False, "watermark": False, "resolution": "480P",
    }  # fmt: skip
    assert made.cost == pytest.approx(0.5)  # billed for the 5 s Wan rendered
    assert made.duration == pytest.approx(3.2, abs=0.05)


def test_speech_is_a_mono_wav(dashscope_server: FakeDashScope, tmp_path: Path) -> None:
    backend = DashScopeSpeech("qwen-tts", Transport(provider(dashscope_server)), price=2.0)
    backend.check("zh")
    voices = backend.voices("zh")
    assert len({v.id for v in voices}) == len(voices) >= 4
    text = "你回来了。我等了你很久。"
    dest = tmp_path / "line.wav"
    made = backend.synthesize(SpeechRequest(text=text, language="zh", voice=voices[1]), dest)
    info = probe(dest)
    assert info.has_audio and info.channels == 1
    assert made.duration == pytest.approx(info.duration) and info.duration > 0.5
    assert made.cost == pytest.approx(2.0 * len(text) / 1000)
    assert dashscope_server.bodies[-1]["input"] == {"text": text, "voice": "Ethan"}


# -- faults ---------------------------------------------------------------------------------


def test_throttled_submit_waits_for_retry_after(
    dashscope_server: FakeDashScope, tmp_path: Path
) -> None:
    dashscope_server.fault(
        "submit", Fault("status", status=429, code="Throttling.RateQuota", retry_after=1)
    )
    started = time.monotonic()
    image_backend(dashscope_server).generate(image_request(), tmp_path / "a.png")
    assert time.monotonic() - started >= 1.0
    assert dashscope_server.submits["qwen-image"] == 1


def test_poll_errors_and_long_runs_are_polled_through(
    dashscope_server: FakeDashScope, tmp_path: Path
) -> None:
    dashscope_server.running_polls = 4
    dashscope_server.fault("poll", Fault("status", status=500), Fault("status", status=503))
    image_backend(dashscope_server).generate(image_request(), tmp_path / "a.png")
    (task_id,) = dashscope_server.tasks
    assert dashscope_server.polls[task_id] == 5
    assert dashscope_server.submits["qwen-image"] == 1


def test_failed_task_carries_the_providers_message(
    dashscope_server: FakeDashScope, tmp_path: Path
) -> None:
    dashscope_server.fault(
        "submit", Fault("fail", code="InternalError.Algo", message="algo exploded")
    )
    journal = Journal(dashscope_server)
    with pytest.raises(ProviderError, match="algo exploded") as err:
        image_backend(dashscope_server).generate(image_request(), tmp_path / "a.png", journal)
    assert not isinstance(err.value, ContentRejected)
    assert journal.task_id is None and journal.forgotten == 1


def test_moderation_is_content_rejected(dashscope_server: FakeDashScope, tmp_path: Path) -> None:
    dashscope_server.fault(
        "submit",
        Fault("status", status=400, code="DataInspectionFailed", message="inappropriate content"),
    )
    with pytest.raises(ContentRejected):
        image_backend(dashscope_server).generate(image_request(), tmp_path / "a.png")
    dashscope_server.fault(
        "submit", Fault("fail", code="DataInspectionFailed", message="output flagged")
    )
    with pytest.raises(ContentRejected):
        image_backend(dashscope_server).generate(image_request(), tmp_path / "b.png")


def test_invalid_parameter_is_not_retried(dashscope_server: FakeDashScope, tmp_path: Path) -> None:
    dashscope_server.fault(
        "submit", Fault("status", status=400, code="InvalidParameter", message="bad")
    )
    with pytest.raises(ProviderError) as err:
        image_backend(dashscope_server).generate(image_request(), tmp_path / "a.png")
    assert not err.value.retryable
    assert len(dashscope_server.bodies) == 1


def test_truncated_download_is_fetched_again(
    dashscope_server: FakeDashScope, tmp_path: Path
) -> None:
    dashscope_server.fault("download", Fault("truncated"))
    image_backend(dashscope_server).generate(image_request(), tmp_path / "a.png")
    assert dashscope_server.submits["qwen-image"] == 1


def test_expired_url_is_read_again_then_given_up(
    dashscope_server: FakeDashScope, tmp_path: Path
) -> None:
    dashscope_server.fault("download", Fault("expired"))
    image_backend(dashscope_server).generate(image_request(), tmp_path / "a.png")
    dashscope_server.fault("download", Fault("expired"), Fault("expired"))
    journal = Journal(dashscope_server)
    with pytest.raises(ProviderError, match="expired") as err:
        image_backend(dashscope_server).generate(image_request(), tmp_path / "b.png", journal)
    assert err.value.retryable and journal.task_id is None
    assert dashscope_server.submits["qwen-image"] == 2


def test_lost_submit_reply_is_reconciled_not_paid_twice(
    dashscope_server: FakeDashScope, tmp_path: Path
) -> None:
    dashscope_server.fault("submit", Fault("drop"))
    journal = Journal(dashscope_server)
    image_backend(dashscope_server).generate(image_request(), tmp_path / "a.png", journal)
    assert dashscope_server.submits["qwen-image"] == 1
    assert journal.task_id in dashscope_server.tasks


def test_submit_timeout_is_reconciled(dashscope_server: FakeDashScope, tmp_path: Path) -> None:
    dashscope_server.fault("submit", Fault("slow", delay=1.0))
    image_backend(dashscope_server, timeout=0.3).generate(image_request(), tmp_path / "a.png")
    assert dashscope_server.submits["qwen-image"] == 1


def test_recorded_task_is_polled_not_submitted(
    dashscope_server: FakeDashScope, tmp_path: Path
) -> None:
    body = DashScopeImage("qwen-image", Transport(provider(dashscope_server))).body(image_request())
    task = dashscope_server.create_task("image", body, None)
    journal = Journal(dashscope_server, task.task_id)
    image_backend(dashscope_server).generate(image_request(), tmp_path / "a.png", journal)
    assert dashscope_server.bodies == []  # no POST at all
    assert dashscope_server.submits["qwen-image"] == 1 and dashscope_server.polls[task.task_id] == 1


def test_unknown_recorded_task_is_forgotten_and_resubmitted(
    dashscope_server: FakeDashScope, tmp_path: Path
) -> None:
    dashscope_server.running_polls = 2
    journal = Journal(dashscope_server, "no-such-task")
    image_backend(dashscope_server).generate(image_request(), tmp_path / "a.png", journal)
    assert journal.forgotten == 1 and journal.task_id in dashscope_server.tasks
    assert journal.polls_at_record[journal.task_id] == 0  # recorded before its first poll


def test_key_never_appears_in_errors(dashscope_server: FakeDashScope, tmp_path: Path) -> None:
    secret = "sk-this-must-stay-secret"
    settings = provider(dashscope_server, api_key=secret)
    transport = Transport(settings)
    with pytest.raises(ProviderError) as err:
        DashScopeImage("qwen-image", transport).generate(image_request(), tmp_path / "a.png")
    assert "DASHSCOPE_API_KEY" in str(err.value)
    for text in (str(err.value), repr(err.value), repr(transport), repr(settings)):
        assert secret not in text


def test_concurrency_per_model_is_bounded(dashscope_server: FakeDashScope, tmp_path: Path) -> None:
    dashscope_server.running_polls = 3
    backend = image_backend(dashscope_server, concurrency={"qwen-image": 2})
    errors: list[BaseException] = []

    def one(i: int) -> None:
        try:
            backend.generate(image_request(seed=i), tmp_path / f"{i}.png")
        except BaseException as err:  # collected for the assertion below
            errors.append(err)

    threads = [threading.Thread(target=one, args=(i,)) for i in range(6)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert errors == []
    assert dashscope_server.submits["qwen-image"] == 6
    assert dashscope_server.max_in_flight["qwen-image"] == 2


def test_speech_throttle_is_retried_and_a_lost_reply_is_not(
    dashscope_server: FakeDashScope, tmp_path: Path
) -> None:
    backend = DashScopeSpeech("qwen-tts", Transport(provider(dashscope_server)))
    request = SpeechRequest(text="Hello there.", language="en", voice=Voice(id="Cherry"))
    dashscope_server.fault("tts", Fault("status", status=429, code="Throttling", retry_after=0))
    backend.synthesize(request, tmp_path / "a.wav")
    assert dashscope_server.tts_calls["qwen-tts"] == 1
    dashscope_server.fault("tts", Fault("drop"))
    with pytest.raises(ProviderError) as err:
        backend.synthesize(request, tmp_path / "b.wav")
    assert err.value.retryable and dashscope_server.tts_calls["qwen-tts"] == 2


class Killed(BaseException):
    """Stands for a SIGKILL: nothing after it runs, no except clause catches it."""


def test_speech_killed_between_reply_and_file_is_fetched_not_paid_again(
    dashscope_server: FakeDashScope, tmp_path: Path
) -> None:
    """Qwen-TTS answers synchronously with a file URL. The URL is journaled before the
    download, so a run killed in between is resumed from it: one paid reply per line."""

    class DiesAfterReply(MemoryJournal):
        def record_result(self, url: str) -> None:
            super().record_result(url)
            raise Killed

    backend = DashScopeSpeech("qwen-tts", Transport(provider(dashscope_server)), price=2.0)
    request = SpeechRequest(text="你回来了。", language="zh", voice=Voice(id="Cherry"))
    dying = DiesAfterReply()
    with pytest.raises(Killed):
        backend.synthesize(request, tmp_path / "a.wav", dying)
    assert not (tmp_path / "a.wav").exists() and dying.entry.result
    resumed = MemoryJournal()
    resumed.entry = dying.entry
    made = backend.synthesize(request, tmp_path / "a.wav", resumed)
    assert dashscope_server.tts_calls["qwen-tts"] == 1
    assert probe(tmp_path / "a.wav").channels == 1
    assert made.cost == pytest.approx(2.0 * len(request.text) / 1000)


def test_speech_whose_kept_reply_expired_is_asked_for_once_more(
    dashscope_server: FakeDashScope, tmp_path: Path
) -> None:
    backend = DashScopeSpeech("qwen-tts", Transport(provider(dashscope_server)))
    request = SpeechRequest(text="Hello there.", language="en", voice=Voice(id="Cherry"))
    journal = MemoryJournal()
    journal.entry = JournalEntry(result=f"{dashscope_server.url}/files/long-gone")
    backend.synthesize(request, tmp_path / "a.wav", journal)
    assert dashscope_server.tts_calls["qwen-tts"] == 1 and probe(tmp_path / "a.wav").has_audio
    assert journal.entry.result and "long-gone" not in journal.entry.result


# -- wiring ---------------------------------------------------------------------------------


def test_registry_builds_backends_and_needs_a_key(dashscope_server: FakeDashScope) -> None:
    reg = Registry()
    dashscope.register(reg)
    keyless = Settings(dashscope=ProviderSettings())
    with pytest.raises(ConfigError, match="DASHSCOPE_API_KEY"):
        reg.create("image", "dashscope:qwen-image", keyless)
    speech = reg.create("speech", "dashscope:qwen-tts", keyless)
    with pytest.raises(ConfigError, match="DASHSCOPE_API_KEY"):
        speech.check("zh")
    settings = Settings(
        dashscope=provider(dashscope_server), prices={"dashscope:wan2.2-i2v-flash": 0.1}
    )
    video = reg.create("video", "dashscope:wan2.2-i2v-flash", settings)
    assert video.price == 0.1 and video.name == "dashscope:wan2.2-i2v-flash"


def test_base_url_with_or_without_api_v1() -> None:
    assert api_root(None) == "https://dashscope.aliyuncs.com/api/v1"
    assert api_root("https://dashscope-intl.aliyuncs.com") == (
        "https://dashscope-intl.aliyuncs.com/api/v1"
    )
    assert api_root("https://dashscope-intl.aliyuncs.com/api/v1/") == (
        "https://dashscope-intl.aliyuncs.com/api/v1"
    )
