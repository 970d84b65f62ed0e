"""The LLM director against a fake OpenAI-compatible server speaking real HTTP on loopback."""

from __future__ import annotations

import json
import threading
from pathlib import Path
from typing import Any

import pytest

from dramaforge.agents.llm_director import LLMDirector
from dramaforge.agents.plugin import openai_director
from dramaforge.config import ProviderSettings, Settings
from dramaforge.errors import ConfigError, ProviderError
from dramaforge.schema import Script, ShotPlan
from dramaforge.script import load_script
from tests.fakes.openai_server import (
    FakeOpenAI,
    Reply,
    Request,
    cover_all,
    first_user,
    invalid_json,
    json_reply,
    line_count,
    messages_text,
    mode,
    plan_for,
    rate_limited,
    server_error,
    truncated_json,
    unauthorized,
)
from tests.helpers import provider_settings

EXAMPLES = Path(__file__).resolve().parent.parent / "examples"
KEY = "sk-test-secret-0123456789"
METHODS = ["json_schema", "function_calling", "json_mode"]


def director(
    openai_server: FakeOpenAI, method: str = "json_schema", key: str | None = KEY, **openai: Any
) -> LLMDirector:
    base = Settings()
    fields: dict[str, Any] = {"timeout": 10, "max_retries": 0, **openai}
    provider = provider_settings(openai_server, api_key=key, structured_output=method, **fields)
    settings = base.model_copy(update={"openai": provider})
    return openai_director("fake-chat", settings)


def zh() -> Script:
    return load_script(EXAMPLES / "campus_ep01.zh.txt")


def en() -> Script:
    return load_script(EXAMPLES / "rain_stop.en.fountain")


def assert_lines_verbatim(script: Script, plan: ShotPlan) -> None:
    spoken = [(b.text, b.speaker if b.kind == "dialogue" else None) for b in script.spoken_lines()]
    placed = [(line.text, line.speaker) for shot in plan.shots for line in shot.lines]
    assert placed == spoken


@pytest.mark.parametrize("method", METHODS)
@pytest.mark.parametrize("which", ["zh", "en"])
def test_plans_each_example_with_each_method(
    openai_server: FakeOpenAI, method: str, which: str
) -> None:
    script = zh() if which == "zh" else en()
    plan = director(openai_server, method).direct(script)

    assert plan.director == "openai:fake-chat"
    assert plan.language == script.language
    assert_lines_verbatim(script, plan)
    assert [s.index for s in plan.shots] == list(range(1, len(plan.shots) + 1))
    assert plan.shots[0].id == "s01-01" and plan.shots[0].framing == "wide"
    for shot in plan.shots:
        assert 2.0 <= shot.duration <= 8.0
    assert plan.shots[0].music  # both examples open on a music cue
    assert len(openai_server.requests) == len(script.scenes)
    for request in openai_server.requests:
        assert request["model"] == "fake-chat"
        assert mode(request) == method
        assert request["_headers"]["authorization"] == f"Bearer {KEY}"
        system = messages_text(request, "system")
        assert "close_up" in system and "pan_left" in system and "JSON" in system
        if which == "zh":
            assert "分镜" in system
        else:
            assert "shot list" in system
    if method == "json_schema":
        schema = openai_server.requests[0]["response_format"]["json_schema"]
        assert schema["name"] == "SceneDraft"


def test_scenes_run_concurrently_and_merge_in_order(openai_server: FakeOpenAI) -> None:
    barrier = threading.Barrier(2, timeout=5)

    def both_at_once(request: Request) -> Reply:
        barrier.wait()  # fails (BrokenBarrierError -> 500) unless two scenes are in flight
        return cover_all(request)

    openai_server.handler = both_at_once
    script = zh()
    plan = director(openai_server, default_concurrency=4).direct(script)

    assert openai_server.max_in_flight == 2
    assert [s.scene_index for s in plan.shots] == sorted(s.scene_index for s in plan.shots)
    assert next(s.id for s in plan.shots if s.scene_index == 2) == "s02-01"
    assert_lines_verbatim(script, plan)


def test_invalid_json_once_then_valid_feeds_the_error_back(openai_server: FakeOpenAI) -> None:
    openai_server.then(invalid_json)
    plan = director(openai_server).direct(en())

    assert_lines_verbatim(en(), plan)
    assert len(openai_server.requests) == 2
    retry = openai_server.requests[1]["messages"][-1]
    assert retry["role"] == "user"
    assert "rejected" in retry["content"] and "JSON" in retry["content"]


@pytest.mark.parametrize("method", METHODS)
def test_always_invalid_falls_back_to_rules_after_retries(
    openai_server: FakeOpenAI, method: str
) -> None:
    openai_server.handler = invalid_json
    script = en()
    plan = director(openai_server, method).direct(script)

    assert len(openai_server.requests) == 3 * len(
        script.scenes
    )  # one try + two retries (the default)
    assert_lines_verbatim(script, plan)  # every scene planned by rule
    assert [(r.scene, r.kind) for r in plan.repairs] == [
        (s.index, "fallback") for s in script.scenes
    ]
    assert "3 attempts" in plan.repairs[0].detail and "JSON" in plan.repairs[0].detail
    assert plan.shots[0].id == "s01-01"


