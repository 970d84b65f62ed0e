"""Content-addressed asset store: a file per (stage, inputs, backend, seed).

An unchanged request is never generated twice; an edited shot changes only its own keys.
Writes go to a temp file beside the target and are renamed, so a crash leaves no half file
under a real key.
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

from dramaforge.schema import Asset
from dramaforge.tools.base import Generated


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

    def produce(
        self,
        stage: str,
        backend: str,
        payload: BaseModel | dict[str, Any],
        ext: str,
        make: Callable[[Path, FileJournal], Generated],
        *,
        seed: int | None = None,
        prompt: str = "",
    ) -> tuple[Asset, Generated]:
        """Return the stored asset for this request; on a miss call ``make(tmp_path, journal)``.

        The journal survives a crash (a paid task id recorded there is polled, not resubmitted,
        on the next try) and is dropped once the asset is stored.
        """
        key = content_key(stage, backend, payload)
        target = self.path(stage, key, ext)
        meta_path = target.with_suffix(".json")
        stored = Asset(
            path=str(target), stage=stage, key=key, backend=backend, seed=seed, prompt=prompt
        )
        if target.exists() and meta_path.exists():
            generated = Generated.model_validate_json(meta_path.read_text())
            return stored.model_copy(update={"cached": True}), generated
        target.parent.mkdir(parents=True, exist_ok=True)
        tmp = target.with_name(f".{target.stem}.{uuid.uuid4().hex[:8]}.tmp.{ext}")
        started = time.perf_counter()
        try:
            journal = FileJournal(target.with_suffix(".task.json"))
            generated = make(tmp, journal)
            os.replace(tmp, target)
        finally:
            tmp.unlink(missing_ok=True)
        atomic_write(meta_path, generated.model_dump_json())
        journal.forget()
        made = {"cost": generated.cost, "seconds": round(time.perf_counter() - started, 3)}
        return stored.model_copy(update=made), generated


class FileJournal:
    """A TaskJournal kept beside the asset it will produce (``<key>.task.json``)."""

    def __init__(self, path: Path) -> None:
        self.path = path

    def recall(self) -> str | None:
        if not self.path.exists():
            return None
        task_id: str | None = json.loads(self.path.read_text(encoding="utf-8")).get("task_id")
        return task_id

    def record(self, task_id: str) -> None:
        atomic_write(self.path, json.dumps({"task_id": task_id, "at": time.time()}))

    def forget(self) -> None:
        self.path.unlink(missing_ok=True)


def atomic_write(path: Path, text: str) -> None:
    """Write text so readers see the old file or the new one, never half of one."""
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.{uuid.uuid4().hex[:8]}.tmp")
    tmp.write_text(text, encoding="utf-8")
    os.replace(tmp, path)
