"""``dramaforge chat``: direct an episode in a conversation.

Slash commands work offline and always; with a chat model configured, anything else is said
to the director agent, which acts through the same session. Every edit is written to the
episode's checkpoint thread at once, so ``chat --resume`` picks up where a person left off.
"""

from __future__ import annotations

import shlex
from collections.abc import Callable, Iterable
from contextlib import AbstractContextManager, nullcontext
from dataclasses import dataclass
from typing import Protocol

from rich.console import Console
from rich.markup import escape

from dramaforge.chat.terminal import cost_lines, plan_table, safe, shot_detail, to_make_lines
from dramaforge.chat.toolbox import Request
from dramaforge.chat.voices import voice_wish
from dramaforge.errors import DramaforgeError
from dramaforge.graph.session import Event, Session

NO_CHAT_MODEL = (
    "no chat model is configured, so only commands work here (/help); to talk to the "
    'director, set [backends] chat = "openai:MODEL" (or an openai:/dashscope: director) in '
    "dramaforge.toml"
)
"""Printed without markup: rich would take ``[backends]`` for a style and drop it."""

HELP = """\
Commands (shots are numbered as in /plan, or named by id):
  /plan                      the shot list, which take each shot uses, what will be rendered
  /show N                    one shot in full, with its takes
  /edit N FIELD VALUE        change a shot: prompt, action, framing, camera, mood, time,
                             duration, music, sfx, focus, characters, or "line K" (its Kth line)
  /redo N                    a new take of shot N at the next render
  /add AFTER PROMPT          a new shot after shot AFTER (0 = first)
  /remove N    /move N TO    drop a shot, or move it (it is not re-rendered)
  /voice NAME [id=V] [rate=R] [pitch=P]    a character's (or "narrator") voice
  /voice NAME WORDS          a voice designed from words (or the closest the engine has)
  /voice NAME sample=F consent=yes [owner=WHO]   cloned from a sample you own
  /look NAME DESCRIPTION     a character's fixed look (their shots are redone)
  /take N K                  use take K of shot N again (nothing is generated)
  /cost                      what the next render will cost
  /draft                     a cheap low-resolution render of the plan, to check before paying
  /approve   (or /render)    render now: only new, edited or redone shots are made
  /help    /quit
"""


ProgressFactory = Callable[[], AbstractContextManager[Callable[[Event], None]]]


class Responder(Protocol):
    """The model-driven director: free text in, its answer out."""

    def reply(self, text: str) -> str: ...

    def requested(self) -> Request | None:
        """What the model asked the person to approve in that reply (they type the command)."""
        ...


@dataclass
class Chat:
    session: Session
    console: Console
    agent: Responder | None = None
    progress: ProgressFactory = lambda: nullcontext(_ignore)
    """Makes a context manager yielding an ``on_event`` callback for renders."""

    def start(self) -> None:
        status = self.session.status()
        if status == "done":
            self.console.print("[green]rendered[/] — keep directing, or /quit", highlight=False)
        self.show_plan()
        for repair in self.session.plan().repairs:  # what the director fixed in the model's plan
            self.console.print(f"[yellow]{safe(repair.describe())}[/]", highlight=False)
        self.console.print("/help lists the commands; /approve renders.", highlight=False)

    def loop(self, lines: Iterable[str]) -> None:
        for line in lines:
            if not self.handle(line):
                return

    def handle(self, line: str) -> bool:
        """Act on one line; False when the person is done."""
        text = line.strip()
        if not text:
            return True
        try:
            if text.startswith("/"):
                return self.command(text)
            self.say(text)
        except DramaforgeError as err:
            self.console.print(f"[red]{escape(str(err))}[/]", highlight=False)
        return True

    def say(self, text: str) -> None:
        if self.agent is None:
            self.console.print(NO_CHAT_MODEL, highlight=False, markup=False)
            return
        answer = self.agent.reply(text)
        self.console.print(answer, highlight=False, markup=False)
        asked = self.agent.requested()
        if asked is not None:
            self._cost()
            command = "/approve" if asked == "render" else "/draft"
            self.console.print(
                f"[bold]type {command} to {asked} this[/] (nothing is spent until you do)",
                highlight=False,
            )

    def command(self, text: str) -> bool:
        try:
            name, *args = shlex.split(text)
        except ValueError as err:
            raise DramaforgeError(f"cannot read that command: {err}") from None
        name = name.lower()
        if name in ("/quit", "/exit", "/q"):
            return False
        handler = COMMANDS.get(ALIASES.get(name, name))
        if handler is None:
            raise DramaforgeError(f"unknown command {name}; /help lists them")
        handler(self, args)
        return True

    def show_plan(self) -> None:
        s = self.session
        results = s.results() or None
        self.console.print(
            plan_table(s.plan(), s.estimate(), results=results, to_render=s.to_render())
        )
        self._cost()

    def render(self) -> None:
        todo = self.session.to_render()
        with self._progress() as on_event:
            manifest = self.session.render(on_event)
        ep = manifest.episode
        self.console.print(
            f"[green]rendered[/] {len(todo)} shot(s); episode {ep.duration:.1f}s "
            f"{ep.width}x{ep.height}, total cost so far {manifest.total_cost:.2f}\n"
            f"{escape(ep.path)}",
            highlight=False,
        )

    def draft(self) -> None:
        with self._progress() as on_event:
            made = self.session.draft(on_event)
        self.console.print(
            f"[green]draft[/] {made.episode.duration:.1f}s {made.episode.width}x"
            f"{made.episode.height}, cost {made.total_cost:.2f}\n{escape(made.episode.path)}\n"
            "/approve renders it at full quality",
            highlight=False,
        )

    def _cost(self) -> None:
        s = self.session
        todo = s.to_render()
        cost = s.estimate()
        self.console.print(
            f"next render: {len(todo)} shot(s), estimated cost {cost.summary}",
            highlight=False,
        )
        for line in cost_lines(cost) + to_make_lines(s.bible().to_make):
            self.console.print(line, highlight=False)

    def _done(self, what: str) -> None:
        self.console.print(f"[green]ok[/] {escape(what)}", highlight=False)

    def _progress(self) -> AbstractContextManager[Callable[[Event], None]]:
        return self.progress()


