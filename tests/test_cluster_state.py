"""The cluster's shared state against a real PostgreSQL 15 and a real S3 server (SeaweedFS):
paid once across claimants, a killed claimant's submit reconciled (never paid again),
provider slots that hold cluster-wide, a budget across processes, assets shared by bucket.

Counts are the fake DashScope's own (tasks created, most in flight at once).
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest
from PIL import Image
from typer.testing import CliRunner

pytest.importorskip("psycopg")
pytest.importorskip("boto3")

from dramaforge.agents.consistency import Reference
from dramaforge.cli.app import app
from dramaforge.cluster import pg, slots
from dramaforge.cluster.bible import PgBook
from dramaforge.cluster.blobs import FolderBlobs, S3Blobs
from dramaforge.cluster.budget import PgLedger
from dramaforge.cluster.claims import AssetClaim
from dramaforge.cluster.store import ClusterStore
from dramaforge.config import ClusterSettings, ProviderSettings
from dramaforge.errors import BudgetExceeded
from dramaforge.graph import series
from dramaforge.media.store import content_key
from dramaforge.schema import CharacterLook, Voice
from dramaforge.tools.dashscope.image import DashScopeImage
from dramaforge.tools.dashscope.transport import Transport
from dramaforge.tools.protocols import Generated, ImageRequest, TaskJournal
from tests.fakes.dashscope_server import FakeDashScope, Fault
from tests.fixtures_cluster import S3Server

ROOT = Path(__file__).resolve().parent.parent
BACKEND = "dashscope:qwen-image"


@pytest.fixture
def db(cluster_db: str) -> str:
    return cluster_db


@pytest.fixture
def fake() -> FakeDashScope:
    with FakeDashScope() as server:
        yield server


def request(seed: int) -> ImageRequest:
    return ImageRequest(
        prompt=f"a lantern-lit alley at night, take {seed}", width=360, height=640, seed=seed,
        framing="wide", scene_heading="EXT. ALLEY - NIGHT",
    )  # fmt: skip


def keyframe(url: str, key: str, dsn: str, shared: str, local: str, seed: int, node: str) -> str:
    """One keyframe through a node's cluster store, as the graph makes it (also in a child)."""
    settings = ProviderSettings(
        api_key=key, base_url=url, timeout=5.0, max_retries=2, poll_interval=0.01
    )
    image, req = DashScopeImage("qwen-image", Transport(settings)), request(seed)

    def make(dest: Path, journal: TaskJournal) -> Generated:
        return image.generate(req, dest, journal)

    store = ClusterStore(Path(local), FolderBlobs(Path(shared)), dsn, node)
    asset, _ = store.produce("keyframe", BACKEND, req, "png", make)
    return f"{asset.path} {asset.node}"


def test_init_run_twice_at_once_makes_the_tables_once(db: str) -> None:
    with ThreadPoolExecutor(2) as pool:
        done = list(pool.map(lambda _: pg.init(db), range(2)))
    assert all("LangGraph checkpoint tables" in d for d in done)
    with pg.connect(db) as conn:
        names = {r[0] for r in conn.execute("SELECT tablename FROM pg_tables").fetchall()}
    assert {"dramaforge_journal", "dramaforge_slots", "checkpoints"} <= names


def test_eight_nodes_claiming_one_asset_make_one_provider_call(
    db: str, fake: FakeDashScope, tmp_path: Path
) -> None:
    fake.running_polls = 5  # the first claimant is still polling while the others arrive
    shared = tmp_path / "bucket"

    def node(i: int) -> str:
        local = tmp_path / f"node{i}"
        return keyframe(fake.url, fake.api_key, db, str(shared), str(local), 1, f"node{i}")

    with ThreadPoolExecutor(8) as pool:
        made = list(pool.map(node, range(8)))
    assert fake.submits["qwen-image"] == 1
    makers = {line.split()[1] for line in made}
    assert len(makers) == 1  # every node names the one that made it
    sizes = {Image.open(line.split()[0]).size for line in made}
    assert sizes == {(360, 640)}


