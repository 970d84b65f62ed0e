"""What the command line prints for the modes: one line per rendered episode, each version's plan.

Kept out of ``cli.py`` so the command line only parses flags and picks a mode.
"""

from __future__ import annotations

import json
from pathlib import Path

from rich.console import Console
from rich.markup import escape

from dramaforge.chat.terminal import plan_table
from dramaforge.config import Settings
from dramaforge.graph.context import RenderContext
from dramaforge.graph.cost import estimate
from dramaforge.modes.channels import plan_versions
from dramaforge.modes.entry import Outcome


def print_outcomes(made: list[Outcome], as_json: bool, console: Console, out: Console) -> None:
    """One line (or one JSON object) per episode a mode rendered."""
    rows = [
        {
            "version": o.label,
            "episode": o.manifest.episode.path,
            "duration": o.manifest.episode.duration,
            "width": o.manifest.episode.width,
            "height": o.manifest.episode.height,
            "shots": len(o.manifest.shots),
            "cost": o.manifest.total_cost,
            "script": str(o.script) if o.script else None,
        }
        for o in made
    ]
    if as_json:
        out.print_json(json.dumps(rows))
        return
    for o in made:
        ep = o.manifest.episode
        console.print(
            f"[green]done[/] {escape(o.label)}: {len(o.manifest.shots)} shots, "
            f"{ep.duration:.1f}s, {ep.width}x{ep.height}",
            highlight=False,
        )
        if o.script is not None:
            console.print(
                f"script: {o.script} (edit it and run again)", highlight=False, markup=False
            )
        out.print(ep.path, highlight=False, markup=False)


def print_version_plans(
    script: Path,
    settings: Settings,
    ctx: RenderContext,
    as_json: bool,
    console: Console,
    out: Console,
) -> None:
    """The fitted plan of each version of a brief, with speech lengths estimated."""
    rows = []
    for version, shot_plan in plan_versions(script, settings, ctx):
        cost = estimate(shot_plan, settings)
        rows.append((version, shot_plan, cost))
        if not as_json:
            seconds = sum(s.duration for s in shot_plan.shots)
            console.print(
                f"[bold]{escape(version.name)}[/] {version.aspect}, {seconds:.1f}s",
                highlight=False,
            )
            out.print(plan_table(shot_plan, cost))
    if as_json:
        data = [
            {"version": v.name, "aspect": v.aspect, "duration": v.duration}
            | json.loads(p.model_dump_json())
            | {"estimate": c.model_dump()}
            for v, p, c in rows
        ]
        out.print(
            json.dumps(data, ensure_ascii=False, indent=2),
            markup=False,
            highlight=False,
            soft_wrap=True,
        )
