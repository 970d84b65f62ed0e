"""Qwen-TTS is synchronous: a reply that never came has no task to look up, so the line is
asked for again and may be paid twice. Said where it happens: the asset's note (the
manifest), its cost, the shot's progress line, and the budget counts the lost call."""

from __future__ import annotations

from pathlib import Path

import pytest

from dramaforge.config import DashScopeSettings
from dramaforge.errors import ProviderError
from dramaforge.graph.context import build_context
from dramaforge.media.probe import probe
from dramaforge.media.store import AssetStore, FileJournal
from dramaforge.schema import Voice
from dramaforge.tools.dashscope.speech import TWICE, DashScopeSpeech
from dramaforge.tools.dashscope.transport import Transport
from dramaforge.tools.protocols import Generated, SpeechRequest
from tests.fakes.dashscope_server import FakeDashScope, Fault
from tests.helpers import on_shot_line, settings_for

PRICE = 0.2  # per 1000 characters
LINE = SpeechRequest(text="你来晚了，我们等了你很久。", language="zh", voice=Voice(id="Cherry"))


def _speech(dashscope_server: FakeDashScope) -> DashScopeSpeech:
    settings = DashScopeSettings(
        api_key=dashscope_server.api_key,
        base_url=dashscope_server.url,
        max_retries=2,
        poll_interval=0.01,
        timeout=2.0,
    )
    return DashScopeSpeech("qwen-tts", Transport(settings), price=PRICE)


def _line(store: AssetStore, speech: DashScopeSpeech) -> tuple[str, float, str]:
    def make(dest: Path, journal: FileJournal) -> Generated:
        return speech.synthesize(LINE, dest, journal)

    asset, _ = store.produce("line", "dashscope:qwen-tts", LINE, "wav", make)
    assert probe(Path(asset.path)).has_audio
    return asset.note, asset.cost, asset.path


def test_a_line_asked_again_after_a_lost_reply_says_possibly_paid_twice(
    dashscope_server: FakeDashScope, tmp_path: Path
) -> None:
    store, speech = AssetStore(tmp_path / "store"), _speech(dashscope_server)
    dashscope_server.fault("tts", Fault("drop"))  # spoken and charged, the reply lost on the way
    with pytest.raises(ProviderError) as lost:
        _line(store, speech)
    assert lost.value.maybe_paid and lost.value.retryable
    (note, cost, _), told = on_shot_line("s1", lambda: _line(store, speech))
    assert dashscope_server.tts_calls["qwen-tts"] == 2
    assert note == TWICE
    one = PRICE * len(LINE.text) / 1000
    assert cost == pytest.approx(2 * one)
    assert told == [
        {
            "shot": "s1",
            "stage": "dashscope",
            "status": "asked again after a lost reply: possibly paid twice",
        }
    ]


def test_a_refused_line_is_not_counted_twice(
    dashscope_server: FakeDashScope, tmp_path: Path
) -> None:
    """DashScope's own 500 reply says nothing was made: sent again at once, paid once."""
    store, speech = AssetStore(tmp_path / "store"), _speech(dashscope_server)
    dashscope_server.fault("tts", Fault("status", status=500, code="InternalError"))
    note, cost, _ = _line(store, speech)
    assert dashscope_server.tts_calls["qwen-tts"] == 1
    assert note == "" and cost == pytest.approx(PRICE * len(LINE.text) / 1000)


def test_the_budget_counts_a_lost_synchronous_reply(tmp_path: Path) -> None:
    def lost() -> Generated:
        raise ProviderError("no reply", retryable=True, maybe_paid=True)

    def refused() -> Generated:
        raise ProviderError("refused")

    settings = settings_for()
    priced = settings.model_copy(update={"prices": {"dashscope:qwen-tts": 0.5}})
    ctx = build_context(priced, tmp_path)
    with pytest.raises(ProviderError):
        ctx.paid("dashscope:qwen-tts", 1.0, "a line", refused)
    assert ctx.ledger.spent == 0.0
    with pytest.raises(ProviderError):
        ctx.paid("dashscope:qwen-tts", 2.0, "a line", lost)
    assert ctx.ledger.spent == pytest.approx(1.0)  # counted as paid: it may have been


def test_the_line_is_streamed_and_a_stream_cut_short_may_pay_twice(
    dashscope_server: FakeDashScope, tmp_path: Path
) -> None:
    """Qwen-TTS is asked for as a stream (its audio arrives within a second, so a slow line
    no longer times out before any reply); a stream that breaks off may still have been
    charged: asked again, and said so."""
    store, speech = AssetStore(tmp_path / "store"), _speech(dashscope_server)
    dashscope_server.fault("tts", Fault("cut"))
    with pytest.raises(ProviderError, match="stream broke off") as cut:
        _line(store, speech)
    assert cut.value.maybe_paid
    note, _, path = _line(store, speech)
    assert (
        note == TWICE
        and dashscope_server.tts_calls["qwen-tts"] == 2
        and dashscope_server.streamed == 2
    )
    info = probe(Path(path))
    assert info.channels == 1 and info.duration == pytest.approx(0.08 * len(LINE.text), abs=0.1)
