"""The model-driven half of ``dramaforge chat``: free text in, tool calls on a ``Session`` out.

A chat model directs through a fixed allow-list of tools over one episode's session (read the
plan, edit it, voices and looks, cost, takes, render); it has no files, paths or shell. A tool
that fails returns its error to the model as text, so the model can correct itself. The
conversation is checkpointed in the episode's checkpointer under its own thread, so
``chat --resume`` continues it. Rendering spends money, so the render tool runs only when the
model quotes the person's own words from the current message asking for it.
"""

from __future__ import annotations

import contextvars
from collections.abc import Callable, Sequence
from typing import Any, Literal

import openai
from langchain_core.language_models import BaseChatModel
from langchain_core.messages import AIMessage, AnyMessage, HumanMessage, SystemMessage, ToolMessage
from langchain_core.runnables import RunnableConfig
from langchain_core.tools import BaseTool, StructuredTool, ToolException
from langgraph.checkpoint.base import BaseCheckpointSaver
from langgraph.errors import GraphRecursionError
from langgraph.graph import END, START, MessagesState, StateGraph
from langgraph.graph.state import CompiledStateGraph
from langgraph.prebuilt import ToolNode, tools_condition
from pydantic import BaseModel, Field, ValidationError

from dramaforge import prompts
from dramaforge.config import Settings
from dramaforge.errors import ConfigError, DramaforgeError, EditError, ProviderError
from dramaforge.graph import edits
from dramaforge.graph.session import Event, Session
from dramaforge.schema import CameraMove, Framing, Shot, ShotResult
from dramaforge.tools.openai.client import chat_client

Turn = tuple[Literal["user", "assistant"], str]
OnEvent = Callable[[Event], None]
MAX_STEPS = 40
"""Model and tool steps in one reply before the agent gives up (a loop, not a long plan)."""
INTERRUPTED = "not run: the chat was interrupted before this tool finished"


def chat_model(settings: Settings) -> BaseChatModel | None:
    """The model of ``[backends] chat`` or, unset, of ``director = "openai:<model>"``
    (``[openai]`` endpoint and key); None when there is none, so chat offers its slash
    commands only."""
    spec = settings.backends.chat or settings.backends.director
    provider, _, model = spec.partition(":")
    if provider != "openai":
        if settings.backends.chat:
            raise ConfigError(f"chat = {spec!r}: the chat model must be openai:<model>")
        return None
    return chat_client("chat", model, settings, "openai:deepseek-chat or openai:qwen-plus").client


# -- tools -----------------------------------------------------------------------------------

ShotRef = Field(description="shot number as listed by show_plan (1-based), or shot id")


class ShotArgs(BaseModel):
    shot: str = ShotRef


class EditArgs(BaseModel):
    shot: str = ShotRef
    prompt: str | None = Field(None, description="new visual prompt of the keyframe")
    action: str | None = None
    framing: Framing | None = None
    camera: CameraMove | None = None
    mood: str | None = None
    time: str | None = Field(None, description="time of day, e.g. night, dusk, morning")
    duration: float | None = Field(None, description="seconds")
    music: str | None = Field(None, description='music cue; "none" removes it')
    sfx: list[str] | None = None
    focus: str | None = Field(None, description='the character in focus; "none" for nobody')
    characters: list[str] | None = None
    line: int | None = Field(None, description="number of this shot's spoken line to rewrite")
    line_text: str | None = Field(None, description="the new text of that line")


class AddArgs(BaseModel):
    after: str = Field(description="shot number or id the new shot follows; 0 puts it first")
    prompt: str = Field(description="visual prompt of the new shot")
    line: str | None = Field(None, description="a spoken line for the new shot, if any")
    speaker: str | None = Field(None, description="who says it; leave out for narration")


class MoveArgs(BaseModel):
    shot: str = ShotRef
    to: int = Field(description="new 1-based position")


class VoiceArgs(BaseModel):
    name: str = Field(description='character name, or "narrator"')
    voice: str | None = Field(None, description="voice id of the speech backend")
    rate: float | None = Field(None, description="speed, 0.5-2.0 (1 = normal)")
    pitch: float | None = Field(None, description="pitch, 0.5-2.0 (1 = normal)")


class LookArgs(BaseModel):
    name: str = Field(description="character name")
    description: str = Field(description="their fixed appearance: age, hair, clothes")


class RestoreArgs(BaseModel):
    shot: str = ShotRef
    take: int = Field(description="take number, as listed by show_takes")


class RenderArgs(BaseModel):
    approval: str = Field(
        description="the person's own words from their latest message that ask to approve "
        "or render, quoted exactly"
    )


class NoArgs(BaseModel):
    pass


