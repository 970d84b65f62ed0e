"""The series bible: character looks fixed once and reused by every episode of a series.

Kept as JSON beside the checkpoints (``<state>/series/<name>.json``). Episodes rendered in
parallel read and extend it under a lock, so two newcomers never get the same slot or voice,
and the first episode to finish fixes each character's reference image for all the others.
Reference images are copied beside the bible (``<state>/series/<name>/``), so they outlive
the episode and the asset cache they came from.
"""

from __future__ import annotations

import fcntl
import hashlib
import json
import shutil
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from dramaforge.agents.consistency import Reference
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


def share_references(path: Path, picked: dict[str, Reference]) -> dict[str, Reference]:
    """The series' reference for each character in ``picked``, fixing the missing ones.

    A character whose reference the bible already holds (and whose file still exists) keeps
    it, whatever this episode picked; otherwise this episode's pick is copied beside the
    bible and recorded. Characters the bible does not know yet are left out of it (the
    bible stage adds them).
    """
    folder = path.with_suffix("")
    shared: dict[str, Reference] = {}
    with locked(path):
        looks = load(path)
        for name, ref in picked.items():
            look = looks.get(name)
            kept = look.reference_image if look else None
            if kept and Path(kept).is_file():
                shared[name] = Reference(path=kept, origin="bible")
                continue
            if look is None or ref.origin == "bible":
                shared[name] = ref
                continue
            source = Path(ref.path)
            digest = hashlib.sha256(source.read_bytes()).hexdigest()[:16]
            dest = folder / f"{digest}{source.suffix}"
            if not dest.is_file():
                folder.mkdir(parents=True, exist_ok=True)
                tmp = dest.with_name(f".{dest.name}.tmp")
                shutil.copyfile(source, tmp)
                tmp.replace(dest)
            looks[name] = look.model_copy(update={"reference_image": str(dest)})
            shared[name] = ref.model_copy(update={"path": str(dest)})
        save(path, looks)
    return shared
