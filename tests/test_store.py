"""The content-addressed asset store."""

from __future__ import annotations

from pathlib import Path

import pytest

from dramaforge.media.store import AssetStore, FileJournal, content_key
from dramaforge.tools.protocols import Generated


def test_same_request_is_made_once(tmp_path: Path) -> None:
    store = AssetStore(tmp_path)
    made: list[Path] = []

    def make(dest: Path, journal: object) -> Generated:
        made.append(dest)
        dest.write_bytes(b"png")
        return Generated(duration=1.5, cost=0.2)

    first, _ = store.produce("keyframe", "x:y", {"prompt": "a"}, "png", make)
    second, gen = store.produce("keyframe", "x:y", {"prompt": "a"}, "png", make)
    assert len(made) == 1
    assert first.path == second.path and Path(first.path).read_bytes() == b"png"
    assert (first.cached, second.cached) == (False, True)
    assert (first.cost, second.cost) == (0.2, 0.0)
    assert gen.duration == 1.5


def test_key_depends_on_stage_backend_and_inputs() -> None:
    base = content_key("keyframe", "a:b", {"p": 1})
    assert base == content_key("keyframe", "a:b", {"p": 1})
    assert (
        len(
            {
                base,
                content_key("motion", "a:b", {"p": 1}),
                content_key("keyframe", "a:c", {"p": 1}),
                content_key("keyframe", "a:b", {"p": 2}),
            }
        )
        == 4
    )


def test_failed_generation_leaves_nothing(tmp_path: Path) -> None:
    store = AssetStore(tmp_path)

    def boom(dest: Path, journal: object) -> Generated:
        dest.write_bytes(b"half")
        raise RuntimeError("provider died")

    with pytest.raises(RuntimeError):
        store.produce("motion", "x:y", {"a": 1}, "mp4", boom)
    left = [p for p in tmp_path.rglob("*") if p.is_file()]
    assert [p.suffix for p in left] == [".lock"]  # only the (empty) writer's lock stays
    assert left[0].stat().st_size == 0


def test_task_id_recorded_before_a_crash_is_recalled_then_dropped(tmp_path: Path) -> None:
    store = AssetStore(tmp_path)
    seen: list[str | None] = []

    def submit_then_die(dest: Path, journal: FileJournal) -> Generated:
        journal.record("task-123")
        raise KeyboardInterrupt

    def resume(dest: Path, journal: FileJournal) -> Generated:
        seen.append(journal.recall())
        dest.write_bytes(b"clip")
        return Generated()

    with pytest.raises(KeyboardInterrupt):
        store.produce("motion", "dashscope:wan", {"p": 1}, "mp4", submit_then_die)
    store.produce("motion", "dashscope:wan", {"p": 1}, "mp4", resume)
    assert seen == ["task-123"]
    assert not list(tmp_path.rglob("*.task.json"))
