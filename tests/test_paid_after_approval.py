"""Nothing is paid before the plan and its cost are approved: a series planned in chat against
the fake DashScope makes no paid request, its estimate counts the reference sheets and the
voices to design or clone, approval makes them once (``cast``), a run resumed between
``approve`` and ``cast`` makes them once, and the next episode of the series makes none."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from langgraph.types import Command

from dramaforge.agents.voices import VoiceWish
from dramaforge.config import DashScopeSettings, Settings, VoiceSettings
from dramaforge.errors import ConfigError
from dramaforge.graph.session import Session, session_for
from tests.fakes.dashscope_server import FakeDashScope
from tests.helpers import provider_settings, settings_for
from tests.test_voices import EPISODE_1, VD, _sample

EPISODE_2 = """# 雨夜 第2集
角色：林小雨 — 温柔、略带沙哑的女声；老周（六十岁的老人，低沉苍老的男声）
【场景1】车站 - 夜 - 外
老周：你来了。
林小雨：我来了。
"""
PRICES = {
    "dashscope:qwen-image": 0.25,
    "dashscope:qwen-voice-design": 0.5,
    "dashscope:voice-enrollment": 2.0,
}


def _settings(fake: FakeDashScope, speech: str = f"dashscope:{VD}", **more: Any) -> Settings:
    base = settings_for(max_takes=1)
    backends = base.backends.model_copy(update={"image": "dashscope:qwen-image", "speech": speech})
    dashscope = provider_settings(fake, DashScopeSettings, timeout=10.0, max_retries=1)
    return base.model_copy(
        update={"backends": backends, "dashscope": dashscope, "prices": PRICES, **more}
    )


def _paid(fake: FakeDashScope) -> dict[str, int]:
    """Every request the fake would bill: tasks, speech, voices made, samples uploaded."""
    return {
        "tasks": sum(fake.submits.values()),
        "speech": sum(fake.tts_calls.values()),
        "voices": fake.voices.calls,
        "uploads": len(fake.uploads.files),
    }


NOTHING = {"tasks": 0, "speech": 0, "voices": 0, "uploads": 0}


def _script(tmp_path: Path, name: str, text: str) -> Path:
    path = tmp_path / name
    path.write_text(text, encoding="utf-8")
    return path


def _stop_at_approval(s: Session) -> dict[str, Any]:
    """Run the planned thread into the approve node's own stop; what it shows the person."""
    for _ in s.graph.stream(None, s.config, context=s.context):
        pass
    (task,) = s.graph.get_state(s.config).tasks
    shown: dict[str, Any] = task.interrupts[0].value
    return shown


def _approve_until_cast_is_done(s: Session, payload: Any) -> None:
    for _ in s.graph.stream(payload, s.config, context=s.context, interrupt_before=["ahead"]):
        pass
    assert s.graph.get_state(s.config).next == ("ahead",)


def test_a_series_plan_pays_nothing_and_approval_makes_sheets_and_voices_once(
    dashscope_server: FakeDashScope, tmp_path: Path
) -> None:
    fake, out = dashscope_server, tmp_path / "out"
    settings = _settings(fake)
    with session_for(
        _script(tmp_path, "ep1.txt", EPISODE_1), out, settings, approve=True, series="雨夜"
    ) as s:
        planned, cost = s.bible(), s.estimate()
        assert s.status() == "awaiting_approval"
        assert _paid(fake) == NOTHING
        work = planned.to_make
        assert work.sheets == ["林小雨", "老周"]
        assert {n: v.how for n, v in work.voices.items()} == {"林小雨": "design", "老周": "design"}
        assert work.voices["林小雨"].description == "温柔、略带沙哑的女声"
        assert work.narrator is not None and work.narrator.how == "design"  # vd speaks only those
        assert all(look.reference_image is None for look in planned.characters.values())
        assert all(look.voice.origin is None for look in planned.characters.values())
        shots = len(s.plan().shots)
        assert cost.lines["dashscope:qwen-image"] == pytest.approx(0.25 * (shots + 2))
        assert cost.lines["dashscope:qwen-voice-design"] == pytest.approx(0.5 * 3)

        shown = _stop_at_approval(s)
        assert _paid(fake) == NOTHING  # the approve node's stop is before anything is paid
        assert shown["to_make"]["sheets"] == ["林小雨", "老周"]
        assert shown["estimate"]["total"] == pytest.approx(cost.total)

        _approve_until_cast_is_done(s, Command(resume="approve"))
        made = s.bible()
        assert made.to_make.empty()
        assert _paid(fake) == {**NOTHING, "tasks": 2, "voices": 3}  # 2 sheets, 2 voices + narrator
        assert fake.submits["qwen-image"] == 2
        assert s.context.ledger.spent == pytest.approx(2 * 0.25 + 3 * 0.5)
        for name, look in made.characters.items():
            assert look.voice.origin == "designed"
            assert fake.voices.made[look.voice.id].prompt == work.voices[name].description
            assert Path(look.reference_image or "").name.startswith("sheet-")
        assert made.narrator.origin == "designed"
    book = json.loads((settings.state_root(out) / "series" / "雨夜.json").read_text("utf-8"))
    for name, look in made.characters.items():  # kept for every episode of the series
        assert book[name]["voice"]["id"] == look.voice.id
        assert book[name]["reference_image"] == look.reference_image

    with session_for(
        _script(tmp_path, "ep2.txt", EPISODE_2), out, settings, approve=True, series="雨夜"
    ) as s:
        second = s.bible()
        assert second.to_make.sheets == [] and second.to_make.voices == {}
        assert s.estimate().lines.get("dashscope:qwen-voice-design", 0.0) == 0.0
        assert s.estimate().lines["dashscope:qwen-image"] == pytest.approx(
            0.25 * len(s.plan().shots)
        )
        _approve_until_cast_is_done(s, Command(resume="approve"))
        for name, look in s.bible().characters.items():
            assert look.voice == made.characters[name].voice
            assert look.reference_image == made.characters[name].reference_image
    assert _paid(fake) == {**NOTHING, "tasks": 2, "voices": 3}  # episode 2 made nothing


