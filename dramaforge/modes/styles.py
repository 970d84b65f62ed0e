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
from dataclasses import dataclass, replace
from pathlib import Path

from PIL import Image, ImageFilter, ImageOps

from dramaforge import prompts
from dramaforge.config import Settings
from dramaforge.errors import DramaforgeError
from dramaforge.graph.threads import episode_name
from dramaforge.modes.runner import PLAIN, RunArgs
from dramaforge.modes.shared import Delegating, Wrapper
from dramaforge.schema import Language, Manifest, Script, ShotPlan
from dramaforge.tools.protocols import Generated, ImageBackend, ImageRequest, TaskJournal

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

    style: str
    plans: dict[str, ShotPlan]

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
class StyledStoryboard(Wrapper[ImageBackend]):
    """The offline storyboard with a look applied to each drawn keyframe."""

    style: str

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
    run: RunArgs = PLAIN,
) -> list[tuple[str, Manifest]]:
    """Render ``script_path`` once per style into ``OUT/<name>/<style>/``."""
    base = run.base(settings, out)
    name = episode_name(script_path)
    plans: dict[str, ShotPlan] = {}
    done = []
    for style in styles:
        image = base.image
        if image.name.startswith("local:"):
            image = StyledStoryboard(image, style)
        ctx = replace(base, director=StyledDirector(base.director, style, plans), image=image)
        manifest = run.render(script_path, out, settings, context=ctx, episode=f"{name}/{style}")
        done.append((style, manifest))
    return done
