"""A series on a local three-node Ray cluster, state in a real PostgreSQL 15, assets in a real
S3 server (SeaweedFS), paid work at the fake DashScope; the driver is the real CLI
(``dramaforge batch --cluster``) in its own process, so it can be killed like a user's.

What is asserted is what the servers saw: every submit body the fake received (0 sent
twice), the most tasks it had in flight per model, the episodes' MP4s, the nodes the
manifests name, and the advisory locks PostgreSQL still holds at the end.
"""

from __future__ import annotations

import json
import os
import random
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

pytest.importorskip("ray")
pytest.importorskip("psycopg")
pytest.importorskip("boto3")

from dramaforge.cluster import pg, slots
from dramaforge.media.probe import probe
from tests.fakes.dashscope_server import FakeDashScope
from tests.fixtures_cluster import LocalCluster, S3Server
from tests.helpers import write_series

pytestmark = pytest.mark.slow

ROOT = Path(__file__).resolve().parent.parent
LIMITS = {"qwen-image": 2, "wan2.2-i2v-flash": 2, "qwen-tts": 2}


@pytest.fixture
def db(cluster_db: str) -> str:
    return cluster_db


@pytest.fixture
def fake() -> Iterator[FakeDashScope]:
    with FakeDashScope() as server:
        server.running_polls = 2
        yield server


@pytest.fixture
def env(
    fake: FakeDashScope, ray_cluster: LocalCluster, db: str, s3_server: S3Server, tmp_path: Path
) -> dict[str, str]:
    """The driver's environment: the session's Ray cluster and bucket (under this test's own
    prefix), this test's database and fake DashScope, small 12 fps renders."""
    return {
        **os.environ,
        "DASHSCOPE_API_KEY": fake.api_key,
        "DASHSCOPE_HTTP_BASE_URL": fake.url,
        "DRAMAFORGE_DASHSCOPE__POLL_INTERVAL": "0.05",
        "DRAMAFORGE_DASHSCOPE__TIMEOUT": "10",
        "DRAMAFORGE_DASHSCOPE__POLL_TIMEOUT": "60",  # a dead node's slot lapses in 100 s
        "DRAMAFORGE_DASHSCOPE__LIST_LAG": "1",
        "DRAMAFORGE_DASHSCOPE__LEDGER": str(tmp_path / "tasks.ledger"),
        "DRAMAFORGE_DASHSCOPE__CONCURRENCY": json.dumps(LIMITS),
        "DRAMAFORGE_BACKENDS__IMAGE": "dashscope:qwen-image",
        "DRAMAFORGE_BACKENDS__VIDEO": "dashscope:wan2.2-i2v-flash",
        "DRAMAFORGE_BACKENDS__SPEECH": "dashscope:qwen-tts",
        "DRAMAFORGE_RENDER__RESOLUTION": "360p",
        "DRAMAFORGE_RENDER__FPS": "12",
        "DRAMAFORGE_RENDER__MAX_TAKES": "1",
        "DRAMAFORGE_CLUSTER__ADDRESS": ray_cluster.address,
        "DRAMAFORGE_CLUSTER__DATABASE": db,
        "DRAMAFORGE_CLUSTER__STORE": f"s3://{s3_server.bucket}/{tmp_path.name}",
        "DRAMAFORGE_CLUSTER__S3_ENDPOINT": s3_server.endpoint,
        "DRAMAFORGE_CLUSTER__S3_ACCESS_KEY": s3_server.access_key,
        "DRAMAFORGE_CLUSTER__S3_SECRET_KEY": s3_server.secret_key,
        "DRAMAFORGE_CLUSTER__SCRATCH": str(tmp_path / "nodes"),
        "RAY_ADDRESS": "",
    }


def start_driver(folder: Path, out: Path, env: dict[str, str]) -> subprocess.Popen[str]:
    cmd = [sys.executable, "-m", "dramaforge", "batch", str(folder), "--cluster", "--out", str(out)]
    return subprocess.Popen(
        cmd,
        env=env,
        cwd=out.parent,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        start_new_session=True,
    )


