"""The model-driven half of ``dramaforge chat``: free text in, tool calls on a ``Session`` out.

A chat model directs through a fixed allow-list of tools over one episode's session (read the
plan, edit it, voices and looks, cost, takes, render); it has no files, paths or shell. A tool
that fails returns its error to the model as text, so the model can correct itself. The
conversation is checkpointed in the episode's checkpointer under its own thread, so
``chat --resume`` continues it. Rendering spends money, so it runs only when the person
approves it themselves (``/approve``); the model can only ask them to (``chat/tools.py``).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any, Literal

import openai
from langchain_core.language_models import BaseChatModel
from langchain_core.messages import AIMessage, AnyMessage, HumanMessage, SystemMessage, ToolMessage
from langchain_core.runnables import RunnableConfig
from langchain_core.tools import BaseTool
from langgraph.checkpoint.base import BaseCheckpointSaver
from langgraph.errors import GraphRecursionError
from langgraph.graph import END, START, MessagesState, StateGraph
from langgraph.graph.state import CompiledStateGraph
from langgraph.prebuilt import ToolNode, tools_condition

from dramaforge import prompts
from dramaforge.chat.toolbox import Request, Toolbox, session_tools
from dramaforge.config import Settings
from dramaforge.errors import ConfigError, DramaforgeError, ProviderError
from dramaforge.graph import edits
from dramaforge.graph.session import Event, Session
from dramaforge.tools.openai.client import PROVIDERS, chat_client

Turn = tuple[Literal["user", "assistant"], str]
OnEvent = Callable[[Event], None]
MAX_STEPS = 40
"""Model and tool steps in one reply before the agent gives up (a loop, not a long plan)."""
INTERRUPTED = "not run: the chat was interrupted before this tool finished"


def chat_model(settings: Settings) -> BaseChatModel | None:
    """The model of ``[backends] chat`` or, unset, of an ``openai:``/``dashscope:`` director
    (``[openai]`` endpoint and key); None when there is none, so chat offers its slash
    commands only."""
    spec = settings.backends.chat or settings.backends.director
    provider, _, model = spec.partition(":")
    if provider not in PROVIDERS:
        if settings.backends.chat:
            raise ConfigError(
                f"chat = {spec!r}: the chat model must be openai:<model> or dashscope:<model>"
            )
        return None
    example = f"{provider}:deepseek-chat or {provider}:qwen-plus"
    return chat_client("chat", model, settings, example, provider=provider).client


# -- the agent -------------------------------------------------------------------------------

ChatGraph = CompiledStateGraph[MessagesState, None, MessagesState, MessagesState]


class ChatAgent:
    """The director agent of one session; its conversation lives in the checkpointer."""

    def __init__(
        self,
        session: Session,
        model: BaseChatModel,
        checkpointer: BaseCheckpointSaver[Any] | None = None,
    ) -> None:
        self.session = session
        self.thread = f"chat-{session.thread}"
        self._system = SystemMessage("")
        self.box = Toolbox(session)
        tools = session_tools(self.box)
        self.saver = checkpointer if checkpointer is not None else session.saver
        self.graph = _build(model, tools, self.saver, lambda: self._system)
        key = getattr(model, "openai_api_key", None)
        self._secret = key.get_secret_value() if key is not None else ""

    @property
    def config(self) -> RunnableConfig:
        return {"configurable": {"thread_id": self.thread}, "recursion_limit": MAX_STEPS}

    def reply(self, text: str) -> str:
        """Answer one message from the person, acting on the session through the tools."""
        self.box.requested = None
        self._system = self._system_message()
        try:
            out = self.graph.invoke({"messages": [HumanMessage(text)]}, self.config)
        except GraphRecursionError:
            raise DramaforgeError(
                "the director went round in circles on that; say it in smaller steps, "
                "or use the /commands (/help)"
            ) from None
        except openai.APIError as err:
            message = str(err).replace(self._secret, "***") if self._secret else str(err)
            raise ProviderError(f"the chat model failed: {message}") from None
        last: AnyMessage = out["messages"][-1]
        return last.text

    def history(self) -> list[Turn]:
        """The person's messages and the director's answers so far, oldest first."""
        messages: list[AnyMessage] = self.graph.get_state(self.config).values.get("messages", [])
        turns: list[Turn] = []
        for m in messages:
            if isinstance(m, HumanMessage):
                turns.append(("user", m.text))
            elif isinstance(m, AIMessage) and m.text.strip():
                turns.append(("assistant", m.text))
        return turns

    def reset(self) -> None:
        """Forget the conversation (a new chat on an episode); the session is untouched."""
        self.saver.delete_thread(self.thread)

    def requested(self) -> Request | None:
        """What the model asked the person to approve in its last reply: their act, not its."""
        return self.box.requested

    def _system_message(self) -> SystemMessage:
        """Instructions only: nothing from the script (title, names, lines) is put here; the
        model reads those through show_plan, as data in a tool result."""
        plan = self.session.plan()
        text = prompts.template("chat", plan.language).format(
            shots=len(plan.shots),
            framings=", ".join(edits.FRAMINGS),
            cameras=", ".join(edits.CAMERAS),
        )
        return SystemMessage(text)


def _build(
    model: BaseChatModel,
    tools: Sequence[BaseTool],
    checkpointer: BaseCheckpointSaver[Any],
    system: Callable[[], SystemMessage],
) -> ChatGraph:
    """respond -> (tools -> respond)* -> END: the model answers or calls tools."""
    bound = model.bind_tools(tools)

    def respond(state: MessagesState) -> dict[str, list[AnyMessage]]:
        answer = bound.invoke([system(), *_answered(state["messages"])])
        return {"messages": [answer]}

    builder = StateGraph(MessagesState)
    builder.add_node("respond", respond)
    builder.add_node("tools", ToolNode(tools))
    builder.add_edge(START, "respond")
    builder.add_conditional_edges("respond", tools_condition, ["tools", END])
    builder.add_edge("tools", "respond")
    return builder.compile(checkpointer=checkpointer, name="chat")


def _answered(messages: list[AnyMessage]) -> list[AnyMessage]:
    """The history with an error answer for each tool call that never finished (Ctrl-C in a
    render): chat APIs refuse a tool call without its result."""
    done = {m.tool_call_id for m in messages if isinstance(m, ToolMessage)}
    out: list[AnyMessage] = []
    for m in messages:
        out.append(m)
        if isinstance(m, AIMessage):
            out += [
                ToolMessage(INTERRUPTED, tool_call_id=call["id"], status="error")
                for call in m.tool_calls
                if call["id"] and call["id"] not in done
            ]
    return out
