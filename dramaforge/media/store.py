"""Content-addressed asset store: a file per (stage, inputs, backend, seed).

An unchanged request is never generated twice; an edited shot changes only its own keys.
Writes go to a temp file beside the target and are renamed, so a crash leaves no half file
under a real key. One writer per asset: a miss is made under an exclusive lock on
``<key>.lock`` beside the asset (``flock``: threads and processes alike), so two renders of
one script, or two shots sharing a line, pay for the asset once and the other waits and reads
it from the store.
"""

from __future__ import annotations

import hashlib
import json
import os
import time
import uuid
from collections.abc import Callable
from pathlib import Path
from typing import Any

from pydantic import BaseModel

from dramaforge.media.files import append_line, file_lock
from dramaforge.media.journal import Generated, JournalEntry, SubmitIntent, TaskJournal
from dramaforge.media.memo import remembered
from dramaforge.schema import Asset

JOURNAL_SUFFIX = ".task.json"
LEDGER = "tasks.ledger"


def file_digest(path: Path) -> str:
    """A file by its content, for store keys that must not depend on where a file lives.
    Read in chunks: an episode's MP4 is never held in memory to be hashed."""
    with path.open("rb") as f:
        return hashlib.file_digest(f, "sha256").hexdigest()


def content_digest(path: Path) -> str:
    """``file_digest`` of a file that is not rewritten (a stored asset, a clip, a bed),
    remembered per unchanged file: keys built on every render do not read it again."""
    return remembered("sha256", path, lambda: file_digest(path))


def content_key(stage: str, backend: str, payload: BaseModel | dict[str, Any]) -> str:
    """Stable hash of what determines an asset's content."""
    data = payload.model_dump(mode="json") if isinstance(payload, BaseModel) else payload
    blob = json.dumps([stage, backend, data], sort_keys=True, ensure_ascii=False)
    return hashlib.sha256(blob.encode()).hexdigest()[:24]


class AssetStore:
    def __init__(self, root: Path) -> None:
        self.root = root

    def path(self, stage: str, key: str, ext: str) -> Path:
        return self.root / stage / key[:2] / f"{key}.{ext}"

    def placed(
        self,
        stage: str,
        backend: str,
        payload: BaseModel | dict[str, Any],
        ext: str,
        seed: int | None,
        prompt: str,
    ) -> tuple[Asset, Path]:
        """The request's asset as stored (before it is made or found) and its file's path."""
        key = content_key(stage, backend, payload)
        target = self.path(stage, key, ext)
        stored = Asset(
            path=str(target), stage=stage, key=key, backend=backend, seed=seed, prompt=prompt
        )
        return stored, target

    def produce(
        self,
        stage: str,
        backend: str,
        payload: BaseModel | dict[str, Any],
        ext: str,
        make: Callable[[Path, TaskJournal], Generated],
        *,
        seed: int | None = None,
        prompt: str = "",
    ) -> tuple[Asset, Generated]:
        """Return the stored asset for this request; on a miss call ``make(tmp_path, journal)``.

        The journal survives a crash (a paid task recorded there is polled, not resubmitted,
        on the next try) and is dropped once the asset is stored.
        """
        stored, target = self.placed(stage, backend, payload, ext, seed, prompt)
        key, meta_path = stored.key, target.with_suffix(".json")
        cached = _cached(target, meta_path)
        if cached is not None:
            return stored.model_copy(update={"cached": True}), cached
        with file_lock(target.with_suffix(".lock")):  # one writer per asset
            cached = _cached(target, meta_path)  # made by whoever held the lock before us
            if cached is not None:
                return stored.model_copy(update={"cached": True}), cached
            _sweep(target.parent, key)
            tmp = target.with_name(f".{target.stem}.{uuid.uuid4().hex[:8]}.tmp.{ext}")
            started = time.perf_counter()
            try:
                journal = FileJournal(target.with_suffix(JOURNAL_SUFFIX), self.root)
                generated = make(tmp, journal)
                os.replace(tmp, target)
            finally:
                tmp.unlink(missing_ok=True)
            atomic_write(meta_path, generated.model_dump_json())
            journal.forget()
        return stored.model_copy(update=made_fields(generated, started)), generated


def made_fields(generated: Generated, started: float) -> dict[str, Any]:
    """What an asset made now records: its cost, the seconds since ``started``, its note, and
    its GPU time where a GPU made it."""
    made: dict[str, Any] = {
        "cost": generated.cost,
        "seconds": round(time.perf_counter() - started, 3),
        "note": generated.note,
    }
    if generated.gpu_seconds is not None:
        made["gpu_seconds"] = round(generated.gpu_seconds, 3)
    return made


