"""The chat director agent, driven by a fake OpenAI-compatible server that returns tool calls."""

from __future__ import annotations

import io
from contextlib import nullcontext
from pathlib import Path

import pytest
from langchain_core.language_models import BaseChatModel
from langchain_core.messages import AIMessage
from langchain_openai import ChatOpenAI
from pydantic import SecretStr
from rich.console import Console

from dramaforge.chat.agent import INTERRUPTED, ChatAgent, chat_model
from dramaforge.chat.repl import Chat
from dramaforge.config import Settings
from dramaforge.errors import ConfigError, ProviderError
from dramaforge.graph.session import Event, session_for
from dramaforge.media.probe import probe
from tests.fakes.openai_server import (
    FakeOpenAI,
    messages_text,
    says,
    tool_call,
    tool_names,
    tool_results,
    unauthorized,
)
from tests.helpers import FIXTURES, counting_context, provider_settings, settings_for

SCRIPT = FIXTURES / "short.zh.txt"
TOOLS = [
    "show_plan",
    "show_takes",
    "edit_shot",
    "add_shot",
    "remove_shot",
    "move_shot",
    "set_voice",
    "set_look",
    "redo_shot",
    "restore_take",
    "estimate_cost",
    "request_draft",
    "request_render",
]


def _with_chat(settings: Settings, openai_server: FakeOpenAI) -> Settings:
    provider = provider_settings(openai_server, timeout=10, max_retries=0)
    backends = settings.backends.model_copy(update={"director": "openai:fake-chat"})
    return settings.model_copy(update={"openai": provider, "backends": backends})


def _model(openai_server: FakeOpenAI) -> BaseChatModel:
    model = chat_model(_with_chat(settings_for(), openai_server))
    assert model is not None
    return model


def test_chat_model_comes_from_an_openai_director(openai_server: FakeOpenAI) -> None:
    assert chat_model(settings_for()) is None  # local director: slash commands only
    model = chat_model(_with_chat(settings_for(), openai_server))
    assert isinstance(model, ChatOpenAI)
    assert model.model_name == "fake-chat"
    # Its own chat model beside a rule-based director; a non-chat provider is refused.
    local = settings_for()
    own = local.model_copy(
        update={
            "openai": provider_settings(openai_server),
            "backends": local.backends.model_copy(update={"chat": "openai:talker"}),
        }
    )
    talker = chat_model(own)
    assert isinstance(talker, ChatOpenAI) and talker.model_name == "talker"
    wrong = own.model_copy(
        update={"backends": own.backends.model_copy(update={"chat": "local:rules"})}
    )
    with pytest.raises(ConfigError, match="openai:<model> or dashscope:<model>"):
        chat_model(wrong)


@pytest.mark.slow
def test_edit_by_chat_then_approve_rerenders_only_that_shot(
    tmp_path: Path, openai_server: FakeOpenAI
) -> None:
    settings = settings_for()
    ctx, calls = counting_context(settings, tmp_path)
    with session_for(SCRIPT, tmp_path, settings, approve=True, context=ctx) as session:
        agent = ChatAgent(session, _model(openai_server))
        openai_server.then(tool_call("request_render", {}), says("请输入 /approve 开始渲染。"))
        assert agent.reply("批准，开始渲染") == "请输入 /approve 开始渲染。"
        assert agent.requested() == "render" and session.manifest() is None  # asked, not done
        assert calls["image"] == 0
        chat = Chat(session, Console(file=io.StringIO()), agent)
        chat.handle("/approve")  # the person's act
        first = session.manifest()
        assert first is not None
        made = calls.copy()
        target = first.plan.shots[1].id

        openai_server.then(
            tool_call("edit_shot", {"shot": "2", "framing": "close_up", "time": "night"}),
            says("第2个镜头已改为夜景特写，下次渲染只重做这一个镜头。要渲染吗？"),
        )
        agent.reply("把第2个镜头改成夜景特写")
        assert tool_names(openai_server.requests[-2]) == TOOLS  # the allow-list, nothing else
        assert f"edited {target}" in tool_results(openai_server.requests[-1])[-1]["content"]
        assert calls == made  # editing spends nothing
        assert [s.id for s in session.to_render()] == [target]

        events: list[Event] = []
        openai_server.then(tool_call("request_render", {}, "call_2"), says("Type /approve."))
        agent.reply("approve")
        assert (
            f"next render: 1 shot(s) {target}"
            in tool_results(openai_server.requests[-1])[-1]["content"]
        )
        assert calls == made  # the model asked; nothing was made
        quiet = Console(file=io.StringIO())
        Chat(session, quiet, agent, progress=lambda: nullcontext(events.append)).handle("/approve")
        manifest = session.manifest()
    assert manifest is not None and events
    assert calls["image"] == made["image"] + 1 and calls["video"] == made["video"] + 1
    edited = manifest.plan.shots[1]
    assert (edited.framing, edited.time_of_day) == ("close_up", "night")
    before = {r.shot_id: r.take.keyframe.path for r in first.shots}
    after = {r.shot_id: r.take.keyframe.path for r in manifest.shots}
    assert [k for k in after if after[k] != before[k]] == [target]


