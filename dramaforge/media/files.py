"""Files that rivals and crashes cannot spoil: a lock shared by threads and processes, an
appended line that reaches the disk, an output renamed into place only once it is whole.

The asset store, the task ledger, the series bible and the episode run lock all lock through
``file_lock``; the local backends write their outputs through ``atomic_file``; an episode's
caches (segments, conformed clips, the finished sound) are swept by ``keep_only``.
"""

from __future__ import annotations

import fcntl
import os
import shutil
import uuid
import wave
from collections.abc import Callable, Iterable, Iterator
from contextlib import contextmanager
from pathlib import Path


@contextmanager
def file_lock(
    path: Path, *, shared: bool = False, busy: Callable[[], None] | None = None
) -> Iterator[None]:
    """Hold the lock file ``path`` (exclusively, or ``shared`` with other sharers) across
    threads and processes.

    ``flock`` locks belong to an open file description, so two threads of one process that
    open the lock file each wait for the other as two processes do, and a killed holder's lock
    goes with its process. The lock file stays (an unlinked lock file could be locked by two
    holders at once). ``busy`` is called once before waiting when someone else holds it.
    """
    path.parent.mkdir(parents=True, exist_ok=True)
    fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o644)
    mode = fcntl.LOCK_SH if shared else fcntl.LOCK_EX
    try:
        try:
            fcntl.flock(fd, mode | fcntl.LOCK_NB)
        except BlockingIOError:
            if busy is not None:
                busy()
            fcntl.flock(fd, mode)
        yield
    finally:
        os.close(fd)  # releases the lock


def append_line(path: Path, line: str, *, private: bool = False) -> None:
    """Append one line and flush it to disk (O_APPEND: concurrent writers never interleave).

    ``private``: a new file is readable by its owner only (task ids of a paid account)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o600 if private else 0o644)
    try:
        os.write(fd, f"{line}\n".encode())
        os.fsync(fd)
    finally:
        os.close(fd)


@contextmanager
def atomic_file(dest: Path) -> Iterator[Path]:
    """A temp path beside ``dest`` to write to; renamed onto ``dest`` when the block ends
    without error, removed when it fails, so readers never see half a file."""
    dest.parent.mkdir(parents=True, exist_ok=True)
    tmp = dest.with_name(f".{dest.name}.{uuid.uuid4().hex[:8]}.tmp")
    try:
        yield tmp
        os.replace(tmp, dest)
    finally:
        tmp.unlink(missing_ok=True)


def keep_only(folder: Path, used: Iterable[Path]) -> None:
    """Remove from ``folder`` every file not ``used`` (what the episode no longer needs) and
    every subfolder (what a killed run left: one render of an episode runs at a time, so any
    folder there is a dead one's)."""
    if not folder.is_dir():
        return
    keep = {p.resolve() for p in used}
    for path in folder.iterdir():
        if path.is_dir():
            shutil.rmtree(path, ignore_errors=True)
        elif path.resolve() not in keep:
            path.unlink(missing_ok=True)


def write_wav(dest: Path, frames: bytes, *, channels: int, rate: int) -> None:
    """16-bit PCM ``frames`` as a WAV file at ``dest``, written whole or not at all."""
    with atomic_file(dest) as tmp, wave.open(str(tmp), "wb") as out:
        out.setnchannels(channels)
        out.setsampwidth(2)
        out.setframerate(rate)
        out.writeframes(frames)