def session_tools(
    session: Session,
    *,
    on_event: OnEvent | None = None,
    heard: Callable[[], str] | None = None,
) -> list[BaseTool]:
    """The allow-list of what a chat model may do to ``session``, and nothing else.

    ``on_event`` receives render progress. ``heard`` returns the person's current message:
    when given, ``render`` refuses unless its ``approval`` is quoted from it.
    """
    s = session

    def edit_shot(shot: str, line: int | None = None, **fields: Any) -> str:
        changes = {k: v for k, v in fields.items() if v is not None}
        line_text = changes.pop("line_text", None)
        if (line is None) != (line_text is None):
            raise EditError("to rewrite a spoken line give both line (its number) and line_text")
        if line is not None:
            changes[f"line {line}"] = line_text
        if not changes:
            names = [name for name in EditArgs.model_fields if name != "shot"]
            raise EditError(f"say what to change: {', '.join(names)}")
        plan = s.plan()
        for field, value in changes.items():  # check every change before saving any
            plan = edits.edit_shot(plan, shot, field, value)
        for field, value in changes.items():
            edited = s.edit(shot, field, value)
        return f"edited {edited.id}; it will be rendered again\n{shot_text(edited, None)}"

    def render(approval: str) -> str:
        if heard is not None and not _quoted(approval, heard()):
            raise DramaforgeError(
                "not rendered: the person has not asked to render in this message; "
                "tell them what the next render will make and cost, and ask them to approve"
            )
        todo = [shot.id for shot in s.to_render()]
        made = s.render(on_event)
        ep = made.episode
        what = f"rendered {len(todo)} shot(s) ({', '.join(todo)})" if todo else "nothing changed"
        return (
            f"{what}; the episode is {ep.duration:.1f}s at {ep.width}x{ep.height}, "
            f"total cost so far {made.total_cost:.2f}: {ep.path}"
        )

    def draft(approval: str) -> str:
        if heard is not None and not _quoted(approval, heard()):
            raise DramaforgeError(
                "no draft made: the person has not asked for one in this message; ask them"
            )
        made = s.draft(on_event)
        ep = made.episode
        return (
            f"draft of {len(made.shots)} shots, {ep.duration:.1f}s at {ep.width}x{ep.height}, "
            f"cost {made.total_cost:.2f}: {ep.path}; the full render still needs approval"
        )

    def takes(shot: str) -> str:
        return shot_text(*s.takes(shot))

    def add(after: str, prompt: str, line: str | None = None, speaker: str | None = None) -> str:
        added = s.add(after, prompt, line=line, speaker=speaker)
        return f"added {added.id}\n{plan_text(s)}"

    def voice(name: str, **changes: Any) -> str:
        given = {k: v for k, v in changes.items() if v is not None}
        if not given:
            raise EditError("say what to change: voice, rate or pitch")
        s.set_voice(name, **given)
        return f"{name}'s voice changed; their lines will be spoken again at the next render"

    def look(name: str, description: str) -> str:
        s.set_look(name, description)
        return f"{name}'s look changed; every shot they are in will be rendered again"

    def restore(shot: str, take: int) -> str:
        chosen = s.restore(shot, take)
        return f"take {chosen.number} of shot {shot} is used again (nothing is generated)"

    def moved(shot: str, to: int) -> str:
        s.move(shot, to)
        return f"moved (the shot is not rendered again)\n{plan_text(s)}"

    def removed(shot: str) -> str:
        s.remove(shot)
        return f"removed\n{plan_text(s)}"

    return [
        make_tool(
            "show_plan", "The shot list, characters and voices.", NoArgs, lambda: plan_text(s)
        ),
        make_tool("show_takes", "One shot in full, with every take made of it.", ShotArgs, takes),
        make_tool("edit_shot", "Change fields of one shot (free).", EditArgs, edit_shot),
        make_tool("add_shot", "Add a new shot after another (free).", AddArgs, add),
        make_tool("remove_shot", "Remove a shot (free).", ShotArgs, removed),
        make_tool("move_shot", "Move a shot to another position (free).", MoveArgs, moved),
        make_tool("set_voice", "Change a character's or the narrator's voice.", VoiceArgs, voice),
        make_tool("set_look", "Change a character's fixed appearance.", LookArgs, look),
        make_tool(
            "redo_shot",
            "Ask for a new take of an unchanged shot at the next render (free until then).",
            ShotArgs,
            lambda shot: f"{s.redo(shot).id} will get a new take at the next render",
        ),
        make_tool(
            "restore_take", "Use an earlier take of a shot again (free).", RestoreArgs, restore
        ),
        make_tool(
            "estimate_cost",
            "Which shots the next render makes, and what it costs.",
            NoArgs,
            lambda: cost_text(s),
        ),
        make_tool(
            "draft",
            "A cheap low-resolution render of the plan to review before approving (costs a "
            "little with paid models). Only when the person asked for a draft.",
            RenderArgs,
            draft,
        ),
        make_tool(
            "render",
            "Render the episode: spends money. Only when the person asked to approve/render.",
            RenderArgs,
            render,
        ),
    ]


def make_tool(
    name: str, description: str, args: type[BaseModel], run: Callable[..., str]
) -> BaseTool:
    def call(**kwargs: Any) -> str:
        try:
            # A fresh context: the session's graph runs as its own run, not inside the
            # agent's (whose recursion limit and callbacks it would otherwise inherit).
            return contextvars.Context().run(run, **kwargs)
        except DramaforgeError as err:
            raise ToolException(str(err)) from None

    return StructuredTool.from_function(
        call,
        name=name,
        description=description,
        args_schema=args,
        handle_tool_error=True,
        handle_validation_error=_invalid,
    )


