"""Channel versions: every version a brief lists, rendered by one command.

``OUT/<name>/<channel>/episode.mp4`` per version, each at its own aspect and duration. The
brief is directed once; each version's plan is that plan fitted to its duration (see
``fit.py``), or the version's own script rendered as written. All versions share one asset
store, one budget and one music bed per cue, so what they have in common is made once.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

import yaml

from dramaforge.config import Settings
from dramaforge.errors import DramaforgeError
from dramaforge.graph.context import RenderContext
from dramaforge.graph.threads import episode_name
from dramaforge.modes.briefs import normalize_brief
from dramaforge.modes.fit import Extras, Fit
from dramaforge.modes.runner import PLAIN, RunArgs, write_script
from dramaforge.modes.shared import FittedDirector, SharedSound, shared_length
from dramaforge.schema import Aspect, Manifest, Script, ShotPlan
from dramaforge.script import load_script, parse_text


@dataclass
class Version:
    name: str
    aspect: Aspect
    duration: float | None
    script: str = ""


@dataclass
class Rendered:
    version: Version
    manifest: Manifest


def versions_of(script: Script, only: list[str] | None = None) -> list[Version]:
    """The script's versions (its brief's channels), or only those named in ``only``."""
    found = [
        Version(_folder(c.name), c.aspect, c.duration, c.script.strip()) for c in script.channels
    ]
    names = [v.name for v in found]
    if len(set(names)) != len(names):
        raise DramaforgeError(f"two versions share a name ({', '.join(names)}); rename one")
    if only:
        unknown = [n for n in only if _folder(n) not in names]
        if unknown:
            raise DramaforgeError(
                f"no version named {unknown[0]!r}; this brief has {', '.join(names) or 'none'}"
            )
        found = [v for v in found if v.name in {_folder(n) for n in only}]
    return found


def _folder(name: str) -> str:
    return re.sub(r"[^\w\-]+", "_", name.strip()).strip("_") or "version"


def brief_extras(script: Script) -> Extras:
    """The product and the points of a YAML brief (what a longer cut can narrate)."""
    path = Path(script.source)
    if script.format != "yaml" or not path.is_file():
        return Extras(points=[script.logline] if script.logline else [])
    data: Any = yaml.safe_load(path.read_text(encoding="utf-8"))
    data = normalize_brief(data) if isinstance(data, dict) else {}
    points = [str(p) for p in (data.get("points") or data.get("selling_points") or [])]
    message = str(data.get("message") or data.get("logline") or "")
    return Extras(product=str(data.get("product") or ""), points=[*points, message][:8])


def _fit_of(version: Version, settings: Settings, extras: Extras) -> Fit | None:
    """How ``version``'s plan is fitted: to its duration, keeping its own script's shots as
    written; None when it names no duration (the plan as directed)."""
    if version.duration is None:
        return None
    r = settings.render
    return Fit(version.duration, r.fps, r.min_shot, extras, as_written=bool(version.script))


def _contexts(
    script: Script,
    versions: list[Version],
    settings: Settings,
    base: RenderContext,
) -> list[tuple[Version, Settings, RenderContext]]:
    """Per version: its settings (aspect) and a context whose director fits the shared plan."""
    plans: dict[str, ShotPlan] = {}
    extras = brief_extras(script)
    lengths = [v.duration for v in versions if v.duration]
    sound = SharedSound(base.sound, base.store, shared_length(lengths))
    out = []
    for v in versions:
        vs = settings.with_(render={"aspect": v.aspect})
        director = FittedDirector(base.director, _fit_of(v, vs, extras), plans, ctx=base)
        out.append((v, vs, replace(base, settings=vs, director=director, sound=sound)))
    return out


def render_versions(
    script_path: Path,
    out: Path,
    settings: Settings,
    *,
    only: list[str] | None = None,
    run: RunArgs = PLAIN,
) -> list[Rendered]:
    """Render every version of the brief at ``script_path`` into ``OUT/<name>/<version>/``."""
    script = load_script(script_path, language=settings.render.language)
    versions = versions_of(script, only)
    if not versions:
        raise DramaforgeError(f"{script_path}: lists no channels or versions to render")
    name = episode_name(script_path)
    base = run.base(settings, out)
    done = []
    for v, vs, ctx in _contexts(script, versions, settings, base):
        path = write_script(out / name, v.name, v.script) if v.script else script_path
        manifest = run.render(path, out, vs, context=ctx, episode=f"{name}/{v.name}")
        done.append(Rendered(v, manifest))
    return done


def plan_versions(
    script_path: Path, settings: Settings, context: RenderContext
) -> list[tuple[Version, ShotPlan]]:
    """Each version's fitted plan, with speech lengths estimated (nothing is generated)."""
    script = load_script(script_path, language=settings.render.language)
    plans: dict[str, ShotPlan] = {}
    extras = brief_extras(script)
    found = []
    for v in versions_of(script):
        director = FittedDirector(context.director, _fit_of(v, settings, extras), plans)
        own = script
        if v.script:
            own = parse_text(v.script, source=f"{v.name}.txt")
        found.append((v, director.direct(own)))
    return found
