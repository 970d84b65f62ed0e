"""A failed submit told apart: DashScope's own error reply says no task was made (cleared and
sent again at once); a reply that cannot say (a gateway page, a timeout code, a reset) is
looked up in the task list, without holding up the other shots, and the wait is shown.

Counts are the fake DashScope's own (``submits``: tasks created, that is tasks paid for).
"""

from __future__ import annotations

import threading
import time
from pathlib import Path

import httpx
import pytest

from dramaforge.errors import ProviderError
from dramaforge.tools.dashscope.error_codes import says_no_task
from tests.dashscope.test_paid_once import VirtualClock, assert_png, journal_of, keyframe
from tests.fakes.dashscope_server import FakeDashScope, Fault
from tests.helpers import on_shot_line


def _reply(status: int, body: str, kind: str = "application/json") -> httpx.Response:
    return httpx.Response(status, content=body.encode(), headers={"Content-Type": kind})


def test_which_replies_say_no_task_was_made() -> None:
    said = '{"request_id":"7a1c","code":"%s","message":"An internal error has occured"}'
    assert says_no_task(_reply(500, said % "InternalError"))
    assert says_no_task(_reply(500, said % "InternalError.Algo"))
    assert says_no_task(_reply(503, said % "ServiceUnavailable"))
    assert not says_no_task(_reply(500, said % "RequestTimeOut"))  # timed out inside: unsure
    assert not says_no_task(_reply(500, said % "InternalError.Timeout"))
    assert not says_no_task(_reply(502, "<html><h1>502 Bad Gateway</h1></html>", "text/html"))
    assert not says_no_task(_reply(500, '{"message":"upstream error"}'))  # not DashScope's
    assert not says_no_task(_reply(500, '{"code":"InternalError","message":"x"}'))  # no id
    assert not says_no_task(
        _reply(500, '{"request_id":"1","code":"InternalError","output":{"task_id":"t-9"}}')
    )


def test_a_dashscope_500_on_submit_is_sent_again_without_watching_the_list(
    dashscope_server: FakeDashScope, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    clock = VirtualClock(dashscope_server, monkeypatch)
    dashscope_server.fault("submit", Fault("status", status=500, code="InternalError"))
    started = time.monotonic()
    asset = keyframe(
        dashscope_server.url, dashscope_server.api_key, str(tmp_path / "s"), str(tmp_path / "l")
    )
    assert dashscope_server.submits["qwen-image"] == 1  # the refused submit made no task
    assert dashscope_server.lists == 0 and clock.slept == 0.0  # no 70 s watch of the task list
    assert time.monotonic() - started < 5
    assert_png(asset)
    assert not journal_of(tmp_path / "s").path.exists()


def test_a_timeout_code_stays_unknown(
    dashscope_server: FakeDashScope, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    VirtualClock(dashscope_server, monkeypatch)
    dashscope_server.fault("submit", Fault("status", status=500, code="RequestTimeOut"))
    with pytest.raises(ProviderError, match="paid state unknown"):
        keyframe(
            dashscope_server.url, dashscope_server.api_key, str(tmp_path / "s"), str(tmp_path / "l")
        )
    assert dashscope_server.lists >= 1
    assert journal_of(tmp_path / "s").read().intent is not None  # resolved on the next run


def test_an_unknown_submit_holds_up_no_other_shot(
    dashscope_server: FakeDashScope, tmp_path: Path
) -> None:
    """Shot A's reply cannot say (a timeout code, no task behind it): A watches the task list
    for timeout + list_lag (2.5 s here) while shot B, same model, submits and finishes."""
    dashscope_server.fault(
        "submit", Fault("status", status=500, code="RequestTimeOut", when="alley")
    )
    store, ledger = str(tmp_path / "s"), str(tmp_path / "l")
    told: list[dict[str, object]] = []
    ended: dict[str, float] = {}
    errors: dict[str, BaseException | None] = {}

    def shot_a() -> None:
        def attempt() -> BaseException | None:
            try:
                keyframe(dashscope_server.url, dashscope_server.api_key, store, ledger)
            except ProviderError as err:
                return err
            return None

        errors["a"], events = on_shot_line("a", attempt)
        told.extend(events)
        ended["a"] = time.monotonic()

    def shot_b() -> None:
        deadline = time.monotonic() + 10
        while dashscope_server.lists == 0:  # until A's submit went out and is being looked up
            assert time.monotonic() < deadline
            time.sleep(0.02)
        keyframe(
            dashscope_server.url,
            dashscope_server.api_key,
            store,
            ledger,
            seed=8,
            prompt="a rainy harbour",
        )
        ended["b"] = time.monotonic()

    threads = [threading.Thread(target=shot_a), threading.Thread(target=shot_b)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)
    assert "paid state unknown" in str(errors["a"])
    assert ended["b"] < ended["a"] - 0.5  # B did not wait for A's watch to end
    assert dashscope_server.submits["qwen-image"] == 1  # B's; A's made no task
    assert told and all(e["shot"] == "a" and e["stage"] == "dashscope" for e in told)
    first = str(told[0]["status"])
    assert first.startswith("waiting: a submit got no reply") and "s left" in first


@pytest.mark.slow
def test_the_wait_shows_on_the_shots_progress_line(tmp_path: Path) -> None:
    """A render whose first keyframe submit meets a gateway page: the shot's progress events
    say it is looking the task up, and the render finishes with that task adopted."""
    from dramaforge.graph.verbs import render_episode
    from tests.helpers import FIXTURES
    from tests.test_orchestration import dashscope_settings

    events: list[dict[str, object]] = []
    with FakeDashScope() as fake:
        fake.fault("submit", Fault("gateway", status=502))
        settings = dashscope_settings(fake, list_lag=0.5)  # type: ignore[arg-type]
        manifest = render_episode(
            FIXTURES / "short.zh.txt", tmp_path / "out", settings, on_event=events.append
        )
        submits = sum(fake.submits.values())
    waits = [e for e in events if str(e.get("status", "")).startswith("waiting: a submit")]
    assert waits and all(e.get("shot") for e in waits)
    assert submits == sum(1 for _ in manifest.shots) * 2  # a keyframe and a clip each, once
