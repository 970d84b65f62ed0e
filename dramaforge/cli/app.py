"""The command line: render, plan, chat, rerender, export, batch, doctor.

Errors become one clear line and an exit code."""

from __future__ import annotations

import json
import sys
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Annotated, TypeVar

import typer
from rich.console import Console
from rich.markup import escape
from rich.table import Table

from dramaforge.chat.agent import ChatAgent, chat_model
from dramaforge.chat.repl import Chat
from dramaforge.chat.views import cost_lines, plan_table, progress, safe
from dramaforge.cli.doctor import run_checks, settings_report
from dramaforge.cli.flags import (
    BACKENDS,
    FRAME,
    JsonOpt,
    OutOpt,
    build_settings,
    settings_flags,
    with_backend,
)
from dramaforge.config import Settings
from dramaforge.errors import MACHINE_ERRNOS, DramaforgeError, machine_error
from dramaforge.graph.batch import BatchReport, run_batch
from dramaforge.graph.context import build_context
from dramaforge.graph.cost import estimate
from dramaforge.graph.edits import find
from dramaforge.graph.run import plan_script, render_episode, rerender_shot
from dramaforge.graph.session import Event, session_for
from dramaforge.modes.entry import ModeRequest, photo_path, render_modes
from dramaforge.modes.styles import style_names
from dramaforge.modes.views import print_outcomes, print_version_plans
from dramaforge.schema import Manifest, PlanRepair
from dramaforge.script import load_script
from dramaforge.serve.mcp import serve
from dramaforge.serve.studio import serve as serve_studio
from dramaforge.tools.media.exports import FORMATS
from dramaforge.tools.media.exports import export as export_episode

app = typer.Typer(
    add_completion=False, no_args_is_help=True, help="Script in, finished short drama out."
)
console = Console(stderr=True)
out_console = Console()
T = TypeVar("T")


def _guard(fn: Callable[[], T]) -> T:
    try:
        return fn()
    except DramaforgeError as err:
        console.print(f"[bold red]error:[/] {escape(str(err))}", highlight=False, soft_wrap=True)
        raise typer.Exit(err.exit_code) from None
    except OSError as err:
        if err.errno not in MACHINE_ERRNOS:
            raise
        problem = machine_error(err)
        console.print(
            f"[bold red]error:[/] {escape(str(problem))}", highlight=False, soft_wrap=True
        )
        raise typer.Exit(problem.exit_code) from None
    except KeyboardInterrupt:
        console.print("[yellow]interrupted[/]: run the same command with --resume to continue")
        raise typer.Exit(130) from None


@app.command()
@settings_flags(*FRAME, "budget", "director", "video", "speech", "critic")
def render(
    settings: Settings,
    script: Annotated[
        Path | None, typer.Argument(help="Script file: .txt/.md (中文标记), .fountain, .yaml")
    ] = None,
    out: OutOpt = Path("out"),
    resume: Annotated[bool, typer.Option(help="Continue an interrupted render.")] = False,
    draft: Annotated[
        bool,
        typer.Option(help="Only a cheap draft (the draft settings) into OUT/<episode>/draft/."),
    ] = False,
    as_json: JsonOpt = False,
    image: Annotated[
        str | None,
        typer.Option(help="Image backend as provider:model, or a photo file for image mode."),
    ] = None,
    # -- modes (dramaforge/modes): a brief's channel versions, an idea ---------------------
    idea: Annotated[
        str | None, typer.Option(help="A one-line idea (or a file holding one) to script first.")
    ] = None,
    channel: Annotated[
        list[str] | None, typer.Option(help="Only this version of a brief (repeatable).")
    ] = None,
    audio: Annotated[
        Path | None, typer.Option(help="A music track: shots cut on its beats, it is the sound.")
    ] = None,
    brief: Annotated[
        str | None,
        typer.Option(help="With --image: the voice-over; with --audio: what the video shows."),
    ] = None,
    duration: Annotated[
        float | None,
        typer.Option(help="Seconds: --image 10 to 30 (default 15); --audio at most this."),
    ] = None,
    styles: Annotated[
        str | None, typer.Option(help="Looks, e.g. anime,realistic,ink-wash: one folder each.")
    ] = None,
    short_drama: Annotated[
        bool, typer.Option(help="Open on a hook within 3 s, end on a cliffhanger hold.")
    ] = False,
) -> None:
    """Render SCRIPT to OUT/<episode>/episode.mp4 (+ .srt, manifest.json, storyboard.html).

    A brief listing channels or versions renders each into OUT/<episode>/<channel>/."""
    image_file = photo_path(image)
    if image and image_file is None:  # --image names the image backend, not a photo
        settings = with_backend(settings, "image", image)

    def run() -> None:
        request = ModeRequest(
            script=script,
            idea=idea,
            channels=channel or [],
            image=image_file,
            audio=audio,
            brief=brief,
            duration=duration,
            styles=style_names(styles) if styles else [],
            short_drama=short_drama,
        )
        with progress(console, not as_json and sys.stderr.isatty()) as on_event:
            made = None if draft else render_modes(
                request, out, settings, resume=resume, on_event=on_event,
                on_script=lambda s: console.print(s.text, markup=False, highlight=False),
            )  # fmt: skip
            if made is not None:
                print_outcomes(made, as_json, console, out_console)
                return
            if script is None:  # render_modes said so already, unless --draft
                raise DramaforgeError("--draft needs a SCRIPT file")
            if draft:
                manifest = _draft(script, out, settings, resume, on_event)
            else:
                manifest = render_episode(script, out, settings, resume=resume, on_event=on_event)
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
                        "repairs": [r.model_dump() for r in manifest.repairs],
                    }
                )
            )
            return
        _print_repairs(manifest.repairs)
        retried = sum(1 for r in manifest.shots if len(r.takes) > 1)
        console.print(
            f"[green]done[/] {len(manifest.shots)} shots, {ep.duration:.1f}s, "
            f"{ep.width}x{ep.height}, {ep.loudness_lufs} LUFS, {retried} shots retried"
        )
        out_console.print(ep.path, highlight=False)

    _guard(run)


