"""The command line: render, plan, chat, rerender, batch, doctor.

Errors become one clear line and an exit code."""

from __future__ import annotations

import json
import sys
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any, TypeVar

import typer
from rich.console import Console

from dramaforge.config import Settings
from dramaforge.errors import DramaforgeError
from dramaforge.schema import Aspect, Language, Resolution

if TYPE_CHECKING:  # the graph, the chat model and the MCP server load when a command needs them
    from dramaforge.batch import BatchReport
    from dramaforge.schema import Manifest
    from dramaforge.session import Event

app = typer.Typer(
    add_completion=False, no_args_is_help=True, help="Script in, finished short drama out."
)
console = Console(stderr=True)
out_console = Console()
T = TypeVar("T")

OutOpt = Annotated[Path, typer.Option("--out", "-o", help="Output folder.")]
AspectOpt = Annotated[Aspect | None, typer.Option(help="9:16, 16:9 or 1:1.")]
ResOpt = Annotated[Resolution | None, typer.Option(help="720p or 1080p.")]
LangOpt = Annotated[Language | None, typer.Option("--lang", help="zh or en (default: detected).")]
JsonOpt = Annotated[bool, typer.Option("--json", help="Print machine-readable JSON.")]
BackendOpt = Annotated[str | None, typer.Option(help="Backend as provider:model.")]
BudgetOpt = Annotated[
    float | None, typer.Option(help="Stop before paid work would cost more than this.")
]


def _settings(
    backends: dict[str, str | None] | None = None, budget: float | None = None, **render: Any
) -> Settings:
    """Settings from dramaforge.toml and the environment, with CLI flags on top."""
    base = Settings()
    render_over = {k: v for k, v in render.items() if v is not None}
    chosen = {k: v for k, v in (backends or {}).items() if v is not None}
    update: dict[str, Any] = {
        "render": base.render.model_copy(update=render_over),
        "backends": base.backends.model_copy(update=chosen),
    }
    if budget is not None:
        update["budget"] = budget
    return base.model_copy(update=update)


def _guard(fn: Callable[[], T]) -> T:
    try:
        return fn()
    except DramaforgeError as err:
        console.print(f"[bold red]error:[/] {err}", highlight=False)
        raise typer.Exit(err.exit_code) from None
    except KeyboardInterrupt:
        console.print("[yellow]interrupted[/]: run the same command with --resume to continue")
        raise typer.Exit(130) from None


@app.command()
def render(
    script: Annotated[
        Path, typer.Argument(help="Script file: .txt/.md (中文标记), .fountain, .yaml")
    ],
    out: OutOpt = Path("out"),
    aspect: AspectOpt = None,
    resolution: ResOpt = None,
    lang: LangOpt = None,
    max_takes: Annotated[int | None, typer.Option(help="Takes per shot before giving up.")] = None,
    resume: Annotated[bool, typer.Option(help="Continue an interrupted render.")] = False,
    draft: Annotated[
        bool,
        typer.Option(help="Only a cheap draft ([draft] settings) into OUT/<episode>/draft/."),
    ] = False,
    budget: BudgetOpt = None,
    as_json: JsonOpt = False,
    director: BackendOpt = None,
    image: BackendOpt = None,
    video: BackendOpt = None,
    speech: BackendOpt = None,
    critic: BackendOpt = None,
    force: Annotated[
        bool, typer.Option(help="Render and assemble again even if nothing changed.")
    ] = False,
) -> None:
    """Render SCRIPT to OUT/<episode>/episode.mp4 (+ .srt, manifest.json, storyboard.html)."""
    settings = _settings(
        budget=budget,
        aspect=aspect,
        resolution=resolution,
        language=lang,
        max_takes=max_takes,
        backends=dict(director=director, image=image, video=video, speech=speech, critic=critic),
    )

    def run() -> None:
        from dramaforge.graph.run import render_episode
        from dramaforge.views import progress

        seen: list[Event] = []
        with progress(console, not as_json and sys.stderr.isatty()) as shown:

            def on_event(e: Event) -> None:
                if e.get("status") == "up_to_date":
                    seen.append(e)
                shown(e)

            if draft:
                manifest = _draft(script, out, settings, resume, on_event)
            else:
                manifest = render_episode(
                    script, out, settings, resume=resume, force=force, on_event=on_event
                )
        ep = manifest.episode
        if as_json:
            out_console.print_json(
                json.dumps(
                    {
                        "episode": ep.path,
                        "srt": ep.srt,
                        "duration": ep.duration,
                        "width": ep.width,
                        "height": ep.height,
                        "loudness_lufs": ep.loudness_lufs,
                        "manifest": str(Path(ep.path).parent / "manifest.json"),
                        "storyboard": str(Path(ep.path).parent / "storyboard.html"),
                        "shots": len(manifest.shots),
                        "cost": manifest.total_cost,
                        "up_to_date": bool(seen),
                    }
                )
            )
            return
        if seen:
            console.print(
                f"[green]up to date[/] {ep.duration:.1f}s, {ep.width}x{ep.height}: nothing "
                "changed since the last render (--force renders it again)"
            )
            out_console.print(ep.path, highlight=False)
            return
        retried = sum(1 for r in manifest.shots if len(r.takes) > 1)
        console.print(
            f"[green]done[/] {len(manifest.shots)} shots, {ep.duration:.1f}s, "
            f"{ep.width}x{ep.height}, {ep.loudness_lufs} LUFS, {retried} shots retried"
        )
        out_console.print(ep.path, highlight=False)

    _guard(run)


