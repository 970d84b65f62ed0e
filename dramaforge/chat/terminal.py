"""How plans, takes and progress look in a terminal (rich), shared by the CLI and chat.

Text that came from a script or a person (titles, lines, prompts, names) is escaped before
rich sees it: ``[bold]`` in a line of dialogue is dialogue, not markup, and control
characters are shown as escapes, never sent to the terminal.
"""

from __future__ import annotations

import unicodedata
from collections.abc import Callable, Iterator
from contextlib import contextmanager

from rich.console import Console
from rich.markup import escape
from rich.progress import BarColumn, Progress, SpinnerColumn, TaskID, TextColumn, TimeElapsedColumn
from rich.table import Table

from dramaforge.graph.cost import Estimate
from dramaforge.graph.session import Event
from dramaforge.schema import CastWork, Shot, ShotPlan, ShotResult


def _clip(text: str, width: int = 40) -> str:
    return text if len(text) <= width else text[: width - 1] + "…"


def safe(text: str) -> str:
    """``text`` for the terminal: markup escaped, control characters (ANSI escapes, bidi
    overrides) written as ``\\x..``/``\\u....`` so nothing from a script moves the cursor."""
    shown = "".join(
        ch if ch in "\n\t" or unicodedata.category(ch) not in ("Cc", "Cf") else ascii(ch)[1:-1]
        for ch in text
    )
    return escape(shown)


def plan_table(
    plan: ShotPlan,
    cost: Estimate,
    *,
    results: dict[str, ShotResult] | None = None,
    to_render: list[Shot] | None = None,
) -> Table:
    """The shot list: number, framing, camera, length, lines, sound, and (once rendered)
    which take is used and whether the next render will redo the shot."""
    table = Table(
        title=f"{safe(plan.title)} — {len(plan.shots)} shots, "
        f"~{sum(s.duration for s in plan.shots):.0f}s (estimated), "
        f"estimated cost {cost.summary}"
    )
    columns = ["#", "shot", "framing", "camera", "secs", "lines", "sfx / music", "prompt"]
    if results is not None:
        columns.append("take")
    for col in columns:
        table.add_column(col)
    narrator = "旁白" if plan.language == "zh" else "VO"
    redo = {s.id for s in to_render or []}
    for n, s in enumerate(plan.shots, 1):
        lines = "\n".join(safe(f"{ln.speaker or narrator}: {ln.text}") for ln in s.lines)
        row = [
            str(n),
            s.id,
            s.framing,
            s.camera,
            f"{s.duration:.1f}",
            lines,
            safe(" / ".join([*s.sfx, *([s.music] if s.music else [])])),
            safe(_clip(s.visual_prompt)),
        ]
        if results is not None:
            done = results.get(s.id)
            state = f"{done.take.number}/{len(done.takes)}" if done else "—"
            row.append(f"{state} [yellow]to render[/]" if s.id in redo else state)
        table.add_row(*row)
    return table


def shot_detail(shot: Shot, result: ShotResult | None) -> Table:
    """One shot in full, with every take made of it and what the critic said."""
    table = Table(title=safe(shot.id), show_header=False)
    table.add_column("field")
    table.add_column("value")
    for field in ("framing", "camera", "duration", "mood", "time_of_day", "focus"):
        table.add_row(field, safe(str(getattr(shot, field))))
    table.add_row("characters", safe(", ".join(shot.characters)))
    table.add_row("prompt", safe(shot.visual_prompt))
    table.add_row("action", safe(shot.action))
    for i, line in enumerate(shot.lines, 1):
        table.add_row(f"line {i}", safe(f"{line.speaker or '—'}: {line.text}"))
    for take in result.takes if result else []:
        mark = " (used)" if result and take.number == result.take.number else ""
        verdict = "passed" if take.critique.passed else "; ".join(take.critique.issues)
        table.add_row(
            f"take {take.number}{mark}",
            f"{take.duration:.1f}s score {take.critique.score:.2f} {safe(verdict)}\n"
            f"{safe(take.motion.path)}",
        )
    return table


