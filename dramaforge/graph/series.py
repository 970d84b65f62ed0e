"""The series bible: character looks fixed once and reused by every episode of a series.

Kept as JSON beside the checkpoints (``<state>/series/<name>.json``). Episodes rendered in
parallel read and extend it under a lock, so two newcomers never get the same slot or voice,
and the first episode to finish fixes each character's reference image for all the others.
Reference images are copied beside the bible (``<state>/series/<name>/``), so they outlive
the episode and the asset cache they came from.
"""

from __future__ import annotations

import hashlib
import json
import shutil
from contextlib import AbstractContextManager
from pathlib import Path
from typing import Protocol

from dramaforge.agents.consistency import Reference
from dramaforge.media.files import atomic_file, file_lock
from dramaforge.media.store import atomic_write
from dramaforge.schema import CharacterLook


def locked(path: Path) -> AbstractContextManager[None]:
    """Exclusive access to ``path`` across threads and processes."""
    return file_lock(path.with_suffix(".lock"))


def load(path: Path) -> dict[str, CharacterLook]:
    if not path.is_file():
        return {}
    data = json.loads(path.read_text(encoding="utf-8"))
    return {name: CharacterLook.model_validate(look) for name, look in data.items()}


def save(path: Path, looks: dict[str, CharacterLook]) -> None:
    data = {name: look.model_dump(mode="json") for name, look in looks.items()}
    atomic_write(path, json.dumps(data, ensure_ascii=False, indent=2))


class SeriesBook(Protocol):
    """Where a series' bible is kept: a JSON file here (``FileBook``), PostgreSQL rows on a
    cluster (``dramaforge.cluster.bible``). ``path`` is the bible's file; its stem names the
    series, its folder (``path.with_suffix("")``) holds this machine's reference images."""

    def locked(self, path: Path) -> AbstractContextManager[None]: ...

    def load(self, path: Path) -> dict[str, CharacterLook]: ...

    def save(self, path: Path, looks: dict[str, CharacterLook]) -> None: ...


class FileBook:
    """The bible as ``<state>/series/<name>.json``, locked across threads and processes."""

    def locked(self, path: Path) -> AbstractContextManager[None]:
        return locked(path)

    def load(self, path: Path) -> dict[str, CharacterLook]:
        return load(path)

    def save(self, path: Path, looks: dict[str, CharacterLook]) -> None:
        save(path, looks)


def share_references(
    path: Path, picked: dict[str, Reference], book: SeriesBook | None = None
) -> dict[str, Reference]:
    """The series' reference for each character in ``picked``, fixing the missing ones.

    A character whose reference the bible already holds (and whose file still exists) keeps
    it, whatever this episode picked; otherwise this episode's pick is copied beside the
    bible and recorded. Characters the bible does not know yet are left out of it (the
    bible stage adds them).
    """
    book = book or FileBook()
    folder = path.with_suffix("")
    shared: dict[str, Reference] = {}
    with book.locked(path):
        looks = book.load(path)
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
                with atomic_file(dest) as tmp:
                    shutil.copyfile(source, tmp)
            looks[name] = look.model_copy(update={"reference_image": str(dest)})
            shared[name] = ref.model_copy(update={"path": str(dest)})
        book.save(path, looks)
    return shared
