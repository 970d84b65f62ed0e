"""The command line: render, plan, doctor. Errors become one clear line and an exit code."""

from __future__ import annotations

import json
import sys
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Annotated, Any, TypeVar

import typer
from rich.console import Console
from rich.progress import BarColumn, Progress, SpinnerColumn, TaskID, TextColumn, TimeElapsedColumn
from rich.table import Table

from dramaforge.batch import BatchReport, run_batch
from dramaforge.config import Settings
from dramaforge.cost import estimate
from dramaforge.doctor import run_checks, settings_report
from dramaforge.errors import DramaforgeError
from dramaforge.graph.context import build_context
from dramaforge.graph.run import plan_script, render_episode
from dramaforge.schema import Aspect, Language, Resolution
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


@contextmanager
def _progress(enabled: bool) -> Iterator[Callable[[Event], None]]:
    """One line per shot showing its current stage, plus the episode-level stages."""
    if not enabled:
        yield lambda _e: None
        return
    with Progress(
        SpinnerColumn(),
        TextColumn("{task.description}"),
        BarColumn(),
        TimeElapsedColumn(),
        console=console,
    ) as bar:
        shots: dict[str, TaskID] = {}
        steps = {"voice": 1, "keyframe": 2, "motion": 3, "critic": 4}
        episode = bar.add_task("episode: reading script", total=None)

        def on_event(e: Event) -> None:
            sid = e.get("shot")
            if sid is None:
                bar.update(episode, description=f"episode: {e['stage']} {e['status']}")
                return
            if sid not in shots:
                shots[sid] = bar.add_task(sid, total=4)
            note = e["status"] if e["status"] != "start" else "…"
            if e["status"] == "retry":
                note = f"retry {e.get('fault')}: {'; '.join(e.get('issues', []))}"
            bar.update(
                shots[sid],
                description=f"{sid} {e['stage']} {note}",
                completed=steps.get(e["stage"], 0) - (e["status"] == "start"),
            )

        yield on_event


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
    budget: BudgetOpt = None,
    as_json: JsonOpt = False,
    director: BackendOpt = None,
    image: BackendOpt = None,
    video: BackendOpt = None,
    speech: BackendOpt = None,
    critic: BackendOpt = None,
) -> None:
    """Render SCRIPT to OUT/<episode>/episode.mp4 (+ .srt, manifest.json, storyboard.html)."""
    settings = _settings(
        budget=budget,
        aspect=aspect,
        resolution=resolution,
        language=lang,
        max_takes=max_takes,
        backends={
            "director": director,
            "image": image,
            "video": video,
            "speech": speech,
            "critic": critic,
        },
    )

    def run() -> None:
        with _progress(not as_json and sys.stderr.isatty()) as on_event:
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
                    }
                )
            )
            return
        retried = sum(1 for r in manifest.shots if len(r.takes) > 1)
        console.print(
            f"[green]done[/] {len(manifest.shots)} shots, {ep.duration:.1f}s, "
            f"{ep.width}x{ep.height}, {ep.loudness_lufs} LUFS, {retried} shots retried"
        )
        out_console.print(ep.path, highlight=False)

    _guard(run)


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
        ctx = build_context(settings, Path(".dramaforge"))
        parsed, shot_plan = plan_script(script, settings, ctx)
        cost = estimate(shot_plan, settings)
        if as_json:
            data = json.loads(shot_plan.model_dump_json()) | {"estimate": cost.model_dump()}
            typer.echo(json.dumps(data, ensure_ascii=False, indent=2))
            return
        table = Table(
            title=f"{shot_plan.title} — {len(shot_plan.shots)} shots, "
            f"~{sum(s.duration for s in shot_plan.shots):.0f}s (estimated), "
            f"estimated cost {cost.total:.2f}"
        )
        for col in ("shot", "framing", "camera", "secs", "lines", "sfx / music"):
            table.add_column(col)
        for s in shot_plan.shots:
            narrator = "旁白" if parsed.language == "zh" else "VO"
            lines = "\n".join(f"{ln.speaker or narrator}: {ln.text}" for ln in s.lines)
            table.add_row(
                s.id,
                s.framing,
                s.camera,
                f"{s.duration:.1f}",
                lines,
                " / ".join([*s.sfx, *([s.music] if s.music else [])]),
            )
        out_console.print(table)
        for spec, amount in cost.lines.items():
            console.print(f"  {spec}: {amount:.2f}", highlight=False)
        if cost.unpriced:
            console.print(
                f"[yellow]no price configured for {', '.join(cost.unpriced)}[/] "
                "(add them under [prices] in dramaforge.toml)"
            )

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
def doctor(as_json: JsonOpt = False) -> None:
    """Check ffmpeg, probing, fonts, voices and configured backends; say what to fix."""
    settings = _settings()
    checks = run_checks(settings)
    if as_json:
        out_console.print_json(json.dumps([c.model_dump() for c in checks]))
    else:
        for c in checks:
            mark = "[green]ok[/]  " if c.ok else "[red]FAIL[/]"
            console.print(f"{mark} {c.name}: {c.detail}", highlight=False)
        for row in settings_report(settings):
            console.print(f"     {row.name}: {row.detail}", highlight=False)
    if not all(c.ok for c in checks):
        raise typer.Exit(1)


def main() -> None:  # pragma: no cover - entry point
    app()