def test_truncated_reply_is_retried(openai_server: FakeOpenAI) -> None:
    openai_server.then(truncated_json)
    plan = director(openai_server).direct(en())

    assert_lines_verbatim(en(), plan)
    assert "cut off" in openai_server.requests[1]["messages"][-1]["content"]


def _dropping(request: Request) -> dict[str, Any]:
    plan = plan_for(line_count(request))
    del plan["shots"][2]  # line 2 never lands on a shot
    return plan


def _reordering(request: Request) -> dict[str, Any]:
    plan = plan_for(line_count(request))
    plan["shots"][1], plan["shots"][2] = plan["shots"][2], plan["shots"][1]
    return plan


def _repeating(request: Request) -> dict[str, Any]:
    plan = plan_for(line_count(request))
    plan["shots"][1]["lines"] = [1, 2]
    return plan


@pytest.mark.parametrize(
    ("bad", "message"),
    [
        (_dropping, "not in any shot"),
        (_reordering, "out of script order"),
        (_repeating, "more than one shot"),
    ],
)
def test_plan_that_loses_or_reorders_a_line_is_retried(
    openai_server: FakeOpenAI, bad: Any, message: str
) -> None:
    openai_server.then(json_reply(bad))
    plan = director(openai_server).direct(en())

    assert_lines_verbatim(en(), plan)
    assert message in openai_server.requests[1]["messages"][-1]["content"]


def test_unknown_framing_is_rejected_and_retried(openai_server: FakeOpenAI) -> None:
    def dolly(request: Request) -> dict[str, Any]:
        plan = plan_for(line_count(request))
        plan["shots"][0]["camera"] = "dolly_zoom"
        return plan

    openai_server.then(json_reply(dolly))
    director(openai_server, "function_calling").direct(en())
    assert "camera" in openai_server.requests[1]["messages"][-1]["content"]


def test_model_never_rewrites_dialogue(openai_server: FakeOpenAI) -> None:
    def rewriting(request: Request) -> dict[str, Any]:
        plan = plan_for(line_count(request))
        plan["shots"][1]["text"] = "a rewritten line"  # ignored: lines are copied from the script
        return plan

    openai_server.handler = json_reply(rewriting)
    assert_lines_verbatim(en(), director(openai_server, "json_mode").direct(en()))


def test_prompt_lists_scene_lines_by_number(openai_server: FakeOpenAI) -> None:
    director(openai_server).direct(zh())
    users = sorted((first_user(r) for r in openai_server.requests), key=lambda t: "第 2 场" in t)
    assert "[L1] narration:" in users[0] and "[L2] dialogue 陈默" in users[0]
    assert "第 1 场" in users[0] and "第 2 场" in users[1]


def test_rate_limit_is_retryable_after_client_retries(openai_server: FakeOpenAI) -> None:
    openai_server.handler = rate_limited()
    with pytest.raises(ProviderError) as err:
        director(openai_server, max_retries=2).direct(en())

    assert err.value.retryable and "429" in str(err.value)
    assert (
        len(openai_server.requests) == 3
    )  # the openai client's own retries, honouring Retry-After


def test_server_error_is_retryable(openai_server: FakeOpenAI) -> None:
    openai_server.handler = server_error
    with pytest.raises(ProviderError) as err:
        director(openai_server).direct(en())
    assert err.value.retryable and "500" in str(err.value)


def test_bad_key_is_a_config_error_without_the_key(openai_server: FakeOpenAI) -> None:
    openai_server.handler = unauthorized
    with pytest.raises(ConfigError) as err:
        director(openai_server).direct(en())

    assert "OPENAI_API_KEY" in str(err.value)
    assert KEY not in str(err.value) and KEY not in repr(err.value)
    assert KEY in json.dumps(openai_server.requests[0]["_headers"])  # the server did get it


def test_missing_key_for_remote_endpoint_names_the_variable(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.delenv("OPENAI_API_KEY", raising=False)
    monkeypatch.delenv("OPENAI_BASE_URL", raising=False)
    settings = Settings().model_copy(
        update={"openai": ProviderSettings(base_url="https://api.deepseek.com")}
    )
    with pytest.raises(ConfigError, match="OPENAI_API_KEY"):
        openai_director("deepseek-chat", settings)


def test_local_server_needs_no_key(openai_server: FakeOpenAI) -> None:
    plan = director(openai_server, key=None).direct(en())
    assert_lines_verbatim(en(), plan)


def test_unknown_structured_output_method_is_a_config_error(openai_server: FakeOpenAI) -> None:
    with pytest.raises(ConfigError, match="structured_output"):
        director(openai_server, "xml")
