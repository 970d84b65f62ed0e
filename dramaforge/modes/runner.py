"""How a mode's renders run, handed through every mode as one value: resumed or fresh, who
hears the progress events, and which backends (a context the caller built, as the tests do
to count calls; otherwise the settings build one).

Each mode only changes what it renders (its script, its director, a backend or two); the run
itself goes through ``render_episode`` here, the same way for all of them.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from dramaforge.config import Settings
from dramaforge.graph.context import RenderContext, build_context
from dramaforge.graph.session import Event
from dramaforge.graph.verbs import render_episode
from dramaforge.media.store import atomic_write
from dramaforge.schema import Manifest


@dataclass(frozen=True)
class RunArgs:
    """What every mode passes on to its renders unchanged."""

    resume: bool = False
    on_event: Callable[[Event], None] | None = None
    context: RenderContext | None = None

    def base(self, settings: Settings, out: Path) -> RenderContext:
        """The caller's context, or the one ``settings`` build for renders into ``out``; a
        mode wraps its director or backends around it."""
        return self.context or build_context(settings, settings.state_root(out.resolve()))

    def render(
        self,
        script_path: Path,
        out: Path,
        settings: Settings,
        context: RenderContext,
        episode: str | None = None,
    ) -> Manifest:
        """One episode of the mode on ``context``: the base with the mode's director or
        backends in it."""
        return render_episode(
            script_path,
            out,
            settings,
            resume=self.resume,
            on_event=self.on_event,
            context=context,
            episode=episode,
        )


def write_script(out: Path, name: str, text: str) -> Path:
    """A script a mode wrote (from a photo, a track, a version's text) at
    ``OUT/<name>/script.txt``, where the person can read and edit it."""
    path = out / name / "script.txt"
    atomic_write(path, text + "\n")
    return path


PLAIN = RunArgs()
"""A fresh run on the settings' own backends, with nobody listening: the modes' default."""
