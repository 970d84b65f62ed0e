"""Where the studio finds episodes, and the one way it opens their sessions.

An episode is named in URLs by two plain segments, ``<folder>/<name>``: its folder in the
workspace (``out`` for the studio's own, a batch's ``--out`` folder for a series) and its name
there. A rendered episode is opened through its manifest's thread (``episode_session``), so
``rerender`` and MCP see what the studio did and the reverse; one that is only planned is the
interactive session of its script (``session_for(..., approve=True)``), the thread
``chat --resume`` continues. There is no other way in: every edit is a ``Session`` operation.
"""

from __future__ import annotations

import re
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from dramaforge.config import Settings
from dramaforge.errors import Busy, DramaforgeError, WorkspaceError
from dramaforge.graph.context import RenderContext, build_context
from dramaforge.graph.session import Event, Session, episode_session, session_for
from dramaforge.graph.threads import episode_name
from dramaforge.schema import Manifest
from dramaforge.serve.studio.jobs import Job, Jobs
from dramaforge.serve.workspace import SUFFIXES, Workspace

SEGMENT = re.compile(r"^[\w\-][\w\-.]*$")
OUT = "out"


@dataclass
class Studio:
    workspace: Workspace
    settings: Settings
    contexts: dict[str, RenderContext] = field(default_factory=dict)
    """One render context per episode folder (its asset store and budget ledger), made once."""
    jobs: Jobs = field(default_factory=Jobs)
    _lock: threading.Lock = field(default_factory=threading.Lock)
    _editing: dict[str, threading.RLock] = field(default_factory=dict)

    @property
    def root(self) -> Path:
        return self.workspace.root

    # ---- locating ------------------------------------------------------------------------

    def folder(self, folder: str, name: str) -> Path:
        """The episode folder ``ROOT/folder/name``, refused if either part is not a plain name
        or the result (symlinks followed) is outside the workspace."""
        for part in (folder, name):
            if not SEGMENT.match(part):
                raise WorkspaceError(f"{part!r} is not an episode or folder name")
        path = self.workspace.inside(f"{folder}/{name}", must_exist=False)
        if path.parent != self.workspace.inside(folder, must_exist=False):
            raise WorkspaceError(f"{folder}/{name} leaves its folder")
        return path

    def context(self, folder: str) -> RenderContext:
        with self._lock:
            if folder not in self.contexts:
                out = self.workspace.inside(folder, must_exist=False)
                self.contexts[folder] = build_context(self.settings, self.settings.state_root(out))
            return self.contexts[folder]

    def scripts(self) -> list[Path]:
        """Script files at the workspace's top and in ``scripts/`` (not deeper)."""
        found: list[Path] = []
        for where in (self.root, self.root / "scripts"):
            if where.is_dir():
                found += sorted(
                    p
                    for p in where.iterdir()
                    if p.is_file() and p.name.endswith(SUFFIXES) and not p.name.startswith(".")
                )
        return [p for p in found if p.resolve().is_relative_to(self.root)]

    def script_of(self, name: str) -> Path | None:
        return next((p for p in self.scripts() if episode_name(p) == name), None)

    @contextmanager
    def editing(self, folder: str, name: str) -> Iterator[None]:
        """Hold episode ``folder/name`` for one change: simultaneous edits (two tabs, a script
        posting in parallel) wait their turn, each reading what the one before saved, so
        none is lost. Reading (the pages) needs no turn."""
        with self._lock:
            lock = self._editing.setdefault(f"{folder}/{name}", threading.RLock())
        with lock:
            yield

    @contextmanager
    def session(self, folder: str, name: str) -> Iterator[Session]:
        """The session of episode ``folder/name``: rendered, or planned from its script."""
        path = self.folder(folder, name)
        context = self.context(folder)
        if (path / "manifest.json").is_file():
            with episode_session(path, self.settings, context=context) as session:
                yield session
            return
        script = self.script_of(name) if folder == OUT else None
        if script is None:
            raise WorkspaceError(f"{folder}/{name} is neither rendered nor planned from a script")
        out = self.workspace.inside(folder, must_exist=False)
        with session_for(script, out, self.settings, approve=True, context=context) as session:
            yield session

    @contextmanager
    def edit_session(self, folder: str, name: str) -> Iterator[Session]:
        """The session of an episode to change, holding its run lock (``Session.running``):
        a render of it running elsewhere (a terminal, another studio) refuses the edit at
        once, rather than the two writing its thread over each other."""

        def elsewhere(_event: Event) -> None:
            raise Busy(
                f"{folder}/{name} is being rendered by another dramaforge; edit it when done"
            )

        with self.session(folder, name) as session, session.running(elsewhere):
            yield session

    def plan(self, script: str | None, text: str | None, name: str) -> tuple[str, str]:
        """Plan a workspace script, or pasted text saved as ``scripts/<name>.txt``; nothing paid.

        Pasted text never overwrites a different script of the same name (``Workspace.script``)."""
        with self.editing(OUT, name):
            path = self.workspace.script(script, text, name)
            out = self.workspace.inside(OUT, must_exist=False)
            with session_for(
                path, out, self.settings, approve=True, context=self.context(OUT)
            ) as session:
                session.plan()
                return OUT, session.options.episode

    # ---- listing -------------------------------------------------------------------------

    def episodes(self) -> list[dict[str, Any]]:
        """Rendered and planned episodes, with status, length, shots and cost so far."""
        rows: list[dict[str, Any]] = []
        seen: set[str] = set()
        for manifest_path in sorted(self.root.glob("*/*/manifest.json")):
            folder, name = manifest_path.parent.parent.name, manifest_path.parent.name
            if not (SEGMENT.match(folder) and SEGMENT.match(name)):
                continue
            try:  # a folder (or manifest) linked in from outside the workspace is not listed
                self.folder(folder, name)
                self.workspace.inside(manifest_path)
            except WorkspaceError:
                continue
            seen.add(f"{folder}/{name}")
            try:
                manifest = Manifest.model_validate_json(manifest_path.read_text("utf-8"))
            except (OSError, ValueError):  # one broken manifest does not hide the others
                rows.append(_unreadable(folder, name))
                continue
            rows.append(self._row(folder, name, manifest))
        for script in self.scripts():
            name = episode_name(script)
            if f"{OUT}/{name}" in seen:
                continue
            try:
                with self.session(OUT, name) as session:
                    status = session.status()
                    if status == "new":
                        continue
                    plan = session.plan()
            except DramaforgeError:
                continue
            rows.append(
                {
                    "folder": OUT,
                    "name": name,
                    "title": plan.title,
                    "status": status,
                    "seconds": round(sum(s.duration for s in plan.shots), 1),
                    "shots": len(plan.shots),
                    "cost": 0.0,
                    "aspect": session.options.aspect,
                }
            )
            seen.add(f"{OUT}/{name}")
        return rows

    def _row(self, folder: str, name: str, manifest: Manifest) -> dict[str, Any]:
        status = "done"
        job = self.jobs.running(f"{folder}/{name}")
        if job is not None:
            status = "rendering"
        else:
            try:
                with self.session(folder, name) as session:
                    if session.to_render() or session.status() != "done":
                        status = "edited"
            except DramaforgeError:
                status = "unreadable"
        return {
            "folder": folder,
            "name": name,
            "title": manifest.title,
            "status": status,
            "seconds": round(manifest.episode.duration, 1),
            "shots": len(manifest.shots),
            "cost": manifest.total_cost,
            "aspect": manifest.episode.aspect,
            "passed": manifest.review.passed if manifest.review else None,
        }

    def script_folders(self) -> list[str]:
        """The workspace's top and its top-level folders that hold scripts (not deeper): what
        a batch can render, relative to the root."""
        tops = [p for p in sorted(self.root.iterdir()) if p.is_dir() and SEGMENT.match(p.name)]
        return [
            self.workspace.relative(f)
            for f in [self.root, *tops]
            if f.resolve().is_relative_to(self.root) and _holds_scripts(f)
        ]

    def cluster_ready(self) -> bool:
        """Whether ``[cluster]`` has what a batch on it needs (the form offers it only then)."""
        from dramaforge.cluster.door import missing

        return not missing(self.settings.cluster)

    def start_batch(
        self, scripts: str, out: str, series: str | None, jobs: int, cluster: bool
    ) -> Job:
        """Render the scripts of a workspace folder as one series into ``out`` in the
        background; on the cluster, the job knows the batch id its page follows."""
        if scripts not in self.script_folders():
            raise WorkspaceError(f"{scripts!r} is not a folder of scripts in the workspace")
        if not SEGMENT.match(out):
            raise WorkspaceError(f"{out!r} is not a folder name")
        batch = ""
        if cluster:
            from dramaforge.cluster.door import require_cluster
            from dramaforge.cluster.job import specs_of

            require_cluster(self.settings.cluster)
            batch = specs_of([self.workspace.inside(scripts)], self.settings, series)[0].batch

        def work(on_event: Callable[[Event], None]) -> dict[str, Any]:
            return self.workspace.render_batch(
                [scripts], out, series, jobs=jobs, cluster=cluster, on_event=on_event
            )

        return self.jobs.start(f"batch/{out}", "batch", work, batch=batch)

    def series(self) -> list[str]:
        """Folders holding a batch's ``report.json``."""
        return sorted(
            p.parent.name for p in self.root.glob("*/report.json") if SEGMENT.match(p.parent.name)
        )

    def unplanned(self, rows: list[dict[str, Any]]) -> list[str]:
        """Workspace scripts with no episode among ``rows`` yet, relative to the root."""
        listed = {(r["folder"], r["name"]) for r in rows}
        return [
            self.workspace.relative(p)
            for p in self.scripts()
            if (OUT, episode_name(p)) not in listed
        ]

    # ---- files ---------------------------------------------------------------------------

    def url(self, path: str | Path | None) -> str | None:
        """The studio URL of a file, or None when it is absent or outside the workspace."""
        if not path:
            return None
        real = Path(path).resolve()
        if not real.is_file() or not real.is_relative_to(self.root):
            return None
        return "/files/" + real.relative_to(self.root).as_posix()


def _holds_scripts(folder: Path) -> bool:
    return any(
        f.is_file() and f.name.endswith(SUFFIXES) and not f.name.startswith(".")
        for f in folder.iterdir()
    )


def _unreadable(folder: str, name: str) -> dict[str, Any]:
    """The home page's row for an episode whose manifest cannot be read."""
    return {
        "folder": folder,
        "name": name,
        "title": "",
        "status": "unreadable",
        "seconds": 0.0,
        "shots": 0,
        "cost": 0.0,
        "aspect": "",
        "passed": None,
    }
