"""Provider slots tied to the provider task, not to a connection, against a real PostgreSQL:
a holder killed mid-call leaves its slot taken (its task still runs at the provider), the
asset's next maker takes that slot over and frees it, a slot nobody adopts lapses after its
lease, a live holder is never robbed, and ``cluster init`` upgrades a version 1 table.

The kill is a real SIGKILL of a process making a keyframe through a node's cluster context
against the fake DashScope; counts are the fake's own.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Callable
from functools import partial
from pathlib import Path
from typing import TypeVar

import pytest
from typer.testing import CliRunner

pytest.importorskip("psycopg")

from dramaforge.cli.app import app
from dramaforge.cluster import pg, slots, worker
from dramaforge.cluster.claims import AssetClaim
from dramaforge.config import Backends, ClusterSettings, DashScopeSettings, Settings
from dramaforge.errors import ConfigError
from dramaforge.tools.protocols import Generated, ImageRequest, TaskJournal
from tests.fakes.dashscope_server import FakeDashScope

ROOT = Path(__file__).resolve().parent.parent
MODEL = "qwen-image"
T = TypeVar("T")


def request(seed: int) -> ImageRequest:
    return ImageRequest(
        prompt=f"a rooftop at dusk, take {seed}", width=360, height=640, seed=seed,
        framing="wide", scene_heading="EXT. ROOFTOP - DUSK",
    )  # fmt: skip


def keyframe(url: str, key: str, dsn: str, folder: str, node: str, seed: int) -> str:
    """One keyframe made as a node's graph makes it: the cluster store's claim around
    ``make``, the context's ``paid`` taking a slot (one for the model) (also in a child)."""
    settings = Settings(
        backends=Backends(image=f"dashscope:{MODEL}"),
        dashscope=DashScopeSettings(
            api_key=key,
            base_url=url,
            timeout=5.0,
            poll_interval=0.02,
            poll_timeout=30.0,
            list_lag=0.5,
            concurrency={MODEL: 1},
            ledger=Path(folder) / f"{node}.ledger",
        ),
        cluster=ClusterSettings(database=dsn, store=str(Path(folder) / "bucket")),
    )
    ctx = worker.context(settings, "slots", "slots", node, Path(folder) / node)
    req = request(seed)

    def make(dest: Path, journal: TaskJournal) -> Generated:
        generate = partial(ctx.image.generate, req, dest, journal)
        return ctx.paid(ctx.image.name, 1, "a keyframe", generate)

    asset, _ = ctx.store.produce("keyframe", ctx.image.name, req, "png", make)
    return asset.path


def hold(dsn: str, model: str, asset: str) -> None:
    """Take a slot as ``asset``'s maker and never give it back (a child killed while holding)."""
    claim = AssetClaim(dsn, asset, "node-dead")
    assert claim.try_acquire()
    with slots.provider_slot(dsn, model, 1, "node-dead", lease=60, claim=claim):
        print("held", flush=True)
        time.sleep(600)


def killed_holding(dsn: str, model: str, asset: str) -> None:
    child = subprocess.Popen(
        [
            sys.executable,
            "-c",
            f"from tests.test_cluster_slots import hold; hold({dsn!r}, {model!r}, {asset!r})",
        ],
        cwd=ROOT,
        stdout=subprocess.PIPE,
        text=True,
    )
    assert child.stdout is not None and child.stdout.readline() == "held\n"
    os.kill(child.pid, signal.SIGKILL)
    child.wait()
    until(lambda: orphans(dsn).get(model) == 1)  # its session ended, its claim with it


def taken(dsn: str) -> dict[str, tuple[int, int]]:
    with pg.connect(dsn) as conn:
        return slots.in_use(conn)


def orphans(dsn: str) -> dict[str, int]:
    with pg.connect(dsn) as conn:
        return slots.orphans(conn)


def until(done: Callable[[], bool], seconds: float = 10.0) -> None:
    deadline = time.monotonic() + seconds
    while not done():
        assert time.monotonic() < deadline, "timed out"
        time.sleep(0.05)


def within(seconds: float, call: Callable[[], T]) -> T:
    """``call()``'s result, which must come within ``seconds`` (it runs on in the background
    otherwise, as a daemon)."""
    done: list[T] = []
    thread = threading.Thread(target=lambda: done.append(call()), daemon=True)
    thread.start()
    thread.join(seconds)
    assert done, f"not done within {seconds} s"
    return done[0]


class Waiter(threading.Thread):
    """A claimant with no asset: notes what it saw the moment it got the slot."""

    def __init__(
        self, dsn: str, model: str, lease: float, seen: Callable[[], str] = lambda: ""
    ) -> None:
        super().__init__(daemon=True)
        self.dsn, self.model, self.lease, self.seen = dsn, model, lease, seen
        self.got: float | None = None
        self.saw = ""

    def run(self) -> None:
        with slots.provider_slot(self.dsn, self.model, 1, "node-waiter", lease=self.lease):
            self.got = time.monotonic()
            self.saw = self.seen()


