"""Which mode a ``render`` command asks for, and running it: the CLI's one door to the modes.

A plain script renders as it always has; a brief that lists versions, ``--idea``,
``--image``, ``--audio`` or ``--styles`` go to their mode. Kept apart from ``cli.py`` so the
command line only parses flags and prints results.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from dramaforge.config import Settings
from dramaforge.errors import DramaforgeError
from dramaforge.graph.context import RenderContext
from dramaforge.modes.channels import render_versions
from dramaforge.modes.idea import IdeaScript, render_idea
from dramaforge.schema import Manifest
from dramaforge.script import load_script
from dramaforge.session import Event


@dataclass
class ModeRequest:
    script: Path | None = None
    idea: str | None = None
    channels: list[str] = field(default_factory=list)


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
    resume: bool = False,
    on_event: Callable[[Event], None] | None = None,
    on_script: Callable[[IdeaScript], None] | None = None,
    context: RenderContext | None = None,
) -> list[Outcome] | None:
    """The outcomes of the mode ``req`` asks for; None when it is a plain script render."""
    if req.idea is not None:
        if req.script is not None:
            raise DramaforgeError("give a SCRIPT or --idea, not both")
        made, manifest = render_idea(
            req.idea, out, settings, resume=resume, on_event=on_event, on_script=on_script,
            context=context,
        )  # fmt: skip
        return [Outcome("idea", manifest, made.path)]
    if req.script is None:
        raise DramaforgeError("give a SCRIPT file, or --idea, --image or --audio")
    if not req.script.is_file():
        return None  # the plain path reports the missing file
    if req.channels or load_script(req.script, language=settings.render.language).channels:
        done = render_versions(
            req.script, out, settings, only=req.channels, resume=resume, on_event=on_event,
            context=context,
        )  # fmt: skip
        return [Outcome(r.version.name, r.manifest) for r in done]
    return None
