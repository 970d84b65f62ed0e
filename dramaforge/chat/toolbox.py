"""What a chat model may do to a session: a fixed allow-list of tools, and nothing else.

Each tool is a module-level function of a ``Toolbox`` (the session, where render progress
goes, and what the model asked the person to approve) and its validated arguments. Looking and
editing are free and act at once. Spending money is never the model's act: ``request_render``
and ``request_draft`` only show the person what would be made and what it costs; the person
approves with ``/approve`` (or ``/draft``), which the REPL runs, not the model.
"""

from __future__ import annotations

import contextvars
import functools
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Literal

from langchain_core.tools import BaseTool, StructuredTool, ToolException
from pydantic import BaseModel, Field, ValidationError

from dramaforge.errors import DramaforgeError, EditError
from dramaforge.graph import edits
from dramaforge.graph.session import Event, Session
from dramaforge.schema import CameraMove, Framing, Shot, ShotResult

OnEvent = Callable[[Event], None]
Request = Literal["render", "draft"]


@dataclass
class Toolbox:
    """What the tools act on; ``requested`` is the spend the model last asked the person for."""

    session: Session
    requested: Request | None = None


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


class NoArgs(BaseModel):
    pass


# -- the tools -------------------------------------------------------------------------------


def show_plan(box: Toolbox) -> str:
    return plan_text(box.session)


def show_takes(box: Toolbox, shot: str) -> str:
    return shot_text(*box.session.takes(shot))


def edit_shot(box: Toolbox, shot: str, line: int | None = None, **fields: Any) -> str:
    changes = {k: v for k, v in fields.items() if v is not None}
    line_text = changes.pop("line_text", None)
    if (line is None) != (line_text is None):
        raise EditError("to rewrite a spoken line give both line (its number) and line_text")
    if line is not None:
        changes[f"line {line}"] = line_text
    if not changes:
        names = [name for name in EditArgs.model_fields if name != "shot"]
        raise EditError(f"say what to change: {', '.join(names)}")
    s = box.session
    plan = s.plan()
    for field, value in changes.items():  # check every change before saving any
        plan = edits.edit_shot(plan, shot, field, value)
    for field, value in changes.items():
        edited = s.edit(shot, field, value)
    return f"edited {edited.id}; it will be rendered again\n{shot_text(edited, None)}"


def add_shot(
    box: Toolbox, after: str, prompt: str, line: str | None = None, speaker: str | None = None
) -> str:
    added = box.session.add(after, prompt, line=line, speaker=speaker)
    return f"added {added.id}\n{plan_text(box.session)}"


def remove_shot(box: Toolbox, shot: str) -> str:
    box.session.remove(shot)
    return f"removed\n{plan_text(box.session)}"


def move_shot(box: Toolbox, shot: str, to: int) -> str:
    box.session.move(shot, to)
    return f"moved (the shot is not rendered again)\n{plan_text(box.session)}"


def set_voice(box: Toolbox, name: str, **changes: Any) -> str:
    given = {k: v for k, v in changes.items() if v is not None}
    if not given:
        raise EditError("say what to change: voice, rate or pitch")
    box.session.set_voice(name, **given)
    return f"{name}'s voice changed; their lines will be spoken again at the next render"


def set_look(box: Toolbox, name: str, description: str) -> str:
    box.session.set_look(name, description)
    return f"{name}'s look changed; every shot they are in will be rendered again"


def redo_shot(box: Toolbox, shot: str) -> str:
    return f"{box.session.redo(shot).id} will get a new take at the next render"


def restore_take(box: Toolbox, shot: str, take: int) -> str:
    chosen = box.session.restore(shot, take)
    return f"take {chosen.number} of shot {shot} is used again (nothing is generated)"


def estimate_cost(box: Toolbox) -> str:
    return cost_text(box.session)


def request_render(box: Toolbox) -> str:
    box.requested = "render"
    return (
        f"nothing rendered yet: the person is shown this and approves it with /approve\n"
        f"{cost_text(box.session)}"
    )


def request_draft(box: Toolbox) -> str:
    box.requested = "draft"
    return (
        "no draft made yet: the person is shown this and starts it with /draft (a cheap "
        f"low-resolution render; the full render still needs approval)\n{cost_text(box.session)}"
    )


TOOLS: tuple[tuple[str, str, type[BaseModel], Callable[..., str]], ...] = (
    ("show_plan", "The shot list, characters and voices.", NoArgs, show_plan),
    ("show_takes", "One shot in full, with every take made of it.", ShotArgs, show_takes),
    ("edit_shot", "Change fields of one shot (free).", EditArgs, edit_shot),
    ("add_shot", "Add a new shot after another (free).", AddArgs, add_shot),
    ("remove_shot", "Remove a shot (free).", ShotArgs, remove_shot),
    ("move_shot", "Move a shot to another position (free).", MoveArgs, move_shot),
    ("set_voice", "Change a character's or the narrator's voice.", VoiceArgs, set_voice),
    ("set_look", "Change a character's fixed appearance.", LookArgs, set_look),
    (
        "redo_shot",
        "Ask for a new take of an unchanged shot at the next render (free until then).",
        ShotArgs,
        redo_shot,
    ),
    ("restore_take", "Use an earlier take of a shot again (free).", RestoreArgs, restore_take),
    (
        "estimate_cost",
        "Which shots the next render makes, and what it costs.",
        NoArgs,
        estimate_cost,
    ),
    (
        "request_draft",
        "Show the person what a cheap low-resolution draft would make; they start it. Only "
        "when the person asked for a draft.",
        NoArgs,
        request_draft,
    ),
    (
        "request_render",
        "Show the person what the render would make and cost; they approve it themselves. "
        "Only when the person asked to approve or render.",
        NoArgs,
        request_render,
    ),
)
"""(name, description, arguments, function of the toolbox and the arguments)."""


def session_tools(box: Toolbox) -> list[BaseTool]:
    """The allow-list of what a chat model may do to ``box.session``."""
    return [
        make_tool(name, about, args, functools.partial(run, box))
        for name, about, args, run in TOOLS
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
    out.append(f"estimated cost {cost.summary}")
    out += [
        f"  {spec}: {amount:.2f}"
        + (f" (one take {cost.one_take[spec]:.2f})" if cost.one_take[spec] != amount else "")
        for spec, amount in cost.lines.items()
    ]
    if cost.past_budget:
        out.append(f"past the budget of {cost.budget:.2f}: the render stops before crossing it")
    if cost.unpriced:
        out.append(f"no price configured for {', '.join(cost.unpriced)} (counted as 0)")
    return "\n".join(out + session.bible().to_make.describe())