def _draft(
    script: Path, out: Path, settings: Settings, resume: bool, on_event: Callable[[Event], None]
) -> Manifest:
    """Plan as ``chat`` does, then render only the draft; ``chat --resume`` approves it."""
    from dramaforge.graph.run import session_for

    with session_for(script, out, settings, approve=True) as session:
        if not resume and session.status() != "new":
            session.reset()
        made = session.draft(on_event)
    console.print(
        f"draft only: review it, then `dramaforge chat {script} --resume` to edit and /approve",
        highlight=False,
    )
    return made


@app.command()
def plan(
    script: Annotated[Path, typer.Argument(help="Script file.")],
    lang: LangOpt = None,
    as_json: JsonOpt = False,
    director: BackendOpt = None,
    image: BackendOpt = None,
    video: BackendOpt = None,
    speech: BackendOpt = None,
) -> None:
    """Print the shot list and the estimated cost without rendering anything."""
    settings = _settings(
        language=lang,
        backends={"director": director, "image": image, "video": video, "speech": speech},
    )

    def run() -> None:
        from dramaforge.cost import estimate
        from dramaforge.graph.context import build_context
        from dramaforge.graph.run import plan_script
        from dramaforge.views import cost_lines, plan_table

        ctx = build_context(settings, Path(".dramaforge"))
        _, shot_plan = plan_script(script, settings, ctx)
        cost = estimate(shot_plan, settings)
        if as_json:
            data = json.loads(shot_plan.model_dump_json()) | {"estimate": cost.model_dump()}
            typer.echo(json.dumps(data, ensure_ascii=False, indent=2))
            return
        out_console.print(plan_table(shot_plan, cost))
        for line in cost_lines(cost):
            console.print(line, highlight=False)

    _guard(run)


@app.command()
def batch(
    paths: Annotated[list[Path], typer.Argument(help="Script files and/or folders of them.")],
    out: OutOpt = Path("out"),
    jobs: Annotated[int, typer.Option(min=1, help="Episodes rendered at once.")] = 1,
    series: Annotated[str | None, typer.Option(help="Series name (default: the folder).")] = None,
    budget: BudgetOpt = None,
    aspect: AspectOpt = None,
    resolution: ResOpt = None,
    lang: LangOpt = None,
    as_json: JsonOpt = False,
) -> None:
    """Render many episodes as one series; resumable; writes OUT/report.json."""
    settings = _settings(budget=budget, aspect=aspect, resolution=resolution, language=lang)

    from rich.table import Table

    from dramaforge.batch import run_batch

    def run() -> BatchReport:
        return run_batch(paths, out, settings, jobs=jobs, series=series)

    report = _guard(run)
    if as_json:
        typer.echo(report.model_dump_json(indent=2))
    else:
        table = Table(title=f"series {report.series}: {len(report.episodes)} episodes")
        for col in ("script", "status", "secs", "shots", "takes", "cost", "episode / error"):
            table.add_column(col)
        for e in report.episodes:
            table.add_row(
                Path(e.script).name,
                e.status,
                f"{e.duration:.1f}",
                str(e.shots),
                str(e.takes),
                f"{e.cost:.2f}",
                e.episode or e.error or "",
            )
        out_console.print(table)
    if report.failed:
        raise typer.Exit(1)