def test_a_killed_claimant_leaves_its_submit_in_doubt_and_it_is_never_paid_again(
    db: str, fake: FakeDashScope, tmp_path: Path
) -> None:
    fake.fault("submit", Fault("hold"))  # the task is created, its reply never comes
    shared, seed = tmp_path / "bucket", 2
    code = (
        "import sys; from tests.test_cluster_state import keyframe; "
        f"keyframe({fake.url!r}, {fake.api_key!r}, {db!r}, {str(shared)!r}, "
        f"{str(tmp_path / 'a')!r}, {seed}, 'node-a')"
    )
    child = subprocess.Popen([sys.executable, "-c", code], cwd=ROOT)
    deadline = time.monotonic() + 60
    while fake.submits["qwen-image"] < 1 and time.monotonic() < deadline:
        time.sleep(0.05)
    assert fake.submits["qwen-image"] == 1
    os.kill(child.pid, signal.SIGKILL)
    child.wait()
    fake.release()

    key = content_key("keyframe", BACKEND, request(seed))
    claim = AssetClaim(db, key, "node-b")
    try:
        # The dead owner's session lock goes with its session, once PostgreSQL has seen the
        # connection close (at once here; a killed machine's may take its keepalive time).
        deadline = time.monotonic() + 15
        while not claim.try_acquire() and time.monotonic() < deadline:
            time.sleep(0.05)
        assert claim.held
        journal = claim.journal()
        assert journal.read().intent is not None
        assert journal.state() == "in_doubt"
    finally:
        claim.release()
    made = keyframe(fake.url, fake.api_key, db, str(shared), str(tmp_path / "b"), seed, "node-b")
    assert Path(made.split()[0]).is_file()
    assert fake.submits["qwen-image"] == 1  # found in the task list, not paid again
    with pg.connect(db) as conn:
        row = conn.execute(
            "SELECT state FROM dramaforge_journal WHERE asset = %s", (key,)
        ).fetchone()
    assert row is not None and row[0] == "finished"


def test_provider_slots_never_exceed_the_limit_across_connections(db: str) -> None:
    held, most, lock = 0, 0, threading.Lock()

    def call(i: int) -> None:
        nonlocal held, most
        with slots.provider_slot(db, "wan-test", 3, f"node{i % 3}", lease=60):
            with lock:
                held += 1
                most = max(most, held)
            time.sleep(0.05)
            with lock:
                held -= 1

    with ThreadPoolExecutor(12) as pool:
        list(pool.map(call, range(24)))
    assert most == 3
    with pg.connect(db) as conn:
        assert slots.in_use(conn)["wan-test"] == (0, 3)


def test_the_budget_holds_across_ledgers(db: str) -> None:
    a = PgLedger(budget=1.0, dsn=db, scope="budget-test").open()
    b = PgLedger(budget=1.0, dsn=db, scope="budget-test").open()
    a.reserve(0.6, "clip 1")
    with pytest.raises(BudgetExceeded, match="across the cluster"):
        b.reserve(0.6, "clip 2")
    a.settle(0.6, 0.3)
    b.reserve(0.6, "clip 2")
    with pg.connect(db) as conn:
        spent = conn.execute(
            "SELECT spent FROM dramaforge_budget WHERE scope = 'budget-test'"
        ).fetchone()
    assert spent is not None and spent[0] == pytest.approx(0.9)


@pytest.mark.slow  # starts SeaweedFS (about 20 s on two cores) unless the session has
def test_an_asset_made_on_one_node_is_read_from_the_bucket_on_another(
    db: str, s3_server: S3Server, tmp_path: Path
) -> None:
    settings = ClusterSettings(
        store=f"s3://{s3_server.bucket}/{tmp_path.name}",
        s3_endpoint=s3_server.endpoint,
        s3_access_key=s3_server.access_key,
        s3_secret_key=s3_server.secret_key,
    )
    made: list[str] = []

    def make(dest: Path, journal: TaskJournal) -> Generated:
        made.append(str(dest))
        dest.write_bytes(b"clip bytes")
        return Generated(duration=2.0, cost=0.5, model="m")

    one = ClusterStore(tmp_path / "one", S3Blobs(settings), db, "node-one")
    two = ClusterStore(tmp_path / "two", S3Blobs(settings), db, "node-two")
    first, _ = one.produce("motion", "dashscope:m", {"shot": 1}, "mp4", make)
    second, generated = two.produce("motion", "dashscope:m", {"shot": 1}, "mp4", make)
    assert len(made) == 1
    assert (first.node, second.node, second.cached) == ("node-one", "node-one", True)
    assert Path(second.path).read_bytes() == b"clip bytes"
    assert generated.cost == 0.5
    assert S3Blobs(settings).exists(f"assets/motion/{first.key[:2]}/{first.key}.mp4")
    nothing = tmp_path / "three" / "none.mp4"
    assert not S3Blobs(settings).get("assets/motion/no/such.mp4", nothing)
    assert list(nothing.parent.iterdir()) == []  # no file, no half-written temp


