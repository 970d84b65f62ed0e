"""Which checkpoint thread an episode lives on: its folder name, its options, its thread id.

The same script file with the same content and the same render options is the same thread, so
``--resume``, chat, ``rerender``, MCP and the studio all find one episode's state again; and
only one of them runs it at a time (``RunLock``).
"""

from __future__ import annotations

import hashlib
import json
import re
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import ClassVar

from dramaforge.config import OutputSettings, Settings
from dramaforge.graph.state import RenderOptions
from dramaforge.media.files import file_lock


def episode_name(script_path: Path) -> str:
    """Folder name for an episode: the script's file name without its extensions."""
    stem = script_path.name.split(".")[0] or "episode"
    return re.sub(r"[^\w\-]+", "_", stem).strip("_") or "episode"


def make_options(
    script_path: Path,
    out: Path,
    settings: Settings,
    series: str | None = None,
    episode: str | None = None,
) -> RenderOptions:
    """The render options of ``script_path`` into ``out``: the settings' output fields
    (``config.OutputSettings``) and where the episode goes; ``episode`` names its folder when
    the script's own name would collide with another's (a batch of ``s1/ep01``, ``s2/ep01``)."""
    bible_file = settings.state_root(out.resolve()) / "series" / f"{series}.json"
    output = {name: getattr(settings.render, name) for name in OutputSettings.model_fields}
    return RenderOptions(
        **output,
        out_dir=str(out.resolve()),
        episode=episode or episode_name(script_path),
        series=series,
        series_file=str(bible_file) if series else None,
    )


HASHED = (
    "episode",
    "aspect",
    "resolution",
    "width",
    "height",
    "fps",
    "max_takes",
    "min_shot",
    "max_shot",
    "target_lufs",
    "true_peak",
    "language",
    "format",
    "series",
    "series_file",
    "subtitles",
    "approve",
)
"""The order the options were hashed in before they were built on ``OutputSettings``: kept,
so an episode keeps its thread (``--resume``, chat) across the change. A new option goes last."""


def thread_id(script_path: Path, options: RenderOptions) -> str:
    """Same script file, same content, same render options: same thread (so --resume finds it)."""
    h = hashlib.sha256()
    h.update(str(script_path.resolve()).encode())
    h.update(script_path.read_bytes())
    # An option left unset is left out, so episodes rendered before it existed keep their id.
    unset = {"subtitles"} if options.subtitles is None else set()
    data = options.model_dump(mode="json", exclude={"out_dir", *unset})
    rank = {name: i for i, name in enumerate(HASHED)}
    ordered = dict(sorted(data.items(), key=lambda kv: rank.get(kv[0], len(rank))))
    h.update(json.dumps(ordered, ensure_ascii=False, separators=(",", ":")).encode())
    return f"{options.episode}-{h.hexdigest()[:16]}"


class RunLock:
    """One lock per episode thread: a thread lock for this process (re-entrant, so a render
    inside a reset-and-render holds it once) and an ``flock`` for other processes."""

    _all: ClassVar[dict[Path, RunLock]] = {}
    _guard: ClassVar[threading.Lock] = threading.Lock()

    def __init__(self, path: Path) -> None:
        self.path = path
        self.lock = threading.RLock()
        self.depth = 0

    @classmethod
    def of(cls, path: Path) -> RunLock:
        with cls._guard:
            return cls._all.setdefault(path, cls(path))

    @contextmanager
    def held(self, busy: Callable[[], None]) -> Iterator[None]:
        if not self.lock.acquire(blocking=False):
            busy()
            self.lock.acquire()
        try:
            if self.depth:  # re-entered by the thread that holds the file lock already
                self.depth += 1
                try:
                    yield
                finally:
                    self.depth -= 1
                return
            with file_lock(self.path.with_suffix(".lock"), busy=busy):
                self.depth = 1
                try:
                    yield
                finally:
                    self.depth = 0
        finally:
            self.lock.release()
