"""The content-addressed asset store shared by every node: each node keeps its own copy under
its scratch folder, the bucket (or shared mount) holds the one everybody reads.

A miss is looked up in the bucket first; only then is it made, under the asset's PostgreSQL
claim (``claims.AssetClaim``), with its paid submit journaled in PostgreSQL. The made file is
uploaded before its metadata, so a metadata object in the bucket means the asset is whole.
"""

from __future__ import annotations

import json
import os
import random
import time
import uuid
from collections.abc import Callable
from pathlib import Path
from typing import Any

from pydantic import BaseModel

from dramaforge.cluster.blobs import Blobs
from dramaforge.cluster.claims import AssetClaim, making
from dramaforge.media.files import file_lock
from dramaforge.media.journal import Generated, TaskJournal
from dramaforge.media.store import AssetStore, atomic_write, made_fields
from dramaforge.schema import Asset

BUSY_WAIT = 0.2
"""Seconds between looks at an asset another node is making (doubling up to 2 s)."""


class ClusterStore(AssetStore):
    def __init__(self, root: Path, blobs: Blobs, dsn: str, node: str) -> None:
        super().__init__(root)
        self.blobs = blobs
        self.dsn = dsn
        self.node = node

    def blob_key(self, path: Path) -> str:
        return "assets/" + path.relative_to(self.root).as_posix()

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
        """The stored asset: this node's copy, the bucket's, or made here under the claim."""
        stored, target = self.placed(stage, backend, payload, ext, seed, prompt)
        key, meta_path = stored.key, target.with_suffix(".json")
        wait = BUSY_WAIT
        while True:
            found = self._local(target, meta_path) or self._fetch(target, meta_path)
            if found is not None:
                generated, node = found
                return stored.model_copy(update={"cached": True, "node": node}), generated
            with file_lock(target.with_suffix(".lock")):  # this node's threads, one at a time
                claim = AssetClaim(self.dsn, key, self.node)
                try:
                    if claim.try_acquire():
                        return self._make(stored, target, meta_path, make, claim)
                finally:
                    claim.release()
            time.sleep(wait * (0.5 + random.random()))  # a live owner on another node
            wait = min(wait * 2, 2.0)

    def _make(
        self,
        stored: Asset,
        target: Path,
        meta_path: Path,
        make: Callable[[Path, TaskJournal], Generated],
        claim: AssetClaim,
    ) -> tuple[Asset, Generated]:
        found = self._fetch(target, meta_path)  # made by whoever held the claim before us
        if found is not None:
            return stored.model_copy(update={"cached": True, "node": found[1]}), found[0]
        target.parent.mkdir(parents=True, exist_ok=True)
        tmp = target.with_name(f".{target.stem}.{uuid.uuid4().hex[:8]}.tmp{target.suffix}")
        journal = claim.journal()
        started = time.perf_counter()
        token = making.set(claim)  # its paid call's slot is this asset's
        try:
            generated = make(tmp, journal)
            os.replace(tmp, target)
        finally:
            making.reset(token)
            tmp.unlink(missing_ok=True)
        node = generated.node or self.node  # a GPU actor's node made it, else this one
        atomic_write(meta_path, _meta(generated, node))
        self.blobs.put(self.blob_key(target), target)
        self.blobs.put(self.blob_key(meta_path), meta_path)  # last: the asset is whole
        journal.finish()
        made = made_fields(generated, started) | {"node": node}
        return stored.model_copy(update=made), generated

    def _local(self, target: Path, meta_path: Path) -> tuple[Generated, str | None] | None:
        if target.exists() and meta_path.exists():
            return _read_meta(meta_path)
        return None

    def _fetch(self, target: Path, meta_path: Path) -> tuple[Generated, str | None] | None:
        """The bucket's copy, brought here (metadata first: it says the asset is whole)."""
        if not self.blobs.get(self.blob_key(meta_path), meta_path):
            return None
        if not self.blobs.get(self.blob_key(target), target):
            meta_path.unlink(missing_ok=True)
            return None
        return _read_meta(meta_path)


def _meta(generated: Generated, node: str) -> str:
    return json.dumps(generated.model_dump(mode="json") | {"node": node})


def _read_meta(path: Path) -> tuple[Generated, str | None]:
    data = json.loads(path.read_text(encoding="utf-8"))
    node = data.pop("node", None)
    return Generated.model_validate(data), node
