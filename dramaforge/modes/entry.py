"""Which mode a ``render`` command asks for, and running it: the CLI's one door to the modes.

A plain script renders as it always has; a brief that lists versions, ``--idea``,
``--image``, ``--audio`` or ``--styles`` go to their mode. Kept apart from ``cli.py`` so the
command line only parses flags and prints results.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from dramaforge.config import Settings
from dramaforge.errors import DramaforgeError
from dramaforge.modes.channels import render_versions
from dramaforge.modes.idea import IdeaScript, idea_script, render_idea
from dramaforge.modes.image import render_image
from dramaforge.modes.music import render_music
from dramaforge.modes.request import PHOTO_SUFFIXES, ModeRequest, photo_path
from dramaforge.modes.rhythm import render_short_drama
from dramaforge.modes.runner import PLAIN, RunArgs
from dramaforge.modes.styles import render_styles
from dramaforge.schema import Manifest
from dramaforge.script import load_script

__all__ = ["PHOTO_SUFFIXES", "ModeRequest", "Outcome", "photo_path", "render_modes"]


@dataclass
class Outcome:
    label: str
    manifest: Manifest
    script: Path | None = None


def render_modes(
    req: ModeRequest,
    out: Path,
    settings: Settings,
    *,
    run: RunArgs = PLAIN,
    on_script: Callable[[IdeaScript], None] | None = None,
) -> list[Outcome] | None:
    """The outcomes of the mode ``req`` asks for; None when it is a plain script render."""
    given = {"SCRIPT": req.script, "--idea": req.idea, "--image": req.image, "--audio": req.audio}
    sources = [name for name, value in given.items() if value is not None]
    if len(sources) > 1:
        raise DramaforgeError(f"give one of {', '.join(sources)}, not several")
    if req.image is not None:
        path, manifest = render_image(
            req.image, req.brief or "", out, settings, duration=req.duration or 15.0, run=run
        )
        return [Outcome("image", manifest, path)]
    if req.audio is not None:
        path, manifest = render_music(
            req.audio, req.brief or "", out, settings, duration=req.duration, run=run
        )
        return [Outcome("music", manifest, path)]
    if req.idea is not None:
        ctx = run.base(settings, out)
        made = idea_script(req.idea, out, ctx.director, settings.render.language)
        if on_script is not None:
            on_script(made)  # seen before anything is spent on it
        return [Outcome("idea", render_idea(made, out, settings, ctx, run), made.path)]
    if req.script is None:
        raise DramaforgeError("give a SCRIPT file, or --idea, --image or --audio")
    if not req.script.is_file():
        return None  # the plain path reports the missing file
    if req.styles:
        looks = render_styles(req.script, req.styles, out, settings, run=run)
        return [Outcome(style, manifest) for style, manifest in looks]
    if req.short_drama:
        manifest = render_short_drama(req.script, out, settings, run=run)
        return [Outcome("short-drama", manifest)]
    if req.channels or load_script(req.script, language=settings.render.language).channels:
        done = render_versions(req.script, out, settings, only=req.channels, run=run)
        return [Outcome(r.version.name, r.manifest) for r in done]
    return None