def finish(driver: subprocess.Popen[str], timeout: float = 420) -> str:
    _out, err = driver.communicate(timeout=timeout)
    assert driver.returncode == 0, err[-3000:]
    assert "Traceback" not in err, err[-3000:]
    return err


def episode_rows(dsn: str, folder: Path) -> list[tuple[str, str, str, int]]:
    with pg.connect(dsn) as conn:
        rows = conn.execute(
            "SELECT e.episode, e.status, e.node, e.attempts FROM dramaforge_episodes e "
            "JOIN dramaforge_batches b ON b.id = e.batch WHERE b.series = %s ORDER BY episode",
            (folder.name,),
        ).fetchall()
    return [(str(a), str(b), str(c), int(d)) for a, b, c, d in rows]


def advisory_locks(dsn: str) -> int:
    with pg.connect(dsn) as conn:
        row = conn.execute("SELECT count(*) FROM pg_locks WHERE locktype = 'advisory'").fetchone()
    return int(row[0]) if row else -1


def slots_taken(dsn: str) -> dict[str, int]:
    """Provider slots still taken per model (by a live call or a dead node's task)."""
    with pg.connect(dsn) as conn:
        return {m: held for m, (held, _) in slots.in_use(conn).items() if held}


def assert_paid_once(fake: FakeDashScope, dsn: str) -> None:
    """Every task the fake created is recorded by exactly one asset, and no asset has two:
    nothing was paid twice and no paid task was lost. (Two different assets may send equal
    bodies: the fake draws the same picture for different prompts.)"""
    made = set(fake.tasks)
    assert made, "nothing was submitted"
    with pg.connect(dsn) as conn:
        rows = conn.execute(
            "SELECT task_id, asset FROM dramaforge_tasks WHERE task_id = ANY(%s)", (list(made),)
        ).fetchall()
    assert {r[0] for r in rows} == made, "a task was paid for and never recorded"
    assets = [r[1] for r in rows]
    twice = {a for a in assets if assets.count(a) > 1}
    assert not twice, f"assets paid twice: {twice}"
    for model, most in fake.max_in_flight.items():
        assert most <= LIMITS[model], (model, most)


def assert_delivered(out: Path, episodes: int) -> set[str]:
    """Every episode's MP4 plays; the nodes the manifests' takes name."""
    report = json.loads((out / "report.json").read_text(encoding="utf-8"))
    assert [e["status"] for e in report["episodes"]] == ["done"] * episodes, report
    nodes: set[str] = set()
    for e in report["episodes"]:
        video = Path(e["episode"])
        assert video.is_file() and video.is_relative_to(out)
        assert probe(video).duration > 1.0
        manifest = json.loads((video.parent / "manifest.json").read_text(encoding="utf-8"))
        for shot in manifest["shots"]:
            for take in shot["takes"]:
                nodes.update(take[k]["node"] for k in ("keyframe", "motion") if take[k]["node"])
    return nodes


def test_a_series_on_three_nodes_is_delivered_paid_once_within_the_limits(
    env: dict[str, str], db: str, fake: FakeDashScope, tmp_path: Path
) -> None:
    folder = write_series(tmp_path / "three-nodes", "三台", 6)
    out = tmp_path / "out"
    err = finish(start_driver(folder, out, env))
    nodes = assert_delivered(out, 6)
    rows = episode_rows(db, folder)
    assert len(nodes) == 3, (nodes, rows)  # work on every node, as the manifests say
    assert_paid_once(fake, db)
    assert {r[2] for r in rows} == nodes
    for episode, *_ in rows:  # one progress line per episode as it finished
        assert sum(line.startswith(f"{episode}: done") for line in err.splitlines()) == 1, err
    assert advisory_locks(db) == 0
    assert slots_taken(db) == {}


