"""Measurements are remembered while a file is unchanged, and taken afresh once it changes."""

from __future__ import annotations

import os
from pathlib import Path

from dramaforge.media.memo import remembered


def test_remembered_until_the_file_changes(tmp_path: Path) -> None:
    f = tmp_path / "a.bin"
    f.write_bytes(b"one")
    calls: list[int] = []

    def measure() -> int:
        calls.append(1)
        return len(f.read_bytes())

    assert remembered("len", f, measure) == 3
    assert remembered("len", f, measure) == 3 and len(calls) == 1
    assert remembered("len", f, measure, "other args") == 3 and len(calls) == 2
    f.write_bytes(b"three")
    assert remembered("len", f, measure) == 5 and len(calls) == 3
    st = f.stat()
    f.write_bytes(b"THREE")  # same size: the modification time tells
    os.utime(f, ns=(st.st_atime_ns, st.st_mtime_ns + 1000))
    assert remembered("len", f, measure) == 5 and len(calls) == 4
    assert remembered("len", tmp_path / "gone", lambda: -1) == -1