def test_a_killed_holder_keeps_its_slot_until_the_asset_s_next_maker_adopts_and_frees_it(
    cluster_db: str, tmp_path: Path
) -> None:
    with FakeDashScope() as fake:
        fake.running_polls = 10**6  # the task runs on at the provider after its poller dies
        code = (
            "from tests.test_cluster_slots import keyframe; "
            f"keyframe({fake.url!r}, {fake.api_key!r}, {cluster_db!r}, {str(tmp_path)!r}, "
            "'node-a', 1)"
        )
        child = subprocess.Popen([sys.executable, "-c", code], cwd=ROOT)
        until(lambda: sum(fake.polls.values()) >= 3, 60)  # submitted, recorded, polled
        os.kill(child.pid, signal.SIGKILL)
        child.wait()
        (task,) = fake.tasks.values()
        until(lambda: orphans(cluster_db) == {MODEL: 1})
        assert taken(cluster_db) == {MODEL: (1, 1)}

        waiter = Waiter(cluster_db, MODEL, lease=60, seen=lambda: task.status)
        waiter.start()
        time.sleep(0.5)
        assert waiter.got is None  # the dead node's task still holds the model's one slot

        task.polls_left = 3  # the provider finishes it while the next maker polls
        # Not taken over, its claim would guard the dead row (no lease ends under a live claim)
        made = within(
            30, partial(keyframe, fake.url, fake.api_key, cluster_db, str(tmp_path), "node-b", 1)
        )
        waiter.join(10)

        assert Path(made).is_file()
        assert fake.submits[MODEL] == 1  # the recorded task was polled, not paid again
        assert fake.max_in_flight[MODEL] == 1
        assert waiter.saw == "SUCCEEDED"  # the slot came free only when the task had ended
        assert taken(cluster_db) == {MODEL: (0, 1)}
        assert orphans(cluster_db) == {}


def test_the_next_maker_adopts_even_when_every_slot_is_held_by_the_dead(
    cluster_db: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    killed_holding(cluster_db, "wan-adopt", "asset-one")
    monkeypatch.setenv("DRAMAFORGE_CLUSTER__DATABASE", cluster_db)
    monkeypatch.delenv("RAY_ADDRESS", raising=False)
    shown = CliRunner().invoke(app, ["cluster", "status"])
    assert shown.exit_code == 0, shown.output
    assert "slots wan-adopt: 1 of 1 in use (1 by a dead node's task)" in shown.output
    claim = AssetClaim(cluster_db, "asset-one", "node-next")
    assert claim.try_acquire()

    def adopt() -> tuple[list[tuple[int, str, str]], dict[str, int]]:
        with slots.provider_slot(cluster_db, "wan-adopt", 1, "node-next", lease=60, claim=claim):
            with pg.connect(cluster_db) as conn:
                rows = conn.execute(
                    "SELECT slot, asset, node FROM dramaforge_slots WHERE holder IS NOT NULL"
                ).fetchall()
            return rows, orphans(cluster_db)

    try:
        rows, dead = within(5, adopt)  # at once, with no slot free and the lease far off
    finally:
        claim.release()
    assert rows == [(1, "asset-one", "node-next")]  # the same row, now this node's
    assert dead == {}
    assert taken(cluster_db) == {"wan-adopt": (0, 1)}


def test_a_slot_nobody_adopts_is_free_after_its_lease(cluster_db: str) -> None:
    killed_holding(cluster_db, "wan-lease", "asset-gone")
    started = time.monotonic()
    waiter = Waiter(cluster_db, "wan-lease", lease=2.0)
    waiter.start()
    time.sleep(0.5)
    assert waiter.got is None  # its holder is dead, but its task may still be running
    waiter.join(10)
    assert waiter.got is not None
    assert waiter.got - started >= 1.0  # the lease, less the time the kill itself took
    assert taken(cluster_db) == {"wan-lease": (0, 1)}


def test_a_live_holder_past_the_lease_keeps_its_slot(cluster_db: str) -> None:
    claim = AssetClaim(cluster_db, "asset-slow", "node-slow")
    assert claim.try_acquire()
    try:
        with slots.provider_slot(cluster_db, "wan-live", 1, "node-slow", lease=0.1, claim=claim):
            waiter = Waiter(cluster_db, "wan-live", lease=0.1)
            waiter.start()
            time.sleep(1.0)
            assert waiter.got is None  # the lease is long past, but its claim is held
            assert orphans(cluster_db) == {}
            released = time.monotonic()
    finally:
        claim.release()
    waiter.join(10)
    assert waiter.got is not None and waiter.got >= released


def test_cluster_init_upgrades_a_version_1_slot_table(cluster_db: str) -> None:
    with pg.connect(cluster_db) as conn:
        conn.execute("DROP TABLE dramaforge_slots")
        conn.execute(
            "CREATE TABLE dramaforge_slots (model text NOT NULL, slot integer NOT NULL, "
            "PRIMARY KEY (model, slot))"
        )
        conn.execute("INSERT INTO dramaforge_slots VALUES ('wan-old', 1), ('wan-old', 2)")
        conn.execute("UPDATE dramaforge_schema SET version = 1")
        with pytest.raises(ConfigError, match="run `dramaforge cluster init` once to upgrade"):
            pg.require_init(conn)
    done = pg.init(cluster_db)
    assert "dramaforge tables (upgraded from version 1)" in done
    with pg.connect(cluster_db) as conn:
        pg.require_init(conn)
        assert slots.in_use(conn) == {"wan-old": (0, 2)}
    with slots.provider_slot(cluster_db, "wan-old", 2, "node-new", lease=60) as slot:
        assert slot == 1
        assert taken(cluster_db) == {"wan-old": (1, 2)}
