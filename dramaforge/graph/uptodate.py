"""Is the episode on disk already what a render of these inputs would make?

A second ``render`` of an unchanged script used to re-assemble, re-normalise and re-review the
whole episode (every shot came from the asset cache, but the final cut was made again). The
review stage now stamps the manifest with what the render consumed; the runner compares the
stamp before running anything and, when nothing changed and the files are intact, answers with
the manifest it already has.

The stamp has three parts:
- ``thread``: the manifest's checkpoint thread, itself a hash of the script's path and bytes
  and of the render options (aspect, size, fps, takes, loudness target, language, series);
- ``settings``: a hash of the settings that can change what is made (backends, render, draft
  and provider settings) and of the package version (a new version may cut differently);
- ``episode`` and ``srt``: SHA-256 of the files as written, so a deleted, truncated or
  replaced episode is made again.

``finished`` asks the same question before the graph is even imported: ``render`` of an
unchanged episode answers from the manifest, the checkpoint database and the files alone,
in about the time ``dramaforge --help`` takes (LangGraph, the export libraries and OpenCV
are loaded only when something is to be made).
"""

from __future__ import annotations

import fcntl
import hashlib
import os
import sqlite3
from contextlib import closing
from pathlib import Path

from dramaforge import __version__
from dramaforge.config import OutputSettings, RenderSettings, Settings
from dramaforge.schema import Manifest

# Settings that never change a frame or a sample: budgets, prices, where state lives, and how
# the render runs (``[render]`` beyond ``OutputSettings``: shots at once, work made ahead).
NOT_OUTPUT = {"budget", "prices", "state_dir"}
HOW_TO_RUN = set(RenderSettings.model_fields) - set(OutputSettings.model_fields)


def settings_digest(settings: Settings) -> str:
    """A hash of everything in ``settings`` that can change the episode, and the version."""
    exclude: dict[str, object] = dict.fromkeys(NOT_OUTPUT, True)
    exclude["render"] = HOW_TO_RUN
    data = settings.model_dump_json(exclude=exclude)  # type: ignore[arg-type]
    return hashlib.sha256(f"{__version__}\n{data}".encode()).hexdigest()[:24]


def finished(script_path: Path, out: Path, settings: Settings) -> Manifest | None:
    """The episode a render of ``script_path`` into ``out`` made already, if rendering it
    again would change nothing (``up_to_date``); None whenever the graph must look: no
    such render, its thread unknown to the checkpoints, or a render of it running now."""
    from dramaforge.graph.threads import make_options, thread_id

    if not script_path.is_file():
        return None
    options = make_options(script_path, out, settings)
    thread = thread_id(script_path, options)
    root = settings.state_root(out.resolve())
    if not _known(root / "state.db", thread) or _running(root / "locks" / f"{thread}.lock"):
        return None
    return up_to_date(Path(options.episode_dir), thread, settings)


def _known(database: Path, thread: str) -> bool:
    """Whether the checkpoint database holds ``thread`` (one query, no LangGraph)."""
    if not database.is_file():
        return False
    try:
        with closing(sqlite3.connect(database, timeout=5)) as conn:
            row = conn.execute(
                "SELECT 1 FROM checkpoints WHERE thread_id = ? LIMIT 1", (thread,)
            ).fetchone()
    except sqlite3.Error:
        return False
    return row is not None


def _running(lock: Path) -> bool:
    """Whether a render holds the thread's run lock (``threads.RunLock``) now."""
    try:
        fd = os.open(lock, os.O_RDWR)
    except FileNotFoundError:
        return False
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        return True
    finally:
        os.close(fd)
    return False


def file_digest(path: Path) -> str:
    """SHA-256 of a file, read in 1 MiB blocks (an episode is never read into memory whole)."""
    h = hashlib.sha256()
    with path.open("rb") as f:
        while block := f.read(1 << 20):
            h.update(block)
    return h.hexdigest()


def stamp(thread: str, settings: Settings, episode: Path, srt: Path) -> dict[str, str]:
    """What review writes into ``Manifest.fingerprint`` once the episode is finished."""
    found = {"thread": thread, "settings": settings_digest(settings)}
    found["episode"] = file_digest(episode)
    if srt.is_file():
        found["srt"] = file_digest(srt)
    return found


def up_to_date(episode_dir: Path, thread: str, settings: Settings) -> Manifest | None:
    """The finished manifest in ``episode_dir`` if rendering ``thread`` again would change
    nothing: same inputs, same settings and version, episode and subtitles as written."""
    path = episode_dir / "manifest.json"
    if not path.is_file():
        return None
    try:
        manifest = Manifest.model_validate_json(path.read_text(encoding="utf-8"))
    except ValueError:
        return None
    was = manifest.fingerprint
    if not was or was.get("thread") != thread or was.get("settings") != settings_digest(settings):
        return None
    episode, srt = Path(manifest.episode.path), Path(manifest.episode.srt)
    if not episode.is_file() or file_digest(episode) != was.get("episode"):
        return None
    if "srt" in was and (not srt.is_file() or file_digest(srt) != was["srt"]):
        return None
    return manifest
