"""A submit whose reply never reached the journal is found in the task list, never paid twice.

Counts are the fake DashScope's own: tasks created (``submits``), task-list reads (``lists``).
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
import pytest

from dramaforge.config import ProviderSettings
from dramaforge.errors import ProviderError
from dramaforge.media.store import (
    LEDGER,
    AssetStore,
    FileJournal,
    MemoryJournal,
    content_key,
)
from dramaforge.schema import Asset
from dramaforge.tools.dashscope import reconcile
from dramaforge.tools.dashscope.image import DashScopeImage
from dramaforge.tools.dashscope.transport import Transport
from dramaforge.tools.protocols import Generated, ImageRequest, JournalEntry, SubmitIntent
from tests.dashscope.test_paid_once import assert_png
from tests.fakes.dashscope_server import FakeDashScope, Fault
from tests.helpers import ROOT

BACKEND = "dashscope:qwen-image"


def request(seed: int = 7) -> ImageRequest:
    return ImageRequest(
        prompt=f"a lantern-lit alley at night, take {seed}", width=360, height=640, seed=seed,
        framing="wide", scene_heading="EXT. ALLEY - NIGHT",
    )  # fmt: skip


def backend(url: str, key: str) -> DashScopeImage:
    settings = ProviderSettings(
        api_key=key, base_url=url, timeout=5.0, max_retries=2, poll_interval=0.01
    )
    return DashScopeImage("qwen-image", Transport(settings))


def keyframe(url: str, key: str, store_root: str, seed: int = 7) -> Asset:
    """One keyframe through the asset store, as the graph makes it (also run in a child)."""
    image, req = backend(url, key), request(seed)

    def make(dest: Path, journal: FileJournal) -> Generated:
        return image.generate(req, dest, journal)

    asset, _ = AssetStore(Path(store_root)).produce("keyframe", BACKEND, req, "png", make)
    return asset


def journal_of(store: Path, seed: int = 7) -> FileJournal:
    """The journal the store gives the keyframe for ``request(seed)``."""
    key = content_key("keyframe", BACKEND, request(seed))
    target = AssetStore(store).path("keyframe", key, "png")
    return FileJournal(target.with_suffix(".task.json"), store)


def body(dashscope_server: FakeDashScope, seed: int = 7) -> dict[str, Any]:
    return backend(dashscope_server.url, dashscope_server.api_key).body(request(seed))


def intend(journal: FileJournal, body: dict[str, Any], sent_at: float | None = None) -> None:
    sent = time.time() if sent_at is None else sent_at
    digest = reconcile.body_digest(body)
    journal.intend(SubmitIntent(model=str(body["model"]), body_sha256=digest, sent_at=sent))


# -- the window between the provider accepting a submit and the id reaching the journal ---


def test_killed_after_the_server_accepted_resumes_without_paying_twice(
    dashscope_server: FakeDashScope, tmp_path: Path
) -> None:
    """SIGKILL while the submit's reply is in flight: the task exists, its id is nowhere."""
    dashscope_server.fault("submit", Fault("hold"))
    code = (
        "import sys; from tests.dashscope.test_reconcile import keyframe; "
        "keyframe(sys.argv[1], sys.argv[2], sys.argv[3])"
    )
    args = [
        sys.executable,
        "-c",
        code,
        dashscope_server.url,
        dashscope_server.api_key,
        str(tmp_path),
    ]
    child = subprocess.Popen(args, cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
    deadline = time.monotonic() + 60
    while dashscope_server.submits["qwen-image"] < 1 and time.monotonic() < deadline:
        assert child.poll() is None, child.communicate()[0]
        time.sleep(0.02)
    assert dashscope_server.submits["qwen-image"] == 1  # accepted: from here on it is paid for
    os.kill(child.pid, signal.SIGKILL)
    child.wait(timeout=10)
    dashscope_server.release()

    journal = journal_of(tmp_path)
    entry = journal.read()
    assert entry.task_id is None and entry.intent is not None  # only the intent survived
    assert entry.intent.body_sha256 == reconcile.body_digest(body(dashscope_server))

    asset = keyframe(dashscope_server.url, dashscope_server.api_key, str(tmp_path))
    (task_id,) = dashscope_server.tasks
    assert dashscope_server.submits["qwen-image"] == 1  # the resumed run paid nothing more
    assert dashscope_server.lists == 1 and dashscope_server.polls[task_id] >= 1
    assert_png(asset)
    assert not journal.path.exists()
    assert (tmp_path / LEDGER).read_text().split() == [task_id]


def test_reply_read_but_not_recorded_is_adopted(
    dashscope_server: FakeDashScope, tmp_path: Path
) -> None:
    """Death right after the reply arrived, before ``record``: resumed in the same process."""

    class Dying(FileJournal):
        def record(self, task_id: str) -> None:
            raise KeyboardInterrupt  # the process is gone before the id is written

    store = AssetStore(tmp_path)
    image, req = backend(dashscope_server.url, dashscope_server.api_key), request()
    with pytest.raises(KeyboardInterrupt):
        store.produce(
            "keyframe", BACKEND, req, "png",
            lambda dest, j: image.generate(req, dest, Dying(j.path, j.root)),
        )  # fmt: skip
    assert dashscope_server.submits["qwen-image"] == 1 and dashscope_server.polls == {}
    asset = keyframe(dashscope_server.url, dashscope_server.api_key, str(tmp_path))
    assert dashscope_server.submits["qwen-image"] == 1
    assert_png(asset)


def test_finished_siblings_are_not_mistaken_for_the_lost_task(
    dashscope_server: FakeDashScope, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Shot 1 finished (its journal is gone); shot 2's submit reached the server, reply lost;
    the render resumes in a new process, which only has the store's ledger to go by."""
    first = keyframe(dashscope_server.url, dashscope_server.api_key, str(tmp_path), seed=1)
    assert not list(tmp_path.rglob("*.task.json"))
    monkeypatch.setattr(reconcile, "_CLAIMED", set())  # a new process
    journal = journal_of(tmp_path, seed=2)
    intend(journal, body(dashscope_server, 2))
    lost = dashscope_server.create_task("image", body(dashscope_server, 2), None)

    second = keyframe(dashscope_server.url, dashscope_server.api_key, str(tmp_path), seed=2)
    assert dashscope_server.submits["qwen-image"] == 2  # shot 1's and the lost one, nothing more
    assert dashscope_server.polls[lost.task_id] >= 1
    assert (tmp_path / LEDGER).read_text().split()[-1] == lost.task_id
    assert first.path != second.path
    assert_png(second)


def test_no_task_in_the_list_means_submit_once(
    dashscope_server: FakeDashScope, tmp_path: Path
) -> None:
    """The intent was written but the request never reached DashScope (a run killed a while
    ago: the list has surely caught up since)."""
    intend(journal_of(tmp_path), body(dashscope_server), sent_at=time.time() - 30)
    asset = keyframe(dashscope_server.url, dashscope_server.api_key, str(tmp_path))
    assert dashscope_server.lists == 1 and dashscope_server.submits["qwen-image"] == 1
    assert_png(asset)


def test_two_possible_tasks_stop_without_submitting(
    dashscope_server: FakeDashScope, tmp_path: Path
) -> None:
    """Another client of the account made the same request meanwhile: no guessing."""
    journal = journal_of(tmp_path)
    intend(journal, body(dashscope_server), sent_at=time.time() - 30)
    dashscope_server.create_task("image", body(dashscope_server), None)
    dashscope_server.create_task("image", body(dashscope_server), None)
    with pytest.raises(ProviderError, match="2 unrecorded") as err:
        keyframe(dashscope_server.url, dashscope_server.api_key, str(tmp_path))
    assert not err.value.retryable
    assert dashscope_server.submits["qwen-image"] == 2 and dashscope_server.bodies == []
    assert journal.read().intent is not None  # kept for the user to decide


def test_a_rival_lost_submit_makes_one_candidate_ambiguous(
    dashscope_server: FakeDashScope, tmp_path: Path
) -> None:
    """The one candidate failed, so its detail shows no prompt, and a sibling's lost submit
    could own it as well."""
    intend(journal_of(tmp_path, seed=1), body(dashscope_server, 1), sent_at=time.time() - 30)
    intend(journal_of(tmp_path, seed=2), body(dashscope_server, 2), sent_at=time.time() - 30)
    dashscope_server.create_task("image", body(dashscope_server, 2), Fault("fail"))
    with pytest.raises(ProviderError, match="1 other lost submit"):
        keyframe(dashscope_server.url, dashscope_server.api_key, str(tmp_path), seed=1)
    assert dashscope_server.bodies == []


def test_old_tasks_outside_the_window_are_ignored(
    dashscope_server: FakeDashScope, tmp_path: Path
) -> None:
    old = dashscope_server.create_task("image", body(dashscope_server), None)
    old.created -= 3600  # an hour before this intent was sent
    intend(journal_of(tmp_path), body(dashscope_server), sent_at=time.time() - 30)
    keyframe(dashscope_server.url, dashscope_server.api_key, str(tmp_path))
    assert dashscope_server.submits["qwen-image"] == 2 and dashscope_server.polls[old.task_id] == 0


def test_lost_reply_with_no_task_yet_is_looked_up_again_in_the_same_run(
    dashscope_server: FakeDashScope, tmp_path: Path
) -> None:
    """The list may lag: it is read again with backoff before anything else happens."""
    dashscope_server.fault("submit", Fault("drop"))
    dashscope_server.fault("list", Fault("lag"))  # the first read does not show the new task yet
    asset = keyframe(dashscope_server.url, dashscope_server.api_key, str(tmp_path))
    assert dashscope_server.submits["qwen-image"] == 1  # the dropped submit's task was adopted
    assert dashscope_server.lists == 2 and not journal_of(tmp_path).path.exists()
    assert_png(asset)


def test_intent_is_stamped_again_after_a_throttled_attempt(
    dashscope_server: FakeDashScope, tmp_path: Path
) -> None:
    """A 429's wait moves the send time; the window looked up must follow it."""

    class Noting(MemoryJournal):
        def __init__(self) -> None:
            super().__init__()
            self.intents: list[SubmitIntent] = []

        def intend(self, intent: SubmitIntent) -> None:
            self.intents.append(intent)
            super().intend(intent)

    limited = Fault("status", status=429, code="Throttling.RateQuota", retry_after=1)
    dashscope_server.fault("submit", limited, Fault("drop"))
    journal = Noting()
    backend(dashscope_server.url, dashscope_server.api_key).generate(
        request(), tmp_path / "a.png", journal
    )
    first, second = journal.intents
    assert second.sent_at - first.sent_at >= 1.0
    assert dashscope_server.submits["qwen-image"] == 1 and dashscope_server.lists == 1


# -- the task list itself ---------------------------------------------------------------------


def test_task_list_speaks_the_documented_shape(dashscope_server: FakeDashScope) -> None:
    for seed in range(3):
        dashscope_server.create_task("image", body(dashscope_server, seed), None)
    headers = {"Authorization": f"Bearer {dashscope_server.api_key}"}
    now = datetime.now(UTC) + timedelta(hours=8)
    params = {
        "model_name": "qwen-image",
        "start_time": (now - timedelta(hours=1)).strftime("%Y%m%d%H%M%S"),
        "end_time": (now + timedelta(minutes=1)).strftime("%Y%m%d%H%M%S"),
        "page_no": 2,
        "page_size": 2,
    }
    reply = httpx.get(f"{dashscope_server.url}/api/v1/tasks", params=params, headers=headers).json()
    assert {"request_id", "data", "total", "total_page", "page_no", "page_size"} <= set(reply)
    assert (reply["total"], reply["total_page"], reply["page_no"], len(reply["data"])) == (
        3, 2, 2, 1,
    )  # fmt: skip
    item = reply["data"][0]
    assert {"task_id", "model_name", "status", "gmt_create", "request_id", "region"} <= set(item)
    assert isinstance(item["gmt_create"], int) and item["model_name"] == "qwen-image"
    too_long = params | {"start_time": (now - timedelta(hours=25)).strftime("%Y%m%d%H%M%S")}
    refused = httpx.get(f"{dashscope_server.url}/api/v1/tasks", params=too_long, headers=headers)
    assert refused.status_code == 400 and refused.json()["code"] == "InvalidParameter"


def test_query_window_holds_the_send_time_in_either_zone() -> None:
    sent = datetime(2025, 3, 1, 12, 0, 0, tzinfo=UTC)
    intent = SubmitIntent(model="m", body_sha256="x", sent_at=sent.timestamp())
    params = reconcile.query(intent, timeout=60)

    def read(value: str, zone: timedelta) -> datetime:
        return datetime.strptime(value, "%Y%m%d%H%M%S").replace(tzinfo=UTC) - zone

    for zone in (timedelta(0), timedelta(hours=8)):
        start, end = read(params["start_time"], zone), read(params["end_time"], zone)
        assert start <= sent - timedelta(seconds=reconcile.SLACK)
        assert end >= sent + timedelta(seconds=60 + reconcile.SLACK)
        assert end - start <= timedelta(hours=24)


def test_journal_file_survives_in_the_old_format(tmp_path: Path) -> None:
    """Journals written before intents existed (``{"task_id", "at"}``) still read."""
    path = tmp_path / "keyframe" / "ab" / "abc.task.json"
    path.parent.mkdir(parents=True)
    path.write_text(json.dumps({"task_id": "t-1", "at": 1.0}))
    assert FileJournal(path, tmp_path).read() == JournalEntry(task_id="t-1")
