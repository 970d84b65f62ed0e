"""What other agents may do, confined to one folder: the MCP server and LangChain tools use this.

Every path an agent gives (a script, an episode) and every path the workspace builds itself
(``scripts/<name>.txt``, ``out/``, an episode's files) is resolved inside the workspace root
and refused if it leads outside it, through ``..``, an absolute path or a symlink planted
inside. Files served from an episode folder must be plain files, not symlinks. Episodes are
rendered into ``ROOT/out/<episode>/``. Results are plain JSON-able dicts, and error messages
name paths relative to the root, so an agent never learns (or needs) where the workspace lives.
"""

from __future__ import annotations

import os
import re
import tempfile
import threading
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from dramaforge.config import Settings
from dramaforge.errors import DramaforgeError, WorkspaceError
from dramaforge.graph.batch import BatchReport, run_batch
from dramaforge.graph.casting import plan_bible
from dramaforge.graph.context import build_context, confined
from dramaforge.graph.cost import estimate
from dramaforge.graph.session import Event
from dramaforge.graph.threads import make_options
from dramaforge.graph.verbs import plan_script, render_episode, rerender_shot
from dramaforge.media.store import atomic_write
from dramaforge.schema import Aspect, Manifest, Resolution
from dramaforge.script.reader import SCRIPT_SUFFIXES

