"""Moderation: a rejected prompt is rewritten once; rejected twice, only that shot fails."""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

import pytest
from langchain_openai import ChatOpenAI

from dramaforge.agents.director import RuleDirector
from dramaforge.agents.llm_director import LLMDirector
from dramaforge.graph.context import build_context
from dramaforge.graph.verbs import render_episode
from dramaforge.media.probe import probe
from dramaforge.schema import Language, Manifest, Script, Shot, ShotPlan
from tests.fakes.dashscope_server import FakeDashScope, Fault
from tests.fakes.openai_server import FakeOpenAI, fake_openai, messages_text, says, server_error
from tests.helpers import FIXTURES, provider_settings, settings_for

pytestmark = pytest.mark.slow
REJECT = Fault("status", status=400, code="DataInspectionFailed", message="flagged by the fake")


def _render(dashscope_server: FakeDashScope, out: Path) -> Manifest:
    base = settings_for(concurrency=1)
    settings = base.model_copy(
        update={
            "backends": base.backends.model_copy(update={"image": "dashscope:qwen-image"}),
            "dashscope": provider_settings(dashscope_server, poll_interval=0.01, timeout=10.0),
        }
    )
    return render_episode(FIXTURES / "short.zh.txt", out, settings)


def test_one_rejection_is_rewritten_and_passes(
    dashscope_server: FakeDashScope, tmp_path: Path
) -> None:
    dashscope_server.fault("submit", REJECT)
    manifest = _render(dashscope_server, tmp_path)
    assert all(r.take.critique.passed for r in manifest.shots)
    prompts = [
        b["input"]["prompt"] for b in dashscope_server.bodies if b.get("model") == "qwen-image"
    ]
    assert len(prompts) == len(manifest.plan.shots) + 1  # one extra, the rewritten prompt
    rewritten = next(r for r in manifest.shots if "适合所有年龄" in r.take.keyframe.prompt)
    assert rewritten.take.keyframe.backend == "dashscope:qwen-image"


def test_rejected_twice_fails_that_shot_and_the_rest_renders(
    dashscope_server: FakeDashScope, tmp_path: Path
) -> None:
    close_up = replace(REJECT, when="特写")  # one shot's prompt, and its rewrite, both times
    dashscope_server.fault("submit", close_up, close_up)
    manifest = _render(dashscope_server, tmp_path)
    failed = [r for r in manifest.shots if not r.take.critique.passed]
    assert [r.shot_id for r in failed] == ["s01-03"]
    take = failed[0].take
    assert "moderation" in take.critique.issues[0] and take.critique.reviewer == "moderation"
    assert take.keyframe.backend == "local:storyboard"  # placeholder keeps the timing
    assert len(failed[0].takes) == 1  # a moderation failure is not retried
    others = [r for r in manifest.shots if r is not failed[0]]
    assert all(r.take.keyframe.backend == "dashscope:qwen-image" for r in others)
    info = probe(Path(manifest.episode.path))
    assert abs(info.duration - sum(r.duration for r in manifest.shots)) <= 0.5


class _RulesThenModel:
    """Plans by rules (no scripted plan needed) and rewrites refusals with the LLM director."""

    def __init__(self, llm: LLMDirector) -> None:
        self.name, self.llm, self.rules = llm.name, llm, RuleDirector()

    def direct(self, script: Script) -> ShotPlan:
        return self.rules.direct(script)

    def rewrite(self, shot: Shot, prompt: str, reason: str, language: Language) -> str:
        return self.llm.rewrite(shot, prompt, reason, language)


def _render_with_model(dashscope_server: FakeDashScope, model: FakeOpenAI, out: Path) -> Manifest:
    base = settings_for(concurrency=1)
    settings = base.model_copy(
        update={
            "backends": base.backends.model_copy(update={"image": "dashscope:qwen-image"}),
            "dashscope": provider_settings(dashscope_server, poll_interval=0.01, timeout=10.0),
        }
    )
    chat = ChatOpenAI(model="fake-chat", base_url=model.base_url, api_key="k", max_retries=0)
    director = _RulesThenModel(LLMDirector(name="openai:fake-chat", chat_model=chat))
    context = build_context(settings, settings.state_root(out), director=director)
    return render_episode(FIXTURES / "short.zh.txt", out, settings, context=context)


def test_the_llm_director_rewrites_a_refused_prompt_knowing_why(
    dashscope_server: FakeDashScope, tmp_path: Path
) -> None:
    dashscope_server.fault("submit", REJECT)
    with fake_openai() as model:
        model.then(says("“中景，教室，白天，两位同学安静地交谈。”"))
        manifest = _render_with_model(dashscope_server, model, tmp_path)
        assert len(model.requests) == 1
        asked = messages_text(model.requests[0])
        assert "flagged by the fake" in asked  # the provider's reason reached the model
    prompts = [
        b["input"]["prompt"] for b in dashscope_server.bodies if b.get("model") == "qwen-image"
    ]
    assert prompts.count("中景，教室，白天，两位同学安静地交谈。") == 1
    assert prompts[0] in asked  # it rewrote the refused prompt itself
    assert all(r.take.critique.passed for r in manifest.shots)

    # Refused again on a later render: the stored rewrite is used, the model is not asked, and
    # the rewritten keyframe is the one already paid for.
    dashscope_server.fault("submit", REJECT)
    with fake_openai() as again:
        again_manifest = _render_with_model(dashscope_server, again, tmp_path)
        assert again.requests == []
    assert [r.take.keyframe.key for r in again_manifest.shots] == [
        r.take.keyframe.key for r in manifest.shots
    ]


def test_a_failing_model_falls_back_to_the_neutral_rewrite(
    dashscope_server: FakeDashScope, tmp_path: Path
) -> None:
    dashscope_server.fault("submit", REJECT)
    with fake_openai(server_error) as model:
        manifest = _render_with_model(dashscope_server, model, tmp_path)
        assert model.requests
    assert any("适合所有年龄" in r.take.keyframe.prompt for r in manifest.shots)
    assert all(r.take.critique.passed for r in manifest.shots)
