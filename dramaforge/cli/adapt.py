"""``dramaforge adapt``: a novel into a season of editable episode scripts, for ``batch``."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated

import typer
from rich.markup import escape

from dramaforge.cli.common import app, console, guard, out_console
from dramaforge.cli.flags import JsonOpt, settings_flags
from dramaforge.config import Settings


@app.command()
@settings_flags("director")
def adapt(
    settings: Settings,
    novel: Annotated[Path, typer.Argument(help="The novel: a .txt (UTF-8 or GB18030).")],
    episodes: Annotated[int, typer.Option(min=1, help="How many episodes to make of it.")],
    out: Annotated[Path, typer.Option("--out", "-o", help="Folder for the scripts.")] = Path(
        "scripts"
    ),
    as_json: JsonOpt = False,
) -> None:
    """Adapt NOVEL into episode scripts in OUT (one per chapter group) and OUT/bible.toml;
    then `dramaforge batch OUT` renders them. Run again to resume."""
    from dramaforge.agents.adapter import Adapter
    from dramaforge.agents.llm_director import LLMDirector
    from dramaforge.tools.registry import registry

    def run() -> None:
        director = registry().create("director", settings.backends.director, settings)
        model = director.chat_model if isinstance(director, LLMDirector) else None

        def tell(text: str) -> None:
            if not as_json:
                console.print(escape(text), highlight=False)

        season = Adapter(chat_model=model, progress=tell).adapt(novel, episodes, out)
        if as_json:
            data = {
                "title": season.title,
                "episodes": [str(p) for p in season.episodes],
                "written": season.written,
                "cast": {n: {"aliases": p.aliases, "look": p.look} for n, p in season.cast.items()},
                "bible": str(out / "bible.toml"),
            }
            out_console.print_json(json.dumps(data, ensure_ascii=False))
            return
        console.print(
            f"[green]done[/] {escape(season.title)}: {len(season.episodes)} episodes "
            f"({season.written} written now), cast {escape('、'.join(season.cast))}",
            highlight=False,
        )
        console.print(f"render them: dramaforge batch {out}", highlight=False, markup=False)
        for path in season.episodes:
            out_console.print(str(path), highlight=False, markup=False)

    guard(run)
