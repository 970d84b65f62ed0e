"""Other ways in and out: ``export`` for editors, the ``mcp`` server, the ``studio``, ``doctor``."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated

import typer
from rich.markup import escape

from dramaforge.cli.common import app, console, guard, out_console
from dramaforge.cli.flags import (
    JsonOpt,
    build_settings,
)


@app.command()
def export(
    episode_dir: Annotated[Path, typer.Argument(help="A rendered episode folder (OUT/<name>).")],
    formats: Annotated[
        list[str] | None,
        typer.Option("--format", "-f", help="otio, jianying, srt or ass; repeat for more."),
    ] = None,
    media_root: Annotated[
        str | None,
        typer.Option(help="剪映 only: this folder's path on the editing machine (D:/剪映/ep01)."),
    ] = None,
    as_json: JsonOpt = False,
) -> None:
    """Write editor exports (OTIO, 剪映 draft, SRT, ASS) of an episode already rendered."""
    from dramaforge.media.exports import FORMATS
    from dramaforge.media.exports import export as export_episode

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

    guard(run)


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
    from dramaforge.serve.mcp import serve

    settings = build_settings()
    guard(lambda: serve(root, settings, "http" if http else "stdio", host, port))


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
    from dramaforge.serve.studio import serve as serve_studio

    settings = build_settings()
    guard(lambda: serve_studio(root, settings, host, port))


@app.command()
def doctor(as_json: JsonOpt = False) -> None:
    """Check ffmpeg, probing, fonts, voices and configured backends; say what to fix."""
    from dramaforge.cli.doctor import run_checks, settings_report

    settings = build_settings()
    checks = run_checks(settings)
    if as_json:
        out_console.print_json(json.dumps([c.model_dump() for c in checks]))
    else:
        for c in checks:
            mark = "[green]ok[/]  " if c.ok else "[red]FAIL[/]"
            console.print(f"{mark} {escape(c.name)}: {escape(c.detail)}", highlight=False)
        for row in settings_report(settings):
            console.print(f"     {row.name}: {row.detail}", highlight=False, markup=False)
    if not all(c.ok for c in checks):
        raise typer.Exit(1)