def _invalid(err: Exception) -> str:
    """Bad arguments, as the model can fix them: which field, and what it should be."""
    if isinstance(err, ValidationError):
        return "; ".join(f"{'.'.join(map(str, e['loc']))}: {e['msg']}" for e in err.errors())
    return str(err)


def _quoted(approval: str, message: str) -> bool:
    said = " ".join(approval.split()).casefold()
    return bool(said) and said in " ".join(message.split()).casefold()


# -- what the tools show ---------------------------------------------------------------------


def plan_text(session: Session) -> str:
    """The plan as the model reads it: numbered shots, what each says, what will render."""
    plan, bible, results = session.plan(), session.bible(), session.results()
    todo = {shot.id for shot in session.to_render()}
    total = sum(shot.duration for shot in plan.shots)
    out = [f"{plan.title}: {len(plan.shots)} shots, about {total:.0f}s"]
    for n, shot in enumerate(plan.shots, 1):
        done = results.get(shot.id)
        state = f"take {done.take.number} of {len(done.takes)}" if done else "not rendered"
        if shot.id in todo:
            state += ", to render"
        spoken = " / ".join(f"{ln.speaker or 'narrator'}: {ln.text}" for ln in shot.lines)
        sound = ", ".join([*shot.sfx, *([f"music {shot.music}"] if shot.music else [])])
        out.append(
            f"{n}. {shot.id} [{state}] scene {shot.scene_index} {shot.scene_heading}; "
            f"{shot.framing}, {shot.camera}, {shot.duration:.1f}s, time {shot.time_of_day or '-'}"
            f", mood {shot.mood}; prompt: {shot.visual_prompt}"
            + (f"; lines: {spoken}" if spoken else "")
            + (f"; sound: {sound}" if sound else "")
        )
    out.append("characters:")
    for name, who in bible.characters.items():
        v = who.voice
        out.append(f"- {name}: {who.description} (voice {v.id}, rate {v.rate}, pitch {v.pitch})")
    vo = bible.narrator
    out.append(f"- narrator (voice {vo.id}, rate {vo.rate}, pitch {vo.pitch})")
    return "\n".join(out)


def shot_text(shot: Shot, result: ShotResult | None) -> str:
    out = [
        f"{shot.id}: {shot.framing}, {shot.camera}, {shot.duration:.1f}s, "
        f"time {shot.time_of_day or '-'}, mood {shot.mood}, focus {shot.focus or '-'}",
        f"characters: {', '.join(shot.characters) or '-'}",
        f"prompt: {shot.visual_prompt}",
        f"action: {shot.action}",
    ]
    out += [
        f"line {i}: {ln.speaker or 'narrator'}: {ln.text}" for i, ln in enumerate(shot.lines, 1)
    ]
    for take in result.takes if result else []:
        used = " (used)" if result and take.number == result.take.number else ""
        verdict = "passed" if take.critique.passed else "; ".join(take.critique.issues)
        out.append(f"take {take.number}{used}: {take.duration:.1f}s, {verdict}")
    return "\n".join(out)


def cost_text(session: Session) -> str:
    todo = session.to_render()
    cost = session.estimate()
    out = [f"next render: {len(todo)} shot(s) {', '.join(s.id for s in todo)}"]
    out.append(f"estimated cost {cost.total:.2f}")
    out += [f"  {spec}: {amount:.2f}" for spec, amount in cost.lines.items()]
    if cost.unpriced:
        out.append(f"no price configured for {', '.join(cost.unpriced)} (counted as 0)")
    return "\n".join(out)


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
        self._heard = ""
        self._on_event: OnEvent | None = None
        self._system = SystemMessage("")
        tools = session_tools(session, on_event=self._event, heard=lambda: self._heard)
        self.saver = checkpointer if checkpointer is not None else session.saver
        self.graph = _build(model, tools, self.saver, lambda: self._system)
        key = getattr(model, "openai_api_key", None)
        self._secret = key.get_secret_value() if key is not None else ""

    @property
    def config(self) -> RunnableConfig:
        return {"configurable": {"thread_id": self.thread}, "recursion_limit": MAX_STEPS}

    def reply(self, text: str, on_event: OnEvent | None = None) -> str:
        """Answer one message from the person, acting on the session through the tools."""
        self._heard, self._on_event = text, on_event
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
        finally:
            self._on_event = None
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

    def _event(self, event: Event) -> None:
        if self._on_event is not None:
            self._on_event(event)

    def _system_message(self) -> SystemMessage:
        plan, bible = self.session.plan(), self.session.bible()
        text = prompts.template("chat", plan.language).format(
            title=plan.title,
            shots=len(plan.shots),
            framings=", ".join(edits.FRAMINGS),
            cameras=", ".join(edits.CAMERAS),
            characters=", ".join(bible.characters) or "-",
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