def cost_lines(cost: Estimate) -> list[str]:
    """Each backend's share (the most, and one take's), the budget if the most is past it,
    and the backends with no price."""
    lines = [
        f"  {safe(spec)}: {amount:.2f}"
        + (f" (one take {cost.one_take[spec]:.2f})" if cost.one_take[spec] != amount else "")
        for spec, amount in cost.lines.items()
    ]
    if cost.past_budget:
        lines.append(
            f"[yellow]up to {cost.total:.2f} is past the budget of {cost.budget:.2f}[/]: the "
            "render stops before the paid request that would cross it"
        )
    if cost.unpriced:
        lines.append(
            f"[yellow]no price configured for {safe(', '.join(cost.unpriced))}[/] "
            f"(add them under {escape('[prices]')} in dramaforge.toml)"
        )
    return lines


def to_make_lines(work: CastWork) -> list[str]:
    """What the approved plan makes before its first shot (``CastWork.describe``), escaped."""
    return [safe(line) for line in work.describe()]


NOTICES = ("waiting:", "asked again", "voices:")
"""Shot statuses a backend tells while it waits or may pay twice: said even without a bar."""


def _plain(console: Console) -> Callable[[Event], None]:
    """Without a bar (a log, a pipe): another render's turn, and once per shot and stage
    what its backend tells (a lost submit being looked up, a line asked again)."""
    told: set[tuple[str, str, str]] = set()

    def on_event(e: Event) -> None:
        status = str(e.get("status", ""))
        if e.get("stage") == "wait":
            console.print(safe(status), highlight=False)
            return
        notice = next((n for n in NOTICES if status.startswith(n)), None)
        key = (str(e.get("shot")), str(e.get("stage")), notice or "")
        if notice is not None and key not in told:
            told.add(key)
            console.print(safe(f"{e.get('shot')} {e.get('stage')}: {status}"), highlight=False)

    return on_event


SHOT_STAGES = frozenset({"voice", "keyframe", "inspect", "motion", "critic"})
"""The shot subgraph's own stages; any other stage on a shot's event is its backend's."""


@contextmanager
def progress(console: Console, enabled: bool) -> Iterator[Callable[[Event], None]]:
    """One line per shot showing its current stage, plus the episode-level stages."""
    if not enabled:  # no bar; only what a person must know (waiting for another render)
        yield _plain(console)
        return
    with Progress(
        SpinnerColumn(),
        TextColumn("{task.description}"),
        BarColumn(),
        TimeElapsedColumn(),
        console=console,
    ) as bar:
        shots: dict[str, TaskID] = {}
        stage_of: dict[str, str] = {}  # each shot's stage now, for its backend's own progress
        steps = {"voice": 1, "keyframe": 2, "motion": 3, "critic": 4}
        episode = bar.add_task("episode: reading script", total=None)

        def on_event(e: Event) -> None:
            sid = e.get("shot")
            if sid is None:
                if str(e["status"]).startswith("voices:"):  # an engine that cannot clone/design
                    bar.console.print(safe(str(e["status"])), highlight=False)
                bar.update(episode, description=safe(f"episode: {e['stage']} {e['status']}"))
                return
            if sid not in shots:
                shots[sid] = bar.add_task(safe(sid), total=4)
            if e["stage"] not in SHOT_STAGES:  # a backend's progress (a ComfyUI sampler's steps)
                said = f"{sid} {stage_of.get(sid, e['stage'])} · {e['status']}"
                bar.update(shots[sid], description=safe(said))
                return
            stage_of[sid] = e["stage"]
            note = e["status"] if e["status"] != "start" else "…"
            if e["status"] == "retry":
                note = f"retry {e.get('fault')}: {'; '.join(e.get('issues', []))}"
            bar.update(
                shots[sid],
                description=safe(f"{sid} {e['stage']} {note}"),
                completed=steps.get(e["stage"], 0) - (e["status"] == "start"),
            )

        yield on_event
