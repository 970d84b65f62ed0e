"""The series bible on a cluster: one PostgreSQL row per character (``dramaforge_bible``),
changed under an advisory lock on the series, so episodes on different machines never give
two newcomers one voice and the first to fix a character's reference fixes it for all.

Reference images go to the shared store (``series/<series>/<file>``); each machine keeps its
copy beside the bible's path, which is where ``load`` points the looks.
"""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator
from contextlib import AbstractContextManager, contextmanager
from pathlib import Path
from typing import Any

from dramaforge.cluster.blobs import Blobs
from dramaforge.cluster.pg import connect, lock_key
from dramaforge.schema import CharacterLook


class PgBook:
    """A ``SeriesBook`` in PostgreSQL; ``path``'s stem names the series."""

    def __init__(self, dsn: str, blobs: Blobs, node: str) -> None:
        self.dsn, self.blobs, self.node = dsn, blobs, node
        self._held = threading.local()

    def locked(self, path: Path) -> AbstractContextManager[None]:
        return self._locked(path.stem)

    @contextmanager
    def _locked(self, series: str) -> Iterator[None]:
        with connect(self.dsn, role=f"dramaforge bible {self.node[:12]}") as conn:
            conn.execute("SELECT pg_advisory_lock(%s)", (lock_key("series", series),))
            try:
                yield
            finally:
                conn.execute("SELECT pg_advisory_unlock(%s)", (lock_key("series", series),))

    def load(self, path: Path) -> dict[str, CharacterLook]:
        with connect(self.dsn, role=f"dramaforge bible {self.node[:12]}") as conn:
            rows = conn.execute(
                "SELECT name, look, reference FROM dramaforge_bible WHERE series = %s",
                (path.stem,),
            ).fetchall()
        looks: dict[str, CharacterLook] = {}
        for name, look, reference in rows:
            found = CharacterLook.model_validate(look)
            if reference:
                local = path.with_suffix("") / Path(reference).name
                if local.is_file() or self.blobs.get(reference, local):
                    found = found.model_copy(update={"reference_image": str(local)})
            looks[str(name)] = found
        return looks

    def save(self, path: Path, looks: dict[str, CharacterLook]) -> None:
        series = path.stem
        rows: list[tuple[str, str, str, Any]] = []
        for name, look in looks.items():
            reference = None
            image = Path(look.reference_image) if look.reference_image else None
            if image is not None and image.is_file():
                reference = f"series/{series}/{image.name}"
                if not self.blobs.exists(reference):
                    self.blobs.put(reference, image)
            data = look.model_dump(mode="json") | {"reference_image": None}
            rows.append((series, name, json.dumps(data, ensure_ascii=False), reference))
        with (
            connect(self.dsn, role=f"dramaforge bible {self.node[:12]}") as conn,
            conn.transaction(),
        ):
            for row in rows:
                conn.execute(
                    "INSERT INTO dramaforge_bible (series, name, look, reference) "
                    "VALUES (%s, %s, %s, %s) ON CONFLICT (series, name) DO UPDATE SET "
                    "look = excluded.look, reference = coalesce(excluded.reference, "
                    "dramaforge_bible.reference)",
                    row,
                )