def test_tool_errors_go_back_to_the_model_and_the_chat_resumes(
    tmp_path: Path, openai_server: FakeOpenAI
) -> None:
    settings = settings_for()
    ctx, calls = counting_context(settings, tmp_path)
    with session_for(SCRIPT, tmp_path, settings, approve=True, context=ctx) as session:
        agent = ChatAgent(session, _model(openai_server))
        shots = len(session.plan().shots)
        openai_server.then(
            tool_call("edit_shot", {"shot": "99", "framing": "close_up"}),
            tool_call("edit_shot", {"shot": "1", "framing": "spin"}, "call_2"),
            says(f"没有第99个镜头，只有1到{shots}。"),
        )
        agent.reply("把第99个镜头改成特写")
        missing = tool_results(openai_server.requests[-2])[-1]
        assert missing["tool_call_id"] == "call_1"
        assert f"there is no shot 99: the plan has shots 1-{shots}" in missing["content"]
        invalid = tool_results(openai_server.requests[-1])[-1]
        assert invalid["tool_call_id"] == "call_2"
        assert "framing: Input should be" in invalid["content"]
        assert session.plan().shots[0].framing != "spin"

        # The model cannot render: its request only shows the person what /approve would do.
        openai_server.then(tool_call("request_render", {}, "call_3"), says("请先批准。"))
        agent.reply("看起来不错")
        assert "nothing rendered yet" in tool_results(openai_server.requests[-1])[-1]["content"]
        assert calls["image"] == 0 and session.status() == "awaiting_approval"

    # `chat --resume`: a new agent on the same thread continues the conversation.
    with session_for(SCRIPT, tmp_path, settings, approve=True, context=ctx) as session:
        agent = ChatAgent(session, _model(openai_server))
        assert agent.history() == [
            ("user", "把第99个镜头改成特写"),
            ("assistant", f"没有第99个镜头，只有1到{shots}。"),
            ("user", "看起来不错"),
            ("assistant", "请先批准。"),
        ]
        openai_server.then(says("好的。"))
        assert agent.reply("继续") == "好的。"
        sent = openai_server.requests[-1]
        assert sent["messages"][0]["role"] == "system"
        assert "把第99个镜头改成特写" in messages_text(sent, "user")
        assert len(tool_results(sent)) == 3
        agent.reset()  # a new chat on the same episode starts a new conversation
        assert agent.history() == [] and len(session.plan().shots) == shots


def test_a_failing_chat_model_is_one_clear_error_without_the_key(
    tmp_path: Path, openai_server: FakeOpenAI
) -> None:
    key = "sk-test-secret-0123456789"
    settings = _with_chat(settings_for(), openai_server)
    settings = settings.model_copy(
        update={"openai": settings.openai.model_copy(update={"api_key": SecretStr(key)})}
    )
    model = chat_model(settings)
    assert model is not None
    with session_for(SCRIPT, tmp_path, settings_for(), approve=True) as session:
        agent = ChatAgent(session, model)
        openai_server.then(unauthorized)
        with pytest.raises(ProviderError, match="chat model failed") as caught:
            agent.reply("hello")
    assert key not in str(caught.value)


def test_a_tool_call_cut_off_by_ctrl_c_is_answered_before_the_next_turn(
    tmp_path: Path, openai_server: FakeOpenAI
) -> None:
    settings = settings_for()
    ctx, _ = counting_context(settings, tmp_path)
    with session_for(SCRIPT, tmp_path, settings, approve=True, context=ctx) as session:
        agent = ChatAgent(session, _model(openai_server))
        cut = AIMessage("", tool_calls=[{"name": "request_render", "args": {}, "id": "call_9"}])
        agent.graph.update_state(agent.config, {"messages": [cut]}, as_node="respond")
        openai_server.then(says("渲染被中断了，要重新开始吗？"))
        agent.reply("刚才怎么了")
    answered = tool_results(openai_server.requests[-1])
    assert [(m["tool_call_id"], m["content"]) for m in answered] == [("call_9", INTERRUPTED)]


@pytest.mark.slow
def test_a_draft_asked_for_in_chat_is_made_at_draft_resolution(
    tmp_path: Path, openai_server: FakeOpenAI
) -> None:
    settings = settings_for(resolution="480p")
    with session_for(SCRIPT, tmp_path, settings, approve=True) as session:
        agent = ChatAgent(session, _model(openai_server))
        openai_server.then(tool_call("request_draft", {}), says("输入 /draft 出草稿。"))
        assert agent.reply("先出个草稿看看") == "输入 /draft 出草稿。"
        answer = tool_results(openai_server.requests[-1])[-1]["content"]
        assert "the full render still needs approval" in answer
        assert agent.requested() == "draft"
        assert not (tmp_path / "short" / "draft" / "episode.mp4").exists()  # asked, not made
        Chat(session, Console(file=io.StringIO()), agent).handle("/draft")
        assert session.status() == "awaiting_approval"  # the full render was not started
    draft = probe(tmp_path / "short" / "draft" / "episode.mp4")
    assert (draft.width, draft.height) == (360, 640)
    assert not (tmp_path / "short" / "episode.mp4").exists()