def test_the_series_bible_is_shared_by_nodes_with_its_reference_images(
    db: str, tmp_path: Path
) -> None:
    shared = FolderBlobs(tmp_path / "bucket")
    here, there = PgBook(db, shared, "node-one"), PgBook(db, shared, "node-two")
    voice = Voice(id="v1")
    look = CharacterLook(name="阿明", description="d", color="red", slot=0, seed=7, voice=voice)
    path_one = tmp_path / "one" / "series" / "campus.json"
    path_two = tmp_path / "two" / "series" / "campus.json"
    with here.locked(path_one):
        here.save(path_one, {"阿明": look})
    picked = tmp_path / "one" / "pick.png"
    picked.parent.mkdir()
    Image.new("RGB", (8, 8), "blue").save(picked)
    first = series.share_references(
        path_one, {"阿明": Reference(path=str(picked), origin="take")}, here
    )
    other = tmp_path / "two" / "other.png"
    other.parent.mkdir()
    Image.new("RGB", (8, 8), "green").save(other)
    second = series.share_references(
        path_two, {"阿明": Reference(path=str(other), origin="take")}, there
    )
    assert second["阿明"].origin == "bible"  # the first node's pick holds for the series
    assert Path(second["阿明"].path).is_relative_to(tmp_path / "two")
    assert Path(second["阿明"].path).read_bytes() == Path(first["阿明"].path).read_bytes()
    assert there.load(path_two)["阿明"].voice == voice


def test_cluster_init_and_status_from_the_command_line(
    db: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("DRAMAFORGE_CLUSTER__DATABASE", db)
    monkeypatch.delenv("RAY_ADDRESS", raising=False)
    runner = CliRunner()
    made = runner.invoke(app, ["cluster", "init"])
    assert made.exit_code == 0, made.output
    assert "LangGraph checkpoint tables" in made.output
    with slots.provider_slot(db, "wan-status", 2, "node-status", lease=60):
        shown = runner.invoke(app, ["cluster", "status", "--json"])
    assert shown.exit_code == 0, shown.output
    data = json.loads(shown.stdout)
    assert data["nodes"] is None
    assert data["slots"]["wan-status"] == [1, 2]


def test_an_unreachable_database_is_one_line(monkeypatch: pytest.MonkeyPatch) -> None:
    from tests.helpers import free_port

    dsn = f"postgresql://someone:hunter2@127.0.0.1:{free_port()}/nothing"
    monkeypatch.setenv("DRAMAFORGE_CLUSTER__DATABASE", dsn)
    shown = CliRunner().invoke(app, ["cluster", "status"])
    assert shown.exit_code == 3
    assert "cannot reach PostgreSQL" in shown.output
    assert "hunter2" not in shown.output and "Traceback" not in shown.output


@pytest.mark.parametrize("name", ["batch-a", "batch-b", "batch-c", "batch-d"])
def test_a_held_advisory_lock_is_seen_by_another_session(db: str, name: str) -> None:
    key = pg.lock_key("batch", name)
    with pg.connect(db) as holder, pg.connect(db) as other:
        assert not pg.lock_held(other, key)
        holder.execute("SELECT pg_advisory_lock(%s)", (key,))
        assert pg.lock_held(other, key)
        holder.execute("SELECT pg_advisory_unlock(%s)", (key,))
        assert not pg.lock_held(other, key)


def test_episodes_ask_ray_for_an_episode_slot_and_never_a_gpu() -> None:
    """GPU work goes to the batch's GPU actors (tests/test_cluster_gpu.py), so an episode
    asks for the same whatever its backends, and runs on nodes without a GPU."""
    from dramaforge.cluster.job import episode_options

    assert episode_options({"CPU": 4.0, "GPU": 2.0}) == {"num_cpus": 1}
    assert episode_options({"CPU": 4.0, "GPU": 2.0, "episode_slot": 2.0}) == {
        "num_cpus": 0,
        "resources": {"episode_slot": 1},
    }


def test_doctor_checks_the_cluster_database_and_store(db: str, tmp_path: Path) -> None:
    from dramaforge.cli.cluster import cluster_checks
    from dramaforge.config import Settings

    assert cluster_checks(Settings()) == []
    settings = Settings(cluster=ClusterSettings(database=db, store=str(tmp_path / "store")))
    rows = {name: check() for name, check in cluster_checks(settings)}
    assert rows["cluster database"].startswith("PostgreSQL 15")
    assert rows["cluster store"] == f"{tmp_path / 'store'} answers"