def _print_repairs(repairs: list[PlanRepair]) -> None:
    """One line per fix made to the model's plan and per scene planned by rule instead."""
    for r in repairs:
        colour = "red" if r.kind == "fallback" else "yellow"
        console.print(f"[{colour}]{safe(r.describe())}[/]", highlight=False)


def _draft(
    script: Path, out: Path, settings: Settings, resume: bool, on_event: Callable[[Event], None]
) -> Manifest:
    """Plan as ``chat`` does, then render only the draft; ``chat --resume`` approves it."""
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
@settings_flags("lang", *BACKENDS)
def plan(
    settings: Settings,
    script: Annotated[Path, typer.Argument(help="Script file.")],
    as_json: JsonOpt = False,
) -> None:
    """Print the shot list and the estimated cost without rendering anything."""

    def run() -> None:
        ctx = build_context(settings, Path(".dramaforge"))
        if load_script(script, language=settings.render.language).channels:  # one per version
            print_version_plans(script, settings, ctx, as_json, console, out_console)
            return
        _, shot_plan = plan_script(script, settings, ctx)
        cost = estimate(shot_plan, settings)
        if as_json:
            data = json.loads(shot_plan.model_dump_json()) | {"estimate": cost.model_dump()}
            typer.echo(json.dumps(data, ensure_ascii=False, indent=2))
            return
        out_console.print(plan_table(shot_plan, cost))
        _print_repairs(shot_plan.repairs)
        for line in cost_lines(cost):
            console.print(line, highlight=False)

    _guard(run)


@app.command()
@settings_flags(*FRAME, "budget", *BACKENDS)
def batch(
    settings: Settings,
    paths: Annotated[list[Path], typer.Argument(help="Script files and/or folders of them.")],
    out: OutOpt = Path("out"),
    jobs: Annotated[int, typer.Option(min=1, help="Episodes rendered at once.")] = 1,
    series: Annotated[str | None, typer.Option(help="Series name (default: the folder).")] = None,
    as_json: JsonOpt = False,
) -> None:
    """Render many episodes as one series; resumable; writes OUT/report.json."""

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
@settings_flags(*FRAME, "budget", *BACKENDS)
def chat(
    settings: Settings,
    script: Annotated[Path, typer.Argument(help="Script file.")],
    out: OutOpt = Path("out"),
    resume: Annotated[
        bool, typer.Option(help="Continue the last conversation on this script.")
    ] = False,
) -> None:
    """Direct SCRIPT in a conversation: see the plan and its cost, edit, approve, redo shots."""

    def run() -> None:
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
@settings_flags("budget", "image", "video", "speech", "critic")
def rerender(
    settings: Settings,
    episode_dir: Annotated[Path, typer.Argument(help="A rendered episode folder (OUT/<name>).")],
    shot: Annotated[str, typer.Option("--shot", help="Shot number (1-based) or id.")],
    prompt: Annotated[str | None, typer.Option(help="New visual prompt for the shot.")] = None,
    take: Annotated[
        int | None, typer.Option(help="Use this earlier take again (nothing is generated).")
    ] = None,
    as_json: JsonOpt = False,
) -> None:
    """Redo one shot of a rendered episode (or restore an earlier take) and re-assemble it."""

    def run() -> None:
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
def export(
    episode_dir: Annotated[Path, typer.Argument(help="A rendered episode folder (OUT/<name>).")],
    formats: Annotated[
        list[str] | None,
        typer.Option("--format", "-f", help=f"One of {', '.join(FORMATS)}; repeat for more."),
    ] = None,
    media_root: Annotated[
        str | None,
        typer.Option(help="剪映 only: this folder's path on the editing machine (D:/剪映/ep01)."),
    ] = None,
    as_json: JsonOpt = False,
) -> None:
    """Write editor exports (OTIO, 剪映 draft, SRT, ASS) of an episode already rendered."""

    def run() -> None:
        written = [
            str(path)
            for fmt in formats or list(FORMATS)
            for path in export_episode(episode_dir, fmt, media_root=media_root)
        ]
        if as_json:
            typer.echo(json.dumps({"episode_dir": str(episode_dir), "written": written}))
            return
        for path in written:
            out_console.print(path, highlight=False, markup=False)

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
    settings = build_settings()
    _guard(lambda: serve(root, settings, "http" if http else "stdio", host, port))


@app.command()
def studio(
    root: Annotated[
        Path, typer.Option(help="Workspace: the only folder the studio reads and writes.")
    ] = Path("."),
    host: Annotated[
        str, typer.Option(help="Address to listen on; off loopback a token is required.")
    ] = "127.0.0.1",
    port: Annotated[int, typer.Option(help="HTTP port.")] = 8700,
) -> None:
    """Open the web studio: shot boards, takes, redo, approve and render, in a browser."""
    settings = build_settings()
    _guard(lambda: serve_studio(root, settings, host, port))


@app.command()
def doctor(as_json: JsonOpt = False) -> None:
    """Check ffmpeg, probing, fonts, voices and configured backends; say what to fix."""
    settings = build_settings()
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
