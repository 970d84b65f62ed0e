"""Making episodes: ``render`` (and its modes), ``plan`` and ``batch``."""

from __future__ import annotations

import json
import sys
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer

from dramaforge.cli.common import app, console, guard, out_console
from dramaforge.cli.flags import (
    BACKENDS,
    FRAME,
    JsonOpt,
    OutOpt,
    OwnVoiceOpt,
    VoiceOpt,
    settings_flags,
    with_backend,
)
from dramaforge.cli.identity_line import plan_line, render_line
from dramaforge.config import Settings
from dramaforge.errors import DramaforgeError

if TYPE_CHECKING:  # the graph and the modes load inside the command that runs them
    from dramaforge.graph.batch import BatchReport
    from dramaforge.graph.session import Event
    from dramaforge.modes.request import ModeRequest
    from dramaforge.schema import Manifest, PlanRepair


@app.command()
@settings_flags(*FRAME, "subtitles", "budget", *(k for k in BACKENDS if k != "image"))
def render(
    settings: Settings,
    script: Annotated[
        Path | None,
        typer.Argument(help="Script file: .txt/.md (中文标记), .docx, .fountain, .yaml"),
    ] = None,
    out: OutOpt = Path("out"),
    resume: Annotated[bool, typer.Option(help="Continue an interrupted render.")] = False,
    draft: Annotated[
        bool,
        typer.Option(help="Only a cheap draft (the draft settings) into OUT/<episode>/draft/."),
    ] = False,
    as_json: JsonOpt = False,
    force: Annotated[
        bool, typer.Option(help="Render and assemble again even if nothing changed.")
    ] = False,
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
    voice: VoiceOpt = None,
    i_own_this_voice: OwnVoiceOpt = False,
) -> None:
    """Render SCRIPT to OUT/<episode>/episode.mp4 (+ .srt, manifest.json, storyboard.html).

    A brief listing channels or versions renders each into OUT/<episode>/<channel>/."""
    from dramaforge.chat.voices import with_voices
    from dramaforge.modes.request import ModeRequest, photo_path

    settings = with_voices(settings, voice, i_own_this_voice)
    image_file = photo_path(image)
    if image and image_file is None:  # --image names the image backend, not a photo
        settings = with_backend(settings, "image", image)
    request = ModeRequest(
        script=script,
        idea=idea,
        channels=channel or [],
        image=image_file,
        audio=audio,
        brief=brief,
        duration=duration,
        short_drama=short_drama,
    )
    modes = (idea, image_file, audio, channel, styles, short_drama)

    def run() -> None:
        if script is not None and not (any(modes) or draft or force):
            from dramaforge.graph.uptodate import finished  # no LangGraph: answers at once

            found = finished(script, out, settings)
            if found is not None:
                _report(found, as_json, up_to_date=True)
                return
        if styles:
            from dramaforge.modes.styles import style_names

            request.styles = style_names(styles)
        _render(request, out, settings, draft=draft, resume=resume, force=force, as_json=as_json)

    guard(run)


def _render(
    request: ModeRequest,
    out: Path,
    settings: Settings,
    *,
    draft: bool,
    resume: bool,
    force: bool,
    as_json: bool,
) -> None:
    from dramaforge.chat.terminal import progress
    from dramaforge.graph.verbs import render_episode
    from dramaforge.modes.entry import render_modes
    from dramaforge.modes.printout import print_outcomes
    from dramaforge.modes.runner import RunArgs

    script = request.script
    seen: list[Event] = []
    with progress(console, not as_json and sys.stderr.isatty()) as shown:

        def on_event(e: Event) -> None:
            if e.get("status") == "up_to_date":
                seen.append(e)
            shown(e)

        made = None
        if not draft:
            made = render_modes(
                request,
                out,
                settings,
                run=RunArgs(resume=resume, on_event=on_event),
                on_script=lambda s: console.print(s.text, markup=False, highlight=False),
            )
        if made is not None:
            print_outcomes(made, as_json, console, out_console)
            return
        if script is None:  # render_modes said so already, unless --draft
            raise DramaforgeError("--draft needs a SCRIPT file")
        if draft:
            manifest = _draft(script, out, settings, resume, on_event)
        else:
            manifest = render_episode(
                script, out, settings, resume=resume, force=force, on_event=on_event
            )
    _report(manifest, as_json, up_to_date=bool(seen))


def _report(manifest: Manifest, as_json: bool, *, up_to_date: bool) -> None:
    """What a render made (or found up to date): a line and the episode's path, or JSON."""
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
                    "up_to_date": up_to_date,
                }
            )
        )
        return
    if up_to_date:
        console.print(
            f"[green]up to date[/] {ep.duration:.1f}s, {ep.width}x{ep.height}: nothing "
            "changed since the last render (--force renders it again)"
        )
        out_console.print(ep.path, highlight=False, markup=False)
        return
    _print_repairs(manifest.repairs)
    retried = sum(1 for r in manifest.shots if len(r.takes) > 1)
    console.print(
        f"[green]done[/] {len(manifest.shots)} shots, {ep.duration:.1f}s, "
        f"{ep.width}x{ep.height}, {ep.loudness_lufs} LUFS, {retried} shots retried"
    )
    console.print(render_line(manifest.identity), highlight=False, markup=False)
    out_console.print(ep.path, highlight=False, markup=False)