@app.command()
def chat(
    script: Annotated[Path, typer.Argument(help="Script file.")],
    out: OutOpt = Path("out"),
    resume: Annotated[
        bool, typer.Option(help="Continue the last conversation on this script.")
    ] = False,
    aspect: AspectOpt = None,
    resolution: ResOpt = None,
    lang: LangOpt = None,
    max_takes: Annotated[int | None, typer.Option(help="Takes per shot before giving up.")] = None,
    budget: BudgetOpt = None,
    director: BackendOpt = None,
    image: BackendOpt = None,
    video: BackendOpt = None,
    speech: BackendOpt = None,
    critic: BackendOpt = None,
) -> None:
    """Direct SCRIPT in a conversation: see the plan and its cost, edit, approve, redo shots."""
    settings = _settings(
        budget=budget,
        aspect=aspect,
        resolution=resolution,
        language=lang,
        max_takes=max_takes,
        backends=dict(director=director, image=image, video=video, speech=speech, critic=critic),
    )

    def run() -> None:
        from dramaforge.agents.chat_agent import ChatAgent, chat_model
        from dramaforge.chat import Chat
        from dramaforge.graph.run import session_for
        from dramaforge.views import progress

        with session_for(script, out, settings, approve=True) as session:
            if not resume and session.status() != "new":
                session.reset()
            model = chat_model(settings)
            agent = ChatAgent(session, model) if model is not None else None
            if agent is not None and not resume:
                agent.reset()
            talk = Chat(
                session,
                out_console,
                agent=agent,
                progress=lambda: progress(console, sys.stderr.isatty()),
            )
            if agent is not None:
                for who, text in agent.history():
                    out_console.print(f"[bold]{who}:[/] {text}", highlight=False)
            talk.start()
            talk.loop(_typed_lines())

    _guard(run)


def _typed_lines() -> Iterator[str]:
    while True:
        try:
            yield out_console.input("[bold cyan]>[/] ")
        except EOFError:
            return


@app.command()
def rerender(
    episode_dir: Annotated[Path, typer.Argument(help="A rendered episode folder (OUT/<name>).")],
    shot: Annotated[str, typer.Option("--shot", help="Shot number (1-based) or id.")],
    prompt: Annotated[str | None, typer.Option(help="New visual prompt for the shot.")] = None,
    take: Annotated[
        int | None, typer.Option(help="Use this earlier take again (nothing is generated).")
    ] = None,
    budget: BudgetOpt = None,
    as_json: JsonOpt = False,
    image: BackendOpt = None,
    video: BackendOpt = None,
    speech: BackendOpt = None,
    critic: BackendOpt = None,
) -> None:
    """Redo one shot of a rendered episode (or restore an earlier take) and re-assemble it."""
    settings = _settings(
        budget=budget,
        backends={"image": image, "video": video, "speech": speech, "critic": critic},
    )

    def run() -> None:
        from dramaforge.edits import find
        from dramaforge.graph.run import rerender_shot
        from dramaforge.views import progress

        with progress(console, not as_json and sys.stderr.isatty()) as on_event:
            manifest = rerender_shot(
                episode_dir, settings, shot, prompt=prompt, take=take, on_event=on_event
            )
        chosen = manifest.shots[find(manifest.plan, shot)]
        if as_json:
            typer.echo(
                json.dumps(
                    {
                        "episode": manifest.episode.path,
                        "shot": chosen.shot_id,
                        "take": chosen.take.number,
                        "takes": len(chosen.takes),
                        "cost": manifest.total_cost,
                    }
                )
            )
            return
        console.print(
            f"[green]done[/] {chosen.shot_id} now uses take {chosen.take.number} "
            f"of {len(chosen.takes)}",
            highlight=False,
        )
        out_console.print(manifest.episode.path, highlight=False)

    _guard(run)


@app.command()
def mcp(
    root: Annotated[
        Path, typer.Option(help="Workspace: the only folder tools may read and write.")
    ] = Path("."),
    http: Annotated[bool, typer.Option(help="Streamable HTTP instead of stdio.")] = False,
    host: Annotated[str, typer.Option(help="HTTP address to listen on.")] = "127.0.0.1",
    port: Annotated[int, typer.Option(help="HTTP port.")] = 8765,
) -> None:
    """Serve plan/render/rerender/get/list as an MCP server (stdio, or --http)."""
    from dramaforge.mcp_server import serve

    settings = _settings()
    _guard(lambda: serve(root, settings, "http" if http else "stdio", host, port))


@app.command()
def doctor(as_json: JsonOpt = False) -> None:
    """Check ffmpeg, probing, fonts, voices and configured backends; say what to fix."""
    from dramaforge.doctor import run_checks, settings_report

    settings = _settings()
    checks = run_checks(settings)
    if as_json:
        out_console.print_json(json.dumps([c.model_dump() for c in checks]))
    else:
        for c in checks:
            mark = "[green]ok[/]  " if c.ok else "[red]FAIL[/]"
            console.print(f"{mark} {c.name}: {c.detail}", highlight=False)
        for row in settings_report(settings):
            console.print(f"     {row.name}: {row.detail}", highlight=False, markup=False)
    if not all(c.ok for c in checks):
        raise typer.Exit(1)


def main() -> None:  # pragma: no cover - entry point
    app()
