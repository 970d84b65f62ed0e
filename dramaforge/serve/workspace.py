"""What other agents may do, confined to one folder: the MCP server and LangChain tools use this.

Every path an agent gives (a script, an episode) is resolved inside the workspace root and
refused if it points outside it, through ``..``, an absolute path or a symlink. Episodes are
rendered into ``ROOT/out/<episode>/``. Results are plain JSON-able dicts with paths relative to
the root, so an agent never learns (or needs) where the workspace lives.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from dramaforge.config import Settings
from dramaforge.errors import WorkspaceError
from dramaforge.graph.context import build_context
from dramaforge.graph.cost import estimate
from dramaforge.graph.run import plan_script, render_episode, rerender_shot
from dramaforge.graph.session import Event
from dramaforge.schema import Aspect, Manifest, Resolution

OnEvent = Callable[[Event], None]
SUFFIXES = (".txt", ".md", ".fountain", ".yaml", ".yml")


@dataclass
class Workspace:
    root: Path
    settings: Settings

    def __post_init__(self) -> None:
        self.root = self.root.resolve()
        if not self.root.is_dir():
            raise WorkspaceError(f"workspace {self.root} is not a folder")

    @property
    def out(self) -> Path:
        return self.root / "out"

    def inside(self, given: str, *, must_exist: bool = True) -> Path:
        """``given`` resolved inside the root (symlinks followed), or a WorkspaceError."""
        if not given.strip():
            raise WorkspaceError("a path is needed")
        path = (self.root / given).resolve()
        if not path.is_relative_to(self.root):
            raise WorkspaceError(f"{given!r} is outside the workspace; use a path inside it")
        if must_exist and not path.exists():
            raise WorkspaceError(f"{given!r} does not exist in the workspace")
        return path

    def relative(self, path: str | Path) -> str:
        return str(Path(path).resolve().relative_to(self.root))

    def script(self, script: str | None = None, text: str | None = None, name: str = "") -> Path:
        """A script file in the workspace, or ``text`` saved as ``scripts/<name>.txt``."""
        if (script is None) == (text is None):
            raise WorkspaceError("give either a script path or the script text")
        if script is not None:
            path = self.inside(script)
            if not path.is_file():
                raise WorkspaceError(f"{script!r} is not a file")
            return path
        stem = re.sub(r"[^\w\-]+", "_", name).strip("_") or "script"
        path = self.root / "scripts" / (stem if stem.endswith(SUFFIXES) else f"{stem}.txt")
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text or "", encoding="utf-8")
        return path

    def episode_dir(self, episode: str) -> Path:
        """An episode by its name (``out/<name>``) or its folder path in the workspace."""
        plain = (self.out / episode).resolve()
        path = plain if plain.is_relative_to(self.out) and plain.is_dir() else None
        path = path or self.inside(episode)
        if not (path / "manifest.json").is_file():
            raise WorkspaceError(f"{episode!r} is not a rendered episode (no manifest.json)")
        return path

    # ---- the operations ------------------------------------------------------------------

    def plan_episode(self, script: str | None = None, text: str | None = None) -> dict[str, Any]:
        """Shot list and estimated cost; nothing is rendered or paid for."""
        path = self.script(script, text, name="planned")
        context = build_context(self.settings, self.settings.state_root(self.out))
        parsed, plan = plan_script(path, self.settings, context)
        cost = estimate(plan, self.settings)
        return {
            "script": self.relative(path),
            "title": plan.title,
            "language": parsed.language,
            "shots": [
                {
                    "number": n,
                    "id": s.id,
                    "scene": s.scene_heading,
                    "framing": s.framing,
                    "camera": s.camera,
                    "seconds": s.duration,
                    "lines": [f"{ln.speaker or 'narrator'}: {ln.text}" for ln in s.lines],
                    "prompt": s.visual_prompt,
                }
                for n, s in enumerate(plan.shots, 1)
            ],
            "estimated_seconds": round(sum(s.duration for s in plan.shots), 1),
            "estimate": cost.model_dump(),
        }

    def render_episode(
        self,
        script: str | None = None,
        text: str | None = None,
        name: str = "episode",
        *,
        aspect: Aspect | None = None,
        resolution: Resolution | None = None,
        budget: float | None = None,
        on_event: OnEvent | None = None,
    ) -> dict[str, Any]:
        """Render a script into ``out/<episode>/``. The same script again returns the finished
        episode; an interrupted render of it is resumed."""
        path = self.script(script, text, name)
        render = {k: v for k, v in {"aspect": aspect, "resolution": resolution}.items() if v}
        settings = self.settings.model_copy(
            update={"render": self.settings.render.model_copy(update=render)}
            | ({"budget": budget} if budget is not None else {})
        )
        manifest = render_episode(
            path, self.out, settings, resume=True, skip_done=True, on_event=on_event
        )
        return self.summary(manifest)

    def rerender_shot(
        self,
        episode: str,
        shot: str,
        prompt: str | None = None,
        take: int | None = None,
        on_event: OnEvent | None = None,
    ) -> dict[str, Any]:
        """Redo one shot (new prompt, or a fresh take) or restore an earlier take."""
        folder = self.episode_dir(episode)
        manifest = rerender_shot(
            folder, self.settings, shot, prompt=prompt, take=take, on_event=on_event
        )
        return self.summary(manifest)

    def get_episode(self, episode: str) -> dict[str, Any]:
        """The episode's manifest: every shot, take, prompt, seed, cost and review."""
        manifest = self._manifest(self.episode_dir(episode))
        data: dict[str, Any] = manifest.model_dump(mode="json")
        return data

    def list_episodes(self) -> list[dict[str, Any]]:
        """Every rendered episode in the workspace, newest first."""
        found = sorted(
            self.out.glob("*/manifest.json"), key=lambda p: p.stat().st_mtime, reverse=True
        )
        return [self.summary(self._manifest(p.parent)) for p in found]

    def summary(self, manifest: Manifest) -> dict[str, Any]:
        ep = manifest.episode
        folder = Path(ep.path).parent
        return {
            "episode": folder.name,
            "title": manifest.title,
            "video": self.relative(ep.path),
            "srt": self.relative(ep.srt),
            "manifest": self.relative(folder / "manifest.json"),
            "storyboard": self.relative(folder / "storyboard.html"),
            "seconds": ep.duration,
            "size": f"{ep.width}x{ep.height}",
            "shots": len(manifest.shots),
            "takes": {r.shot_id: r.take.number for r in manifest.shots},
            "cost": manifest.total_cost,
            "review_passed": manifest.review.passed if manifest.review else None,
        }

    @staticmethod
    def _manifest(folder: Path) -> Manifest:
        return Manifest.model_validate_json((folder / "manifest.json").read_text("utf-8"))