def _print_repairs(repairs: list[PlanRepair]) -> None:
    """One line per fix made to the model's plan and per scene planned by rule instead."""
    from dramaforge.chat.terminal import safe

    for r in repairs:
        colour = "red" if r.kind == "fallback" else "yellow"
        console.print(f"[{colour}]{safe(r.describe())}[/]", highlight=False)


def _draft(
    script: Path, out: Path, settings: Settings, resume: bool, on_event: Callable[[Event], None]
) -> Manifest:
    """Plan as ``chat`` does, then render only the draft; ``chat --resume`` approves it."""
    from dramaforge.graph.session import session_for

    with session_for(script, out, settings, approve=True) as session:
        if not resume and session.status() != "new":
            session.reset()
        made = session.draft(on_event)
    console.print(
        f"draft only: review it, then `dramaforge chat {script} --resume` to edit and /approve",
        highlight=False,
        markup=False,
    )
    return made


@app.command()
@settings_flags("lang", "max_takes", *BACKENDS)
def plan(
    settings: Settings,
    script: Annotated[Path, typer.Argument(help="Script file.")],
    as_json: JsonOpt = False,
    series: Annotated[
        str | None,
        typer.Option(
            help="Estimate as an episode of this series (batch's --series, with --out): "
            "the reference sheets its bible lacks are drawn first, its voices made once."
        ),
    ] = None,
    out: OutOpt = Path("out"),
) -> None:
    """Print the shot list and the estimated cost without rendering anything."""
    from rich.markup import escape

    from dramaforge.chat.terminal import cost_lines, plan_table, to_make_lines
    from dramaforge.graph.casting import plan_bible
    from dramaforge.graph.context import build_context
    from dramaforge.graph.cost import estimate
    from dramaforge.graph.series import FileBook
    from dramaforge.graph.threads import make_options
    from dramaforge.graph.verbs import plan_script
    from dramaforge.modes.printout import print_version_plans
    from dramaforge.script import load_script
    from dramaforge.tools.diffusers.estimate import plan_lines as gpu_plan_lines

    def run() -> None:
        ctx = build_context(settings, settings.state_root(out.resolve()))
        if load_script(script, language=settings.render.language).channels:  # one per version
            print_version_plans(script, settings, ctx, as_json, console, out_console)
            return
        parsed, shot_plan = plan_script(script, settings, ctx)
        options = make_options(script, out, settings, series)
        known = FileBook().load(Path(options.series_file)) if options.series_file else None
        work = plan_bible(ctx, parsed, shot_plan, options, known)[0].to_make
        cost = estimate(shot_plan, settings, cast=work)
        if as_json:
            data = json.loads(shot_plan.model_dump_json()) | {
                "estimate": cost.model_dump(),
                "sheets": work.sheets,
                "to_make": work.model_dump(mode="json"),
            }
            typer.echo(json.dumps(data, ensure_ascii=False, indent=2))
            return
        out_console.print(plan_table(shot_plan, cost))
        _print_repairs(shot_plan.repairs)
        for line in cost_lines(cost):
            console.print(line, highlight=False)
        console.print(plan_line(shot_plan, settings), highlight=False, markup=False)
        for line in to_make_lines(work):
            console.print(line, highlight=False)
        for line in gpu_plan_lines(shot_plan, settings):  # open models: time per shot on the GPU
            console.print(escape(line), highlight=False)

    guard(run)


@app.command()
@settings_flags(*FRAME, "budget", *BACKENDS)
def batch(
    settings: Settings,
    paths: Annotated[list[Path], typer.Argument(help="Script files and/or folders of them.")],
    out: OutOpt = Path("out"),
    jobs: Annotated[int, typer.Option(min=1, help="Episodes rendered at once.")] = 1,
    series: Annotated[str | None, typer.Option(help="Series name (default: the folder).")] = None,
    as_json: JsonOpt = False,
    cluster: Annotated[
        bool, typer.Option(help="One Ray task per episode on the [cluster] (see cluster init).")
    ] = False,
    stages: Annotated[
        bool, typer.Option(help="With --cluster: a line each time an episode's shot stage changes.")
    ] = False,
    voice: VoiceOpt = None,
    i_own_this_voice: OwnVoiceOpt = False,
) -> None:
    """Render many episodes as one series; resumable; writes OUT/report.json."""
    from rich.table import Table

    from dramaforge.chat.voices import with_voices

    if stages and not cluster:
        raise typer.BadParameter(
            "goes with --cluster (a batch here shows no stage lines)", param_hint="--stages"
        )
    settings = with_voices(settings, voice, i_own_this_voice)

    from dramaforge.chat.terminal import safe
    from dramaforge.graph.batch import run_batch

    def run() -> BatchReport:
        if cluster:
            from dramaforge.cli.cluster import cluster_batch

            return cluster_batch(paths, out, settings, series, stages)
        return run_batch(paths, out, settings, jobs=jobs, series=series)

    report = guard(run)
    if as_json:
        typer.echo(report.model_dump_json(indent=2))
    else:
        table = Table(title=f"series {safe(report.series)}: {len(report.episodes)} episodes")
        for col in ("script", "status", "secs", "shots", "takes", "cost", "episode / error"):
            table.add_column(col)
        for e in report.episodes:
            table.add_row(
                safe(Path(e.script).name),
                e.status,
                f"{e.duration:.1f}",
                str(e.shots),
                str(e.takes),
                f"{e.cost:.2f}",
                safe(e.episode or e.error or ""),
            )
        out_console.print(table)
    if report.failed:
        raise typer.Exit(1)