OnEvent = Callable[[Event], None]
SUFFIXES = SCRIPT_SUFFIXES
MAX_NAME = 100
"""Characters in a script's name (a file name must stay within the file system's 255 bytes)."""


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
        """``ROOT/out``, created if missing; a symlink leading outside the root is refused."""
        out = self.inside("out", must_exist=False)
        out.mkdir(exist_ok=True)
        return out

    def inside(self, given: str | Path, *, must_exist: bool = True) -> Path:
        """``given`` resolved inside the root (symlinks followed), or a WorkspaceError."""
        if not str(given).strip():
            raise WorkspaceError("a path is needed")
        try:
            path = confined(self.root, Path(given))
            missing = must_exist and not path.exists()
        except (ValueError, OSError):  # a NUL byte, a name longer than the file system takes
            raise WorkspaceError(f"{str(given)[:80]!r} is not a usable path") from None
        if missing:
            raise WorkspaceError(f"{str(given)!r} does not exist in the workspace")
        return path

    def served_file(self, folder: Path, name: str) -> Path:
        """A file of an episode folder to hand out: a plain file inside it, never a symlink."""
        path = folder / name
        if path.is_symlink() or not path.is_file():
            raise WorkspaceError(f"{self.relative(folder)}/{name} is not a file of the episode")
        return self.inside(path)

    def quiet(self, err: DramaforgeError) -> DramaforgeError:
        """``err`` with the workspace's own location taken out of its message (in place)."""
        text = str(err).replace(f"{self.root}{os.sep}", "").replace(str(self.root), ".")
        err.args = (text,)
        return err

    def relative(self, path: str | Path) -> str:
        """``path`` relative to the root (for results and messages)."""
        real = Path(path).resolve()
        return str(real.relative_to(self.root)) if real.is_relative_to(self.root) else "<outside>"

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
        if len(stem) > MAX_NAME:
            raise WorkspaceError(f"a script name may have at most {MAX_NAME} characters")
        given = Path("scripts") / (stem if stem.endswith(SUFFIXES) else f"{stem}.txt")
        folder = self.inside(given.parent, must_exist=False)
        folder.mkdir(parents=True, exist_ok=True)
        path = self.inside(given, must_exist=False)  # a symlink planted there is refused
        if path.is_symlink() or (path.exists() and not path.is_file()):
            raise WorkspaceError(f"{given} is not a plain file; refused")
        if path.is_file():  # the same text again is the same script; a different one is not
            if path.read_text(encoding="utf-8", errors="replace") != text:
                raise WorkspaceError(f"{given} exists already with other text; choose another name")
            return path
        atomic_write(path, text or "")
        return path

    def relative_paths(self, data: Any) -> Any:
        """``data`` (parsed JSON) with every absolute path made relative to the root, and one
        outside it replaced by ``<outside>``: an agent never learns where the workspace is."""
        if isinstance(data, dict):
            return {k: self.relative_paths(v) for k, v in data.items()}
        if isinstance(data, list):
            return [self.relative_paths(v) for v in data]
        if isinstance(data, str) and data.startswith(os.sep) and "\n" not in data:
            return self.relative(data)
        return data

    def episode_dir(self, episode: str) -> Path:
        """An episode by its name (``out/<name>``) or its folder path in the workspace."""
        plain = (self.out / episode).resolve()
        path = plain if plain.is_relative_to(self.out) and plain.is_dir() else None
        path = path or self.inside(episode)
        self.served_file(path, "manifest.json")
        return path

    # ---- the operations ------------------------------------------------------------------

    def plan_episode(self, script: str | None = None, text: str | None = None) -> dict[str, Any]:
        """Shot list and estimated cost; nothing is rendered or paid for."""
        with tempfile.TemporaryDirectory(prefix="dramaforge-plan-") as scratch:
            if text is not None and script is None:  # free: the text is planned, not saved
                path = Path(scratch) / "planned.txt"
                path.write_text(text, encoding="utf-8")
                shown = None
            else:
                path = self.script(script, text)
                shown = self.relative(path)
            context = build_context(self.settings, self.settings.state_root(self.out))
            parsed, plan = plan_script(path, self.settings, context)
            options = make_options(path, self.out, self.settings)
            work = plan_bible(context, parsed, plan, options)[0].to_make
        cost = estimate(plan, self.settings, cast=work)
        return {
            "script": shown,
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
            "to_make": work.model_dump(mode="json"),
            "repairs": [r.describe() for r in plan.repairs],
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
        settings = self._render_settings(aspect, resolution, budget)
        manifest = render_episode(
            path, self.out, settings, resume=True, skip_done=True, on_event=on_event
        )
        return self.summary(manifest)

    def render_batch(
        self,
        scripts: list[str],
        out: str = "out",
        series: str | None = None,
        *,
        jobs: int = 1,
        cluster: bool = False,
        aspect: Aspect | None = None,
        resolution: Resolution | None = None,
        budget: float | None = None,
        on_event: OnEvent | None = None,
        stop: threading.Event | None = None,
    ) -> dict[str, Any]:
        """Render scripts (files, or folders of them) as one series into ``out``: here in
        ``jobs`` threads, or on the ``[cluster]`` (one Ray task per episode, the same batch
        started twice followed, not run twice). The same report either way.

        Events carry ``episode`` (a local render's stage events), or ``line`` (the cluster
        driver's lines, and each episode's end), with ``ended`` of ``total`` episodes."""
        if not scripts:
            raise WorkspaceError("give at least one script or folder of scripts")
        paths = [self.inside(given) for given in scripts]
        folder = self.inside(out, must_exist=False)
        if folder == self.root or folder in paths:
            raise WorkspaceError(f"{out!r} holds the scripts; choose another folder for the batch")
        settings = self._render_settings(aspect, resolution, budget)
        tally = _Tally(on_event)
        if cluster:
            from dramaforge.cluster.door import cluster_errors, require_cluster
            from dramaforge.cluster.job import run_cluster_batch, specs_of

            require_cluster(settings.cluster)
            tally.total = len(specs_of(paths, settings, series))
            report = cluster_errors(
                lambda: run_cluster_batch(
                    paths,
                    folder,
                    settings,
                    series=series,
                    on_line=tally.line,
                    on_progress=tally.progress,
                    stop=stop,
                )
            )()
        else:
            from dramaforge.graph.batch import collect

            tally.total = len(collect(paths))
            report = run_batch(
                paths, folder, settings, jobs=jobs, series=series, on_event=tally.event
            )
        return self.batch_summary(report, folder)

    def batch_summary(self, report: BatchReport, folder: Path) -> dict[str, Any]:
        """A batch's report (``report.json``'s shape), every path relative to the root."""
        data: dict[str, Any] = self.relative_paths(report.model_dump(mode="json"))
        return data | {"failed": report.failed, "report": self.relative(folder / "report.json")}

    def _render_settings(
        self, aspect: Aspect | None, resolution: Resolution | None, budget: float | None
    ) -> Settings:
        render = {k: v for k, v in {"aspect": aspect, "resolution": resolution}.items() if v}
        return self.settings.with_(
            render=render, **({"budget": budget} if budget is not None else {})
        )

    def rerender_shot(
        self,
        episode: str,
        shot: str | int,
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
        data: dict[str, Any] = self.relative_paths(manifest.model_dump(mode="json"))
        return data

    def list_episodes(self) -> list[dict[str, Any]]:
        """Every rendered episode in the workspace, newest first. A folder whose manifest is
        unreadable, foreign or a symlink is listed with a note instead of breaking the list."""
        found = sorted(
            self.out.glob("*/manifest.json"), key=lambda p: p.lstat().st_mtime, reverse=True
        )
        listed: list[dict[str, Any]] = []
        for manifest in found:
            folder = manifest.parent
            try:
                listed.append(self.summary(self._manifest(self.episode_dir(folder.name))))
            except (DramaforgeError, OSError, ValueError) as err:
                note = self.quiet(err) if isinstance(err, DramaforgeError) else err
                listed.append({"episode": folder.name, "error": f"skipped: {note}"[:300]})
        return listed

    def summary(self, manifest: Manifest) -> dict[str, Any]:
        ep = manifest.episode
        folder = self.inside(Path(ep.path).parent)
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
            "repairs": [r.describe() for r in manifest.repairs],
        }

    def _manifest(self, folder: Path) -> Manifest:
        path = self.served_file(folder, "manifest.json")
        try:
            return Manifest.model_validate_json(path.read_text("utf-8"))
        except ValueError as err:
            shown = self.relative(path)
            raise WorkspaceError(
                f"{shown} is not a dramaforge manifest ({type(err).__name__})"
            ) from None


class _Tally:
    """A batch's events for a door: each with how many of the episodes have ended, and a
    ``line`` for each that a person would read (an episode's end, the cluster's lines)."""

    def __init__(self, on_event: OnEvent | None) -> None:
        self.on_event = on_event
        self.total = 0
        self.ended = 0

    def event(self, event: Event) -> None:
        if event.get("stage") == "episode":
            self.ended += 1
            event = event | {"line": f"{event['episode']}: {event.get('status')}"}
        self._send(event)

    def line(self, text: str) -> None:
        self._send({"line": text})

    def progress(self, ended: int, total: int) -> None:
        self.ended, self.total = ended, total

    def _send(self, event: Event) -> None:
        if self.on_event is not None:
            self.on_event(event | {"ended": min(self.ended, self.total), "total": self.total})
