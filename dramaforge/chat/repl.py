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

from dramaforge.chat.views import cost_lines, plan_table, shot_detail
from dramaforge.errors import DramaforgeError
from dramaforge.graph.session import Event, Session

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

    def reply(self, text: str, on_event: Callable[[Event], None] | None = None) -> str: ...


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
            self.console.print(f"[red]{err}[/]", highlight=False)
        return True

    def say(self, text: str) -> None:
        if self.agent is None:
            self.console.print(
                "no chat model is configured, so only commands work here (/help); "
                "set [openai] in dramaforge.toml to talk to the director",
                highlight=False,
            )
            return
        with self._progress() as on_event:
            answer = self.agent.reply(text, on_event)
        self.console.print(answer, highlight=False)

    def command(self, text: str) -> bool:
        try:
            name, *args = shlex.split(text)
        except ValueError as err:
            raise DramaforgeError(f"cannot read that command: {err}") from None
        name = name.lower()
        s = self.session
        if name in ("/quit", "/exit", "/q"):
            return False
        if name in ("/help", "/?"):
            self.console.print(HELP, highlight=False, markup=False)
        elif name == "/plan":
            self.show_plan()
        elif name == "/show":
            shot, result = s.takes(_arg(args, 0, "/show N"))
            self.console.print(shot_detail(shot, result))
        elif name == "/edit":
            if len(args) < 3:
                raise DramaforgeError("usage: /edit N FIELD VALUE (for lines: /edit N line K TEXT)")
            if args[1].lower() == "line" and len(args) >= 4:
                edited = s.edit(args[0], f"line {args[2]}", " ".join(args[3:]))
            else:
                edited = s.edit(args[0], args[1], " ".join(args[2:]))
            self._done(f"{edited.id} edited; it will be rendered again")
        elif name == "/redo":
            redone = s.redo(_arg(args, 0, "/redo N"))
            self._done(f"{redone.id} will get a new take at the next render")
        elif name == "/remove":
            s.remove(_arg(args, 0, "/remove N"))
            self._done("removed")
        elif name == "/move":
            s.move(_arg(args, 0, "/move N TO"), _int(_arg(args, 1, "/move N TO")))
            self._done("moved")
        elif name == "/add":
            if len(args) < 2:
                raise DramaforgeError("usage: /add AFTER PROMPT")
            added = s.add(args[0], " ".join(args[1:]))
            self._done(f"{added.id} added")
        elif name == "/voice":
            who = _arg(args, 0, "/voice NAME [id=V] [rate=R] [pitch=P]")
            s.set_voice(who, **_voice_args(args[1:]))
            self._done(f"{who}'s voice changed")
        elif name == "/look":
            if len(args) < 2:
                raise DramaforgeError("usage: /look NAME DESCRIPTION")
            s.set_look(args[0], " ".join(args[1:]))
            self._done(f"{args[0]}'s look changed")
        elif name == "/take":
            take = s.restore(_arg(args, 0, "/take N K"), _int(_arg(args, 1, "/take N K")))
            self._done(f"take {take.number} restored")
        elif name == "/cost":
            self._cost()
        elif name == "/draft":
            with self._progress() as on_event:
                made = self.session.draft(on_event)
            self.console.print(
                f"[green]draft[/] {made.episode.duration:.1f}s {made.episode.width}x"
                f"{made.episode.height}, cost {made.total_cost:.2f}\n{made.episode.path}\n"
                "/approve renders it at full quality",
                highlight=False,
            )
        elif name in ("/approve", "/render"):
            self.render()
        else:
            raise DramaforgeError(f"unknown command {name}; /help lists them")
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
            f"{ep.width}x{ep.height}, total cost so far {manifest.total_cost:.2f}\n{ep.path}",
            highlight=False,
        )

    def _cost(self) -> None:
        s = self.session
        todo = s.to_render()
        cost = s.estimate()
        self.console.print(
            f"next render: {len(todo)} shot(s), estimated cost {cost.total:.2f}", highlight=False
        )
        for line in cost_lines(cost):
            self.console.print(line, highlight=False)

    def _done(self, what: str) -> None:
        self.console.print(f"[green]ok[/] {what}", highlight=False)

    def _progress(self) -> AbstractContextManager[Callable[[Event], None]]:
        return self.progress()


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
