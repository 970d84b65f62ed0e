"""The series bible: character looks fixed once and reused by every episode of a series.

Kept as JSON beside the checkpoints (``<state>/series/<name>.json``). Episodes rendered in
parallel read and extend it under a lock, so two newcomers never get the same slot or voice.
"""

from __future__ import annotations

import fcntl
import json
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from dramaforge.schema import CharacterLook
from dramaforge.tools.media.store import atomic_write

_thread_lock = threading.Lock()


@contextmanager
def locked(path: Path) -> Iterator[None]:
    """Exclusive access to ``path`` across threads and processes."""
    path.parent.mkdir(parents=True, exist_ok=True)
    with _thread_lock, open(path.with_suffix(".lock"), "w") as handle:
        fcntl.flock(handle, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)


def load(path: Path) -> dict[str, CharacterLook]:
    if not path.is_file():
        return {}
    data = json.loads(path.read_text(encoding="utf-8"))
    return {name: CharacterLook.model_validate(look) for name, look in data.items()}


def save(path: Path, looks: dict[str, CharacterLook]) -> None:
    data = {name: look.model_dump(mode="json") for name, look in looks.items()}
    atomic_write(path, json.dumps(data, ensure_ascii=False, indent=2))