def test_a_run_resumed_between_approve_and_cast_makes_each_thing_once(
    dashscope_server: FakeDashScope, tmp_path: Path
) -> None:
    fake, out = dashscope_server, tmp_path / "out"
    settings = _settings(fake)
    script = _script(tmp_path, "ep1.txt", EPISODE_1)
    with session_for(script, out, settings, approve=True, series="雨夜") as s:
        s.plan()
        for _ in s.graph.stream(
            Command(resume="approve"), s.config, context=s.context, interrupt_before=["cast"]
        ):
            pass  # approved; the process "dies" before cast runs
        planned = s.bible()
    assert _paid(fake) == NOTHING
    with session_for(script, out, settings, approve=True, series="雨夜") as s:  # a new process
        assert s.status() == "interrupted"
        _approve_until_cast_is_done(s, None)
        made = s.bible()
        # cast made to run again with the same list (a crash after paying, before its
        # checkpoint): voices are found where they were kept, sheets in the asset store
        s.graph.update_state(s.config, {"bible": planned}, as_node="approve")
        _approve_until_cast_is_done(s, None)
        assert s.bible().characters == made.characters
    assert _paid(fake) == {**NOTHING, "tasks": 2, "voices": 3}


def test_a_clone_is_refused_at_planning_without_consent_and_made_once_after_approval(
    dashscope_server: FakeDashScope, tmp_path: Path
) -> None:
    fake = dashscope_server
    sample = _sample(tmp_path / "xiaoyu.wav", 12.0)
    script = _script(tmp_path, "ep1.txt", EPISODE_1)

    def cast(consent: bool) -> Settings:
        wish = VoiceWish(sample=sample, owner="Wang Fang", consent=consent)
        return _settings(
            fake, "dashscope:cosyvoice-v2", voices=VoiceSettings(cast={"林小雨": wish})
        )

    refused = cast(consent=False)
    with (
        session_for(script, tmp_path / "out", refused, approve=True) as s,
        pytest.raises(ConfigError, match="--i-own-this-voice"),
    ):
        s.plan()
    assert _paid(fake) == NOTHING  # refused before the sample went anywhere
    with session_for(script, tmp_path / "again", cast(consent=True), approve=True) as s:
        work = s.bible().to_make
        assert list(work.voices) == ["林小雨"] and work.voices["林小雨"].how == "clone"
        assert work.voices["林小雨"].said() == "sample xiaoyu.wav, owner Wang Fang"
        assert s.estimate().lines["dashscope:voice-enrollment"] == pytest.approx(2.0)
        assert _paid(fake) == NOTHING
        _approve_until_cast_is_done(s, Command(resume="approve"))
        voice = s.bible().characters["林小雨"].voice
    assert voice.origin == "cloned" and voice.consent is not None
    assert voice.consent.owner == "Wang Fang"
    assert _paid(fake) == {**NOTHING, "voices": 1, "uploads": 1}  # no series: no sheets


def test_a_draft_makes_the_voices_but_leaves_the_series_sheets_to_the_approved_render(
    dashscope_server: FakeDashScope, tmp_path: Path
) -> None:
    """``/draft`` speaks with the voices the plan lists (made then, and not paid again by the
    full render) but draws no reference sheet and writes nothing to the series bible: the
    series' sheets are the full render's, drawn once it is approved."""
    fake, out = dashscope_server, tmp_path / "out"
    base = _settings(fake)
    settings = base.model_copy(
        update={"draft": base.draft.model_copy(update={"image": "local:storyboard"})}
    )
    book = settings.state_root(out) / "series" / "雨夜.json"
    with session_for(
        _script(tmp_path, "ep1.txt", EPISODE_1), out, settings, approve=True, series="雨夜"
    ) as s:
        draft = s.draft()
        assert fake.voices.calls == 3 and sum(fake.submits.values()) == 0
        assert all(c.voice.origin == "designed" for c in draft.bible.characters.values())
        for look in draft.bible.characters.values():  # picked from the draft's keyframes
            assert not Path(look.reference_image or "").name.startswith("sheet-")
        assert all(
            look.get("reference_image") is None for look in json.loads(book.read_text()).values()
        )
        assert s.bible().to_make.sheets == ["林小雨", "老周"]  # still waiting for approval
        _approve_until_cast_is_done(s, Command(resume="approve"))
        assert fake.voices.calls == 3  # the draft's voices, not paid again
        assert fake.submits["qwen-image"] == 2  # the series' sheets, at the final size
    kept = json.loads(book.read_text(encoding="utf-8"))
    assert all(Path(look["reference_image"]).name.startswith("sheet-") for look in kept.values())