def test_two_drivers_starting_one_batch_run_it_once(
    env: dict[str, str], db: str, fake: FakeDashScope, tmp_path: Path
) -> None:
    folder = write_series(tmp_path / "two-drivers", "两个", 2)
    (tmp_path / "a").mkdir()
    (tmp_path / "b").mkdir()
    drivers = [start_driver(folder, tmp_path / side / "out", env) for side in ("a", "b")]
    errs = [finish(d) for d in drivers]
    assert any("already running" in e for e in errs), errs
    for side in ("a", "b"):
        assert_delivered(tmp_path / side / "out", 2)
    assert_paid_once(fake, db)
    assert [r[3] for r in episode_rows(db, folder)] == [1, 1]  # each episode ran once
    assert advisory_locks(db) == 0


def test_a_killed_driver_started_again_resumes_from_postgres(
    env: dict[str, str], db: str, fake: FakeDashScope, tmp_path: Path
) -> None:
    folder = write_series(tmp_path / "driver-killed", "重启", 3)
    out = tmp_path / "out"
    first = start_driver(folder, out, env)
    deadline = time.monotonic() + 300
    while time.monotonic() < deadline:
        if any(r[1] == "done" for r in episode_rows(db, folder)):
            break
        time.sleep(0.2)
    done_before = {r[0] for r in episode_rows(db, folder) if r[1] == "done"}
    assert done_before
    os.killpg(first.pid, signal.SIGKILL)
    first.wait()
    finish(start_driver(folder, out, env))
    assert_delivered(out, 3)
    assert_paid_once(fake, db)
    rows = {r[0]: r for r in episode_rows(db, folder)}
    for episode in done_before:  # finished before the kill: not started again
        assert rows[episode][3] == 1
    assert advisory_locks(db) == 0


def running_on(dsn: str, folder: Path) -> set[str]:
    return {r[2] for r in episode_rows(dsn, folder) if r[1] == "running"}


def test_worker_nodes_killed_mid_batch_lose_no_episode_and_pay_nothing_twice(
    ray_cluster: LocalCluster, env: dict[str, str], db: str, fake: FakeDashScope, tmp_path: Path
) -> None:
    """Worker nodes running an episode killed without grace, each a random moment after
    the episode started (a new node joins after each kill)."""
    kills = int(os.environ.get("CHAOS_NODE_KILLS", "3"))
    episodes = int(os.environ.get("CHAOS_EPISODES", "4"))
    fake.running_polls = 6  # tasks long enough for a kill to land mid-call
    folder = write_series(tmp_path / "chaos", "混沌", episodes)
    out = tmp_path / "out"
    env["DRAMAFORGE_CLUSTER__EPISODE_RETRIES"] = str(kills + 3)
    driver = start_driver(folder, out, env)
    rng = random.Random(27)
    killed = 0
    while killed < kills and driver.poll() is None:
        busy = [n for n in ray_cluster.workers if n.node_id in running_on(db, folder)]
        if not busy:
            time.sleep(0.2)
            continue
        time.sleep(rng.uniform(0.5, 3.0))
        ray_cluster.kill(rng.choice(busy))
        killed += 1
        ray_cluster.workers.append(ray_cluster.add())
    finish(driver)
    assert killed >= 1
    assert_delivered(out, episodes)
    # A task whose poller died runs on at the provider until the retry adopts it, and its
    # slot stays taken meanwhile: the fake never has more in flight than the limit.
    assert_paid_once(fake, db)
    assert advisory_locks(db) == 0
    assert slots_taken(db) == {}  # every dead node's slot was adopted and freed
    tries = [r[3] for r in episode_rows(db, folder)]
    most = dict(fake.max_in_flight)
    print(f"{killed} nodes killed; starts per episode {tries}; {len(fake.tasks)} tasks; {most}")
    assert sum(tries) > len(tries)  # an episode was started again after its node died
