"""The workspace tools in a LangGraph agent, driven by a scripted model that calls them."""

from __future__ import annotations

import json
import shutil
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import pytest
from langchain_core.callbacks import CallbackManagerForLLMRun
from langchain_core.language_models import BaseChatModel
from langchain_core.messages import AIMessage, BaseMessage, ToolMessage
from langchain_core.outputs import ChatGeneration, ChatResult
from langgraph.prebuilt import create_react_agent

from dramaforge.media.probe import probe
from dramaforge.serve.langchain import episode_tools
from dramaforge.serve.workspace import Workspace
from tests.helpers import FIXTURES, settings_for

# create_react_agent is the agent langgraph itself ships (its successor lives in `langchain`).
pytestmark = [pytest.mark.slow, pytest.mark.filterwarnings("ignore:create_react_agent")]


class Scripted(BaseChatModel):
    """Answers with the next scripted message."""

    replies: list[AIMessage]

    @property
    def _llm_type(self) -> str:
        return "scripted"

    def bind_tools(self, tools: Sequence[Any], **kwargs: Any) -> Scripted:
        return self

    def _generate(
        self,
        messages: list[BaseMessage],
        stop: list[str] | None = None,
        run_manager: CallbackManagerForLLMRun | None = None,
        **kwargs: Any,
    ) -> ChatResult:
        return ChatResult(generations=[ChatGeneration(message=self.replies.pop(0))])


def _call(name: str, args: dict[str, Any], n: int) -> AIMessage:
    return AIMessage("", tool_calls=[{"name": name, "args": args, "id": f"call_{n}"}])


def test_an_agent_plans_renders_and_is_refused_outside_the_workspace(tmp_path: Path) -> None:
    root = tmp_path / "ws"
    root.mkdir()
    shutil.copy(FIXTURES / "short.zh.txt", root / "short.zh.txt")
    events: list[dict[str, Any]] = []
    tools = episode_tools(Workspace(root, settings_for()), on_event=events.append)
    model = Scripted(
        replies=[
            _call("plan_episode", {"script": "short.zh.txt"}, 1),
            _call("render_episode", {"script": "short.zh.txt"}, 2),
            _call("get_episode", {"episode": "../../etc"}, 3),
            AIMessage("The episode is at out/short/episode.mp4."),
        ]
    )
    agent = create_react_agent(model, tools)
    final = agent.invoke({"messages": [("user", "Make a video of short.zh.txt")]})

    answers = [m for m in final["messages"] if isinstance(m, ToolMessage)]
    assert [m.name for m in answers] == ["plan_episode", "render_episode", "get_episode"]
    planned = json.loads(str(answers[0].content))
    assert len(planned["shots"]) == 5 and planned["estimate"]["total"] == 0.0
    made = json.loads(str(answers[1].content))
    info = probe(root / made["video"])
    assert info.has_video and info.has_audio and (info.width, info.height) == (360, 640)
    assert made["shots"] == 5 and events  # progress reached the caller
    assert answers[2].status == "error" and "outside the workspace" in str(answers[2].content)
    assert final["messages"][-1].content == "The episode is at out/short/episode.mp4."