def _cached(target: Path, meta_path: Path) -> Generated | None:
    if target.exists() and meta_path.exists():
        return Generated.model_validate_json(meta_path.read_text())
    return None


def _sweep(folder: Path, key: str) -> None:
    """Remove the temp files of a writer killed while making this asset (its ``.part``
    download, ``.tmp`` output, half-written journal): under the asset's lock no live writer
    can own one, and nothing else would ever remove them."""
    for stale in folder.glob(f".*{key}.*"):  # temp names nest: ..<key>.….part
        stale.unlink(missing_ok=True)


class FileJournal:
    """A TaskJournal kept beside the asset it will produce (``<key>.task.json``).

    Every task id recorded is also appended to the store's ledger (``tasks.ledger`` at the
    store root), which outlives the journal: a finished asset's task is never mistaken for a
    sibling's lost submit, even after its journal was dropped.
    """

    def __init__(self, path: Path, root: Path | None = None) -> None:
        self.path = path
        self.root = root if root is not None else path.parent.parent.parent

    def __repr__(self) -> str:
        return f"FileJournal({str(self.path)!r})"

    @property
    def ledger(self) -> Path:
        return self.root / LEDGER

    def read(self) -> JournalEntry:
        if not self.path.exists():
            return JournalEntry()
        return JournalEntry.model_validate_json(self.path.read_text(encoding="utf-8"))

    def recall(self) -> str | None:
        """The recorded task id, if any."""
        return self.read().task_id

    def intend(self, intent: SubmitIntent) -> None:
        atomic_write(self.path, JournalEntry(intent=intent).model_dump_json(), durable=True)

    def record(self, task_id: str) -> None:
        """Journal first, ledger second; recording the same id again is harmless.

        A crash between the two leaves the id in this journal, where ``claimed`` finds it too;
        the transport records a resumed id again, which puts it in the ledger.
        """
        entry = self.read().model_copy(update={"task_id": task_id})
        atomic_write(self.path, entry.model_dump_json(), durable=True)
        append_line(self.ledger, task_id)

    def record_result(self, url: str) -> None:
        atomic_write(self.path, JournalEntry(result=url).model_dump_json(), durable=True)

    def forget(self) -> None:
        self.path.unlink(missing_ok=True)

    def claimed(self) -> set[str]:
        ids: set[str] = set()
        if self.ledger.exists():
            ids.update(self.ledger.read_text(encoding="utf-8").split())
        for entry in self._others():
            if entry.task_id:
                ids.add(entry.task_id)
        return ids

    def rivals(self) -> list[SubmitIntent]:
        return [e.intent for e in self._others() if e.intent is not None and e.task_id is None]

    def _others(self) -> list[JournalEntry]:
        entries = []
        for path in self.root.glob(f"*/*/*{JOURNAL_SUFFIX}"):
            if path == self.path:
                continue
            try:
                entries.append(JournalEntry.model_validate_json(path.read_text(encoding="utf-8")))
            except (OSError, ValueError):  # removed meanwhile, or an older format
                continue
        return entries


class MemoryJournal:
    """A TaskJournal for a call made without a store: it lives as long as the call."""

    def __init__(self) -> None:
        self.entry = JournalEntry()

    def read(self) -> JournalEntry:
        return self.entry

    def intend(self, intent: SubmitIntent) -> None:
        self.entry = JournalEntry(intent=intent)

    def record(self, task_id: str) -> None:
        self.entry = self.entry.model_copy(update={"task_id": task_id})

    def record_result(self, url: str) -> None:
        self.entry = JournalEntry(result=url)

    def forget(self) -> None:
        self.entry = JournalEntry()

    def claimed(self) -> set[str]:
        return set()

    def rivals(self) -> list[SubmitIntent]:
        return []


def atomic_write(path: Path, text: str, *, durable: bool = False) -> None:
    """Write text so readers see the old file or the new one, never half of one.

    ``durable`` also flushes the file and its directory to disk before returning, for records
    that must survive a power cut (a paid task's journal), not only a killed process.
    """
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.{uuid.uuid4().hex[:8]}.tmp")
    try:
        with tmp.open("w", encoding="utf-8") as fh:
            fh.write(text)
            if durable:
                fh.flush()
                os.fsync(fh.fileno())
        os.replace(tmp, path)
    finally:
        tmp.unlink(missing_ok=True)  # a full disk or a refused write leaves no temp file
    if durable:
        fd = os.open(path.parent, os.O_RDONLY)
        try:
            os.fsync(fd)
        finally:
            os.close(fd)
