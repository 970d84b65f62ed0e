"""CosyVoice over DashScope's WebSocket protocol, against a fake speaking it on loopback."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from dramaforge.config import ProviderSettings, Settings
from dramaforge.errors import ConfigError, ContentRejected, ProviderError
from dramaforge.media.probe import probe
from dramaforge.schema import Voice
from dramaforge.tools import dashscope
from dramaforge.tools.dashscope.cosyvoice import CosyVoice, websocket_url
from dramaforge.tools.protocols import SpeechRequest
from dramaforge.tools.registry import Registry
from tests.fakes.cosyvoice_server import FakeCosyVoice, billed
from tests.helpers import provider_settings

ZH = "你回来了。我等了你很久。"


def settings(server: FakeCosyVoice, **over: Any) -> ProviderSettings:
    fast = {"timeout": 5.0, "max_retries": 2, "poll_interval": 0.01}
    return provider_settings(server, **(fast | over))


def speak(
    server: FakeCosyVoice, dest: Path, text: str = ZH, voice: str = "longcheng_v2", **over: Any
) -> Any:
    backend = CosyVoice("cosyvoice-v2", settings(server, **over), price=2.0)
    return backend.synthesize(SpeechRequest(text=text, language="zh", voice=Voice(id=voice)), dest)


def test_speech_is_a_mono_wav_billed_by_characters(
    cosyvoice_server: FakeCosyVoice, tmp_path: Path
) -> None:
    dest = tmp_path / "line.wav"
    made = speak(cosyvoice_server, dest)
    info = probe(dest)
    assert info.has_audio and info.channels == 1 and info.acodec == "pcm_s16le"
    assert made.duration == pytest.approx(info.duration)
    assert info.duration == pytest.approx(0.08 * len(ZH), abs=0.01)
    assert made.cost == pytest.approx(2.0 * billed(ZH) / 1000)  # what the server billed
    assert cosyvoice_server.runs["cosyvoice-v2"] == 1
    assert cosyvoice_server.characters["cosyvoice-v2"] == 10 * 2 + 2  # ten hanzi, two full stops
    run, text, finish = cosyvoice_server.messages
    assert run["payload"]["parameters"]["voice"] == "longcheng_v2"
    assert run["payload"]["model"] == "cosyvoice-v2"
    assert text["payload"]["input"]["text"] == ZH
    assert finish["header"]["action"] == "finish-task"
    assert {m["header"]["task_id"] for m in cosyvoice_server.messages} == {run["header"]["task_id"]}


def test_unknown_voice_falls_back_to_a_system_voice(
    cosyvoice_server: FakeCosyVoice, tmp_path: Path
) -> None:
    speak(
        cosyvoice_server, tmp_path / "a.wav", voice="Cherry"
    )  # a Qwen-TTS voice from an old bible
    assert cosyvoice_server.messages[0]["payload"]["parameters"]["voice"] == "longxiaochun_v2"


def test_throttled_handshake_is_retried_nothing_paid_twice(
    cosyvoice_server: FakeCosyVoice, tmp_path: Path
) -> None:
    cosyvoice_server.fault("reject")
    speak(cosyvoice_server, tmp_path / "a.wav")
    assert cosyvoice_server.handshakes == 2 and cosyvoice_server.runs["cosyvoice-v2"] == 1


def test_bad_key_is_not_retried_and_not_shown(
    cosyvoice_server: FakeCosyVoice, tmp_path: Path
) -> None:
    secret = "sk-cosy-secret-must-not-leak"
    with pytest.raises(ProviderError, match="DASHSCOPE_API_KEY") as err:
        speak(cosyvoice_server, tmp_path / "a.wav", api_key=secret)
    assert not err.value.retryable and secret not in str(err.value)
    assert cosyvoice_server.handshakes == 1


def test_failed_tasks(cosyvoice_server: FakeCosyVoice, tmp_path: Path) -> None:
    cosyvoice_server.fault("fail:DataInspectionFailed")
    with pytest.raises(ContentRejected):
        speak(cosyvoice_server, tmp_path / "a.wav")
    cosyvoice_server.fault("fail:InternalError.Algo")
    with pytest.raises(ProviderError, match=r"InternalError\.Algo") as err:
        speak(cosyvoice_server, tmp_path / "b.wav")
    assert err.value.retryable
    assert not list(tmp_path.iterdir())


def test_broken_session_is_not_retried(cosyvoice_server: FakeCosyVoice, tmp_path: Path) -> None:
    cosyvoice_server.fault("drop")
    with pytest.raises(ProviderError, match="bill it twice") as err:
        speak(cosyvoice_server, tmp_path / "a.wav")
    assert err.value.retryable and cosyvoice_server.runs["cosyvoice-v2"] == 1
    assert not list(tmp_path.iterdir())


def test_registry_and_websocket_url(monkeypatch: pytest.MonkeyPatch) -> None:
    reg = Registry()
    dashscope.register(reg)
    keyless = reg.create("speech", "dashscope:cosyvoice-v2", Settings(dashscope=ProviderSettings()))
    assert isinstance(keyless, CosyVoice)
    with pytest.raises(ConfigError, match="DASHSCOPE_API_KEY"):
        keyless.check("zh")
    assert len({v.id for v in keyless.voices("en")}) >= 4
    intl = ProviderSettings(base_url="https://dashscope-intl.aliyuncs.com/api/v1")
    assert websocket_url(intl) == "wss://dashscope-intl.aliyuncs.com/api-ws/v1/inference"
    assert websocket_url(ProviderSettings()) == "wss://dashscope.aliyuncs.com/api-ws/v1/inference"
    monkeypatch.setenv("DASHSCOPE_API_KEY", "sk-env")
    monkeypatch.setenv("DASHSCOPE_WEBSOCKET_BASE_URL", "ws://127.0.0.1:9/api-ws/v1/inference")
    assert websocket_url(Settings().dashscope) == "ws://127.0.0.1:9/api-ws/v1/inference"