# -- the commands: one function each, found by name --------------------------------------------


def _help(chat: Chat, args: list[str]) -> None:
    chat.console.print(HELP, highlight=False, markup=False)


def _plan(chat: Chat, args: list[str]) -> None:
    chat.show_plan()


def _show(chat: Chat, args: list[str]) -> None:
    shot, result = chat.session.takes(_arg(args, 0, "/show N"))
    chat.console.print(shot_detail(shot, result))


def _edit(chat: Chat, args: list[str]) -> None:
    if len(args) < 3:
        raise DramaforgeError("usage: /edit N FIELD VALUE (for lines: /edit N line K TEXT)")
    if args[1].lower() == "line" and len(args) >= 4:
        edited = chat.session.edit(args[0], f"line {args[2]}", " ".join(args[3:]))
    else:
        edited = chat.session.edit(args[0], args[1], " ".join(args[2:]))
    chat._done(f"{edited.id} edited; it will be rendered again")


def _redo(chat: Chat, args: list[str]) -> None:
    redone = chat.session.redo(_arg(args, 0, "/redo N"))
    chat._done(f"{redone.id} will get a new take at the next render")


def _remove(chat: Chat, args: list[str]) -> None:
    chat.session.remove(_arg(args, 0, "/remove N"))
    chat._done("removed")


def _move(chat: Chat, args: list[str]) -> None:
    chat.session.move(_arg(args, 0, "/move N TO"), _int(_arg(args, 1, "/move N TO")))
    chat._done("moved")


def _add(chat: Chat, args: list[str]) -> None:
    if len(args) < 2:
        raise DramaforgeError("usage: /add AFTER PROMPT")
    added = chat.session.add(args[0], " ".join(args[1:]))
    chat._done(f"{added.id} added")


def _voice(chat: Chat, args: list[str]) -> None:
    who = _arg(args, 0, "/voice NAME [id=V] [rate=R] [pitch=P] | WORDS | sample=F consent=yes")
    wish = voice_wish(args[1:])
    if wish is not None:  # designed from words, or cloned from a sample (chat/voices.py)
        made = chat.session.make_voice(who, wish)
        chat._done(f"{who}'s voice is {made.origin}: {made.id}")
        return
    chat.session.set_voice(who, **_voice_args(args[1:]))
    chat._done(f"{who}'s voice changed")


def _look(chat: Chat, args: list[str]) -> None:
    if len(args) < 2:
        raise DramaforgeError("usage: /look NAME DESCRIPTION")
    chat.session.set_look(args[0], " ".join(args[1:]))
    chat._done(f"{args[0]}'s look changed")


def _take(chat: Chat, args: list[str]) -> None:
    take = chat.session.restore(_arg(args, 0, "/take N K"), _int(_arg(args, 1, "/take N K")))
    chat._done(f"take {take.number} restored")


COMMANDS: dict[str, Callable[[Chat, list[str]], None]] = {
    "/help": _help,
    "/plan": _plan,
    "/show": _show,
    "/edit": _edit,
    "/redo": _redo,
    "/remove": _remove,
    "/move": _move,
    "/add": _add,
    "/voice": _voice,
    "/look": _look,
    "/take": _take,
    "/cost": lambda chat, _args: chat._cost(),
    "/draft": lambda chat, _args: chat.draft(),
    "/approve": lambda chat, _args: chat.render(),
}
ALIASES = {"/?": "/help", "/render": "/approve"}


def _ignore(_event: Event) -> None:
    return None


def _arg(args: list[str], i: int, usage: str) -> str:
    if len(args) <= i:
        raise DramaforgeError(f"usage: {usage}")
    return args[i]


def _int(text: str) -> int:
    if not text.lstrip("-").isdigit():
        raise DramaforgeError(f"{text!r} is not a number")
    return int(text)


def _voice_args(pairs: list[str]) -> dict[str, object]:
    out: dict[str, object] = {}
    for pair in pairs:
        key, sep, value = pair.partition("=")
        if not sep or key not in ("id", "rate", "pitch"):
            raise DramaforgeError(f"{pair!r}: use id=V, rate=R or pitch=P")
        if key == "id":
            out["voice"] = value
        else:
            try:
                out[key] = float(value)
            except ValueError:
                raise DramaforgeError(f"{key} must be a number, not {value!r}") from None
    if not out:
        raise DramaforgeError("say what to change: id=V, rate=R or pitch=P")
    return out
