"""Style variants: one plan rendered in several looks into sibling folders.

``render SCRIPT --styles anime,realistic,ink-wash`` directs the script once, then renders it
per style into ``OUT/<name>/<style>/``. The style reaches every keyframe prompt (the words
for each named style are in ``prompts/styles.*.md``; any other name is used as written), so
each look gets its own keyframes and clips; voices, music, ambience and effects do not depend
on the look, so their store keys match and they are made once for all styles. Offline, the
storyboard keyframes also get a matching treatment (posterised, ink-wash grey, natural), so
the variants look different without a model.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from pathlib import Path

from PIL import Image, ImageFilter, ImageOps

from dramaforge import prompts
from dramaforge.config import Settings
from dramaforge.errors import DramaforgeError
from dramaforge.graph.context import RenderContext, build_context
from dramaforge.graph.run import render_episode
from dramaforge.graph.session import Event
from dramaforge.graph.threads import episode_name
from dramaforge.modes.shared import Delegating
from dramaforge.schema import Language, Manifest, Script, ShotPlan
from dramaforge.tools.agents import Director
from dramaforge.tools.base import Generated, ImageBackend, ImageRequest, TaskJournal

MAX_STYLES = 6


def style_names(value: str) -> list[str]:
    names = [re.sub(r"[^\w\-]+", "-", n.strip().lower()).strip("-") for n in value.split(",")]
    names = list(dict.fromkeys(n for n in names if n))
    if not names or len(names) > MAX_STYLES:
        raise DramaforgeError(f"--styles takes 1 to {MAX_STYLES} names, e.g. anime,ink-wash")
    return names


def style_words(style: str, language: Language) -> str:
    """The prompt words for ``style``: from ``prompts/styles.*.md``, else the name itself."""
    for line in prompts.template("styles", language).splitlines():
        name, _, words = line.partition(":")
        if name.strip() == style:
            return words.strip()
    return style.replace("-", " ")


@dataclass
class StyledDirector(Delegating):
    """Plans once (shared by every style) and puts the style in front of each visual prompt."""

    inner: Director
    style: str
    plans: dict[str, ShotPlan]
    name: str = field(init=False)

    def __post_init__(self) -> None:
        self.name = self.inner.name

    def direct(self, script: Script) -> ShotPlan:
        key = script.model_dump_json(exclude={"source"})
        if key not in self.plans:
            self.plans[key] = self.inner.direct(script)
        words = style_words(self.style, script.language)
        sep = "，" if script.language == "zh" else ", "
        shots = [
            s.model_copy(update={"visual_prompt": f"{words}{sep}{s.visual_prompt}"})
            for s in self.plans[key].shots
        ]
        return self.plans[key].model_copy(update={"shots": shots})


@dataclass
class StyledStoryboard:
    """The offline storyboard with a look applied to each drawn keyframe."""

    inner: ImageBackend
    style: str
    name: str = field(init=False)

    def __post_init__(self) -> None:
        self.name = self.inner.name

    def generate(
        self, request: ImageRequest, dest: Path, journal: TaskJournal | None = None
    ) -> Generated:
        made = self.inner.generate(request, dest, journal)
        with Image.open(dest) as im:
            image = im.convert("RGB")
        if "ink" in self.style:
            image = ImageOps.autocontrast(ImageOps.grayscale(image).filter(ImageFilter.SMOOTH_MORE))
            image = ImageOps.colorize(image, black="#1b1b1b", white="#f3efe4")
        elif self.style in ("anime", "comic", "3d"):
            image = ImageOps.posterize(image.filter(ImageFilter.EDGE_ENHANCE_MORE), 3)
        image.save(dest, format="PNG")
        return made


def render_styles(
    script_path: Path,
    styles: list[str],
    out: Path,
    settings: Settings,
    *,
    resume: bool = False,
    on_event: Callable[[Event], None] | None = None,
    context: RenderContext | None = None,
) -> list[tuple[str, Manifest]]:
    """Render ``script_path`` once per style into ``OUT/<name>/<style>/``."""
    base = context or build_context(settings, settings.state_root(out.resolve()))
    name = episode_name(script_path)
    plans: dict[str, ShotPlan] = {}
    done = []
    for style in styles:
        image = base.image
        if image.name.startswith("local:"):
            image = StyledStoryboard(image, style)
        ctx = replace(base, director=StyledDirector(base.director, style, plans), image=image)
        manifest = render_episode(
            script_path, out, settings, resume=resume, on_event=on_event, context=ctx,
            episode=f"{name}/{style}",
        )  # fmt: skip
        done.append((style, manifest))
    return done
