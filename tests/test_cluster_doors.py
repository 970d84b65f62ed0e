"""The batch doors: MCP's ``render_batch`` and the studio's batch form, here and on the cluster,
and a batch started twice (the second driver says who runs it, follows, stops following).

Against a real PostgreSQL (``tests/fixtures_cluster.py``), a shared folder as the store, the
official MCP client in-process, Starlette's TestClient, the real CLI in its own process, and
(``slow``) a real local Ray cluster. Where a leading driver is not the subject, its rows,
lock and delivered files are written as a driver writes them, so the follower meets the
same PostgreSQL a real leader leaves.
"""

from __future__ import annotations

import json
import os
import re
import signal
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import anyio
import pytest
from mcp import Client
from starlette.testclient import TestClient

pytest.importorskip("psycopg")

from dramaforge.cluster import pg
from dramaforge.cluster.blobs import open_blobs
from dramaforge.cluster.episode import deliverable_prefix
from dramaforge.cluster.job import (
    JOB_KEY,
    StoppedFollowing,
    run_cluster_batch,
    specs_of,
)
from dramaforge.config import ClusterSettings, Settings
from dramaforge.errors import ConfigError
from dramaforge.graph.batch import EpisodeReport
from dramaforge.serve.mcp import build_server
from dramaforge.serve.studio import create_app
from dramaforge.serve.workspace import Workspace
from tests.fixtures_cluster import Postgres
from tests.helpers import settings_for

ROOT = Path(__file__).resolve().parent.parent
RUNNING_ROW = re.compile(
    r'<tr class="live-episode running"[^>]*><td>[^<]*</td><td>[^<]*</td>'
    r"<td>([^<]*)</td><td>([^<]*)</td></tr>"
)
MB = 1024 * 1024


def season(folder: Path, tag: str, episodes: int = 2) -> Path:
    """``episodes`` one-shot scripts whose lines carry ``tag`` (no batch id shared with
    another test's)."""
    folder.mkdir(parents=True)
    for i in range(1, episodes + 1):
        (folder / f"ep{i:02d}.txt").write_text(
            f"# {tag} 第{i}集\n【场景1】教室 - 白天 - 内\n【画面】阿明推门进来。\n"
            f"阿明：{tag}，第{i}集，早上好。\n",
            encoding="utf-8",
        )
    return folder


@pytest.fixture(scope="module")
def db(module_cluster_db: str) -> str:
    return module_cluster_db


def on_cluster(db: str, tmp_path: Path, address: str = "127.0.0.1:1") -> Settings:
    """Test settings with a ``[cluster]``: the database, a shared folder as the store."""
    cluster = ClusterSettings(
        address=address, database=db, store=str(tmp_path / "store"), scratch=tmp_path / "nodes"
    )
    return settings_for().model_copy(update={"cluster": cluster})


def mcp_session(root: Path, settings: Settings, session: Any) -> None:
    async def go() -> None:
        async with Client(build_server(Workspace(root, settings))) as client:
            await session(client)

    anyio.run(go)


# ---- MCP ----------------------------------------------------------------------------------


def test_mcp_batch_on_the_cluster_is_refused_without_its_settings(tmp_path: Path) -> None:
    root = tmp_path / "ws"
    season(root / "season", "拒绝")

    async def session(client: Client) -> None:
        refused = await client.call_tool("render_batch", {"scripts": ["season"], "cluster": True})
        text = str(refused.content[0].text)  # type: ignore[union-attr]
        assert refused.is_error
        for name in ("[cluster] address", "[cluster] database", "[cluster] store"):
            assert name in text, text
        assert "\n" not in text and "Traceback" not in text

    mcp_session(root, settings_for(), session)
    assert not (root / "out").exists()  # nothing started


def test_mcp_batch_here_reports_each_episode_and_writes_the_report(tmp_path: Path) -> None:
    root = tmp_path / "ws"
    season(root / "season", "本机")
    seen: list[tuple[float, float | None, str | None]] = []

    async def session(client: Client) -> None:
        async def progress(done: float, total: float | None, msg: str | None) -> None:
            seen.append((done, total, msg))

        made = await client.call_tool(
            "render_batch", {"scripts": ["season"], "out": "s1"}, progress_callback=progress
        )
        assert not made.is_error, made.content
        report = made.structured_content or {}
        assert report["report"] == "s1/report.json" and report["failed"] == 0
        assert [e["status"] for e in report["episodes"]] == ["done", "done"]
        assert [e["episode"] for e in report["episodes"]] == [
            "s1/ep01/episode.mp4",
            "s1/ep02/episode.mp4",
        ]
        on_disk = json.loads((root / "s1" / "report.json").read_text(encoding="utf-8"))
        assert [e["status"] for e in on_disk["episodes"]] == ["done", "done"]
        assert Path(on_disk["episodes"][0]["episode"]) == root / "s1" / "ep01" / "episode.mp4"
        assert str(root) not in json.dumps(report)  # the caller's copy names paths relatively
        got = await client.call_tool("get_episode", {"episode": "s1/ep02"})
        assert not got.is_error, got.content

    mcp_session(root, settings_for(), session)
    dones = [d for d, _, _ in seen]
    assert dones == sorted(dones) and len(set(dones)) == len(dones)  # rising every time
    assert {t for _, t, _ in seen} == {2.0}
    assert seen[-1][0] == 2.0
    messages = [m or "" for _, _, m in seen]
    assert "ep01: done" in messages and "ep02: done" in messages
    assert any(m.startswith("ep02: ") and "keyframe" in m for m in messages)


# ---- the studio ---------------------------------------------------------------------------


def test_studio_offers_the_cluster_only_when_it_is_set_up(db: str, tmp_path: Path) -> None:
    root = tmp_path / "ws"
    season(root / "season", "表单")
    plain = TestClient(create_app(root, settings_for()), base_url="http://127.0.0.1:8700")
    page = plain.get("/").text
    assert 'action="/batch"' in page and '<option value="season">' in page
    assert 'name="cluster"' not in page
    ready = TestClient(create_app(root, on_cluster(db, tmp_path)), base_url="http://127.0.0.1:8700")
    assert 'name="cluster"' in ready.get("/").text
    refused = plain.post("/batch", data={"scripts": "season", "out": "s1", "cluster": "on"})
    assert refused.status_code == 400 and "[cluster] address" in refused.text
    refused = plain.post("/batch", data={"scripts": "../elsewhere", "out": "s1"})
    assert refused.status_code == 400 and "not a folder of scripts" in refused.text


def test_studio_batch_page_shows_each_episode_here_while_it_runs(tmp_path: Path) -> None:
    root = tmp_path / "ws"
    season(root / "season", "页面")
    client = TestClient(create_app(root, settings_for()), base_url="http://127.0.0.1:8700")
    started = client.post("/batch", data={"scripts": "season", "out": "s1"}, follow_redirects=False)
    assert started.status_code == 303 and started.headers["location"] == "/batch/s1"
    live: list[str] = []
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline:
        page = client.get("/batch/s1").text
        if 'http-equiv="refresh"' not in page:
            break
        live.append(page)
        time.sleep(0.2)
    assert any('class="live-episode running"' in p and "this machine" in p for p in live), live
    final = client.get("/batch/s1").text
    assert final.count('<tr class="done">') == 2 and "live-episode" not in final
    assert (root / "s1" / "ep01" / "episode.mp4").is_file()


class Leader:
    """A driver running a batch, as PostgreSQL sees one: the batch's lock held on its own
    connection, itself recorded, its episodes' rows written as their tasks write them, the
    finished episodes' files in the store."""

    def __init__(self, dsn: str, settings: Settings, folder: Path, series: str) -> None:
        self.specs = specs_of([folder], settings, series)
        self.batch = self.specs[0].batch
        self.settings = settings
        self.conn = pg.connect(dsn, role="dramaforge test leader")
        assert self.conn.execute(
            "SELECT pg_try_advisory_lock(%s)", (pg.lock_key("batch", self.batch),)
        ).fetchone()[0]
        self.conn.execute(
            "INSERT INTO dramaforge_batches (id, series, status, driver, driver_since, ray_job) "
            "VALUES (%s, %s, 'running', 'render-farm-1:4242', now() - interval '5 minutes', "
            "'0a000000')",
            (self.batch, series),
        )
        for spec in self.specs:
            self.conn.execute(
                "INSERT INTO dramaforge_episodes (batch, episode, script, status) "
                "VALUES (%s, %s, %s, 'pending')",
                (self.batch, spec.episode, spec.script_name),
            )

    def running(self, episode: str, node: str, stage: str) -> None:
        self.conn.execute(
            "UPDATE dramaforge_episodes SET status = 'running', node = %s, stage = %s, "
            "attempts = 1 WHERE batch = %s AND episode = %s",
            (node, stage, self.batch, episode),
        )

    def done(self, episode: str, node: str, scratch: Path) -> None:
        folder = scratch / episode
        folder.mkdir(parents=True)
        (folder / "episode.mp4").write_bytes(b"not really a video")
        (folder / "manifest.json").write_text("{}", encoding="utf-8")
        (folder / "files.json").write_text('["episode.mp4"]', encoding="utf-8")
        blobs = open_blobs(self.settings.cluster)
        prefix = deliverable_prefix(self.batch, episode)
        for name in ("episode.mp4", "files.json", "manifest.json"):
            blobs.put(prefix + name, folder / name)
        report = EpisodeReport(
            script=f"{episode}.txt", status="done", episode=str(folder / "episode.mp4"), shots=1
        )
        self.conn.execute(
            "UPDATE dramaforge_episodes SET status = 'done', node = %s, stage = NULL, report = %s "
            "WHERE batch = %s AND episode = %s",
            (node, report.model_dump_json(), self.batch, episode),
        )

    def finish(self) -> None:
        self.conn.execute(
            "UPDATE dramaforge_batches SET status = 'finished', finished_at = now() WHERE id = %s",
            (self.batch,),
        )
        self.conn.close()  # the lock goes with the session


def test_studio_batch_page_shows_each_episode_node_and_stage_from_postgres(
    db: str, tmp_path: Path
) -> None:
    root = tmp_path / "ws"
    folder = season(root / "season", "节点")
    settings = on_cluster(db, tmp_path)
    leader = Leader(db, settings, folder, "season")
    leader.running("ep01", "f3a9c0d1e2b4aa77", "s01-01 keyframe start")
    app = create_app(root, settings)
    release = threading.Event()

    def work(_on_event: Any) -> dict[str, Any]:
        release.wait(30)
        return {}

    app.state.studio.jobs.start("batch/s1", "batch", work, batch=leader.batch)
    client = TestClient(app, base_url="http://127.0.0.1:8700")
    try:
        page = client.get("/batch/s1").text
        assert leader.batch in page and "0a000000" in page and "render-farm-1:4242" in page
        assert 'http-equiv="refresh"' in page
        row = page[page.index('data-episode="ep01"') :].split("</tr>")[0]
        assert "f3a9c0d1e2b4" in row and "s01-01 keyframe start" in row and "running" in row
        waiting = page[page.index('data-episode="ep02"') :].split("</tr>")[0]
        assert "waiting" in waiting
        leader.done("ep01", "f3a9c0d1e2b4aa77", tmp_path / "made")
        leader.running("ep02", "77bb00cc11dd22ee", "assemble start")
        page = client.get("/batch/s1").text
        row = page[page.index('data-episode="ep02"') :].split("</tr>")[0]
        assert "77bb00cc11dd" in row and "assemble start" in row
        assert 'class="live-episode done"' in page
    finally:
        release.set()
        leader.finish()


# ---- a batch started twice ----------------------------------------------------------------


def test_a_second_driver_says_who_runs_the_batch_at_once_and_follows_it_to_the_summary(
    db: str, tmp_path: Path
) -> None:
    folder = season(tmp_path / "twice", "两次")
    settings = on_cluster(db, tmp_path)
    leader = Leader(db, settings, folder, "twice")
    lines: list[str] = []
    ended: list[tuple[int, int]] = []
    result: dict[str, Any] = {}

    def follow() -> None:
        result["report"] = run_cluster_batch(
            [folder],
            tmp_path / "out",
            settings,
            series="twice",
            on_line=lines.append,
            on_progress=lambda n, total: ended.append((n, total)),
        )

    follower = threading.Thread(target=follow)
    started = time.monotonic()
    follower.start()
    while not lines and time.monotonic() - started < 10:
        time.sleep(0.05)
    assert time.monotonic() - started < 5  # at once, not when the batch ends
    first = lines[0]
    assert first.startswith(f"batch {leader.batch} is already running from render-farm-1:4242")
    assert " since 20" in first and "following" in first
    leader.running("ep01", "f3a9c0d1e2b4aa77", "s01-01 motion start")
    time.sleep(1.0)  # the follower looks every half second
    leader.done("ep01", "f3a9c0d1e2b4aa77", tmp_path / "made")
    leader.done("ep02", "77bb00cc11dd22ee", tmp_path / "made")
    time.sleep(1.5)
    assert follower.is_alive()  # the leader still holds the batch
    leader.finish()
    follower.join(30)
    assert not follower.is_alive()
    report = result["report"]
    assert [e.status for e in report.episodes] == ["done", "done"]
    assert (tmp_path / "out" / "ep01" / "episode.mp4").read_bytes() == b"not really a video"
    assert any(ln.startswith("ep01: running on node f3a9c0d1e2b4") for ln in lines), lines
    assert any(ln.startswith("ep02: done on node 77bb00cc11dd") for ln in lines), lines
    assert ended[0] == (0, 2) and ended[-1] == (2, 2)
    with pg.connect(db) as conn:  # the follower took nothing over
        row = conn.execute(
            "SELECT driver, status FROM dramaforge_batches WHERE id = %s", (leader.batch,)
        ).fetchone()
    assert row == ("render-farm-1:4242", "finished")


def test_stages_give_a_line_each_time_an_episode_moves_to_another_shot_stage(
    db: str, tmp_path: Path
) -> None:
    folder = season(tmp_path / "stages", "阶段")
    settings = on_cluster(db, tmp_path)
    leader = Leader(db, settings, folder, "stages")
    lines: list[str] = []
    follower = threading.Thread(
        target=lambda: run_cluster_batch(
            [folder], tmp_path / "out", settings, series="stages", on_line=lines.append,
            stages=True,
        )
    )  # fmt: skip
    follower.start()
    for stage in ("s01-01 keyframe start", "s01-01 keyframe start", "s01-02 motion start"):
        leader.running("ep01", "f3a9c0d1e2b4aa77", stage)
        time.sleep(1.0)  # the follower looks every half second
    leader.done("ep01", "f3a9c0d1e2b4aa77", tmp_path / "made")
    leader.done("ep02", "77bb00cc11dd22ee", tmp_path / "made")
    leader.finish()
    follower.join(30)
    assert not follower.is_alive()
    staged = [ln for ln in lines if ln.startswith("ep01: s01")]
    assert staged == [  # one line a change, none for a stage seen again
        "ep01: s01-01 keyframe start (node f3a9c0d1e2b4)",
        "ep01: s01-02 motion start (node f3a9c0d1e2b4)",
    ], lines


def test_a_door_that_stops_following_leaves_the_batch_to_its_driver(
    db: str, tmp_path: Path
) -> None:
    """What a cancelled MCP call or a closed studio does to a batch it follows: nothing."""
    folder = season(tmp_path / "door", "门")
    settings = on_cluster(db, tmp_path)
    leader = Leader(db, settings, folder, "door")
    stop = threading.Event()
    threading.Timer(1.0, stop.set).start()
    started = time.monotonic()
    with pytest.raises(StoppedFollowing, match="it runs on from render-farm-1:4242"):
        run_cluster_batch([folder], tmp_path / "out", settings, series="door", stop=stop)
    assert time.monotonic() - started < 5
    with pg.connect(db) as conn:
        status = conn.execute(
            "SELECT status FROM dramaforge_batches WHERE id = %s", (leader.batch,)
        ).fetchone()
        held = pg.lock_held(conn, pg.lock_key("batch", leader.batch))
    assert status == ("running",) and held
    assert not (tmp_path / "out" / "report.json").exists()
    leader.finish()


def driver_env(db: str, tmp_path: Path) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("DRAMAFORGE_")}
    return env | {
        "PYTHONPATH": str(ROOT),
        "DRAMAFORGE_RENDER__RESOLUTION": "360p",
        "DRAMAFORGE_CLUSTER__ADDRESS": "127.0.0.1:1",
        "DRAMAFORGE_CLUSTER__DATABASE": db,
        "DRAMAFORGE_CLUSTER__STORE": str(tmp_path / "store"),
        "DRAMAFORGE_CLUSTER__SCRATCH": str(tmp_path / "nodes"),
        "RAY_ADDRESS": "",
    }


def test_ctrl_c_of_a_following_cli_stops_only_the_following(db: str, tmp_path: Path) -> None:
    folder = season(tmp_path / "follow", "跟随")
    settings = on_cluster(db, tmp_path)  # the batch id the CLI's settings give too
    leader = Leader(db, settings, folder, "follow")
    cmd = [sys.executable, "-m", "dramaforge", "batch", str(folder), "--cluster"]
    cmd += ["--out", str(tmp_path / "out")]
    driver = subprocess.Popen(
        cmd,
        env=driver_env(db, tmp_path),
        cwd=tmp_path,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline and driver.poll() is None:
            with pg.connect(db) as conn:
                following = conn.execute(
                    "SELECT count(*) FROM pg_stat_activity WHERE application_name = "
                    "'dramaforge driver'"
                ).fetchone()
            if following and following[0]:
                break
            time.sleep(0.2)
        time.sleep(1.0)  # past its first look
        driver.send_signal(signal.SIGINT)
        _out, err = driver.communicate(timeout=30)
    finally:
        if driver.poll() is None:
            driver.kill()
    assert driver.returncode == 130, err
    assert f"batch {leader.batch} is already running from render-farm-1:4242" in err
    assert f"stopped following batch {leader.batch}; it runs on from render-farm-1:4242" in err
    assert "Traceback" not in err and "interrupted" not in err
    with pg.connect(db) as conn:  # the batch is untouched: still the leader's, still running
        row = conn.execute(
            "SELECT status, driver FROM dramaforge_batches WHERE id = %s", (leader.batch,)
        ).fetchone()
        held = pg.lock_held(conn, pg.lock_key("batch", leader.batch))
    assert row == ("running", "render-farm-1:4242") and held
    leader.finish()


def test_cluster_status_shows_the_batch_its_ray_job_and_its_driver(
    db: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from typer.testing import CliRunner

    from dramaforge.cli.app import app
    from dramaforge.cli.common import out_console

    monkeypatch.setattr(out_console, "width", 200)  # every column on one line

    folder = season(tmp_path / "status", "状态")
    settings = on_cluster(db, tmp_path)
    leader = Leader(db, settings, folder, "status")
    env = {"DRAMAFORGE_CLUSTER__DATABASE": db}
    runner = CliRunner()
    shown = runner.invoke(app, ["cluster", "status", "--json"], env=env)
    assert shown.exit_code == 0, shown.output
    batches = {b["batch"]: b for b in json.loads(shown.output)["batches"]}
    mine = batches[leader.batch]
    assert mine["ray_job"] == "0a000000" and mine["driver"] == "render-farm-1:4242"
    assert mine["driving"] is True and mine["since"] and (mine["done"], mine["episodes"]) == (0, 2)
    table = runner.invoke(app, ["cluster", "status"], env=env).output
    assert leader.batch in table and "0a000000" in table and "render-farm-1:4242" in table
    leader.conn.close()  # the driver dies: its lock goes, its row stays 'running'
    table = runner.invoke(app, ["cluster", "status"], env=env).output
    assert "render-farm-1:4242 (gone)" in table


# ---- on a real Ray cluster ----------------------------------------------------------------


@pytest.fixture(scope="module")
def ray_head() -> Iterator[str]:
    """A local Ray cluster: a head and one worker, one episode slot each, no dashboard."""
    pytest.importorskip("ray")
    from ray.cluster_utils import Cluster

    args = {
        "num_cpus": 1,
        "object_store_memory": 80 * MB,
        "resources": {"episode_slot": 1},
        "include_dashboard": False,
    }
    cluster = Cluster(initialize_head=True, connect=False, head_node_args=args)
    cluster.add_node(**args)
    cluster.wait_for_nodes()
    try:
        yield str(cluster.address)
    finally:
        cluster.shutdown()


@pytest.mark.slow
def test_mcp_batch_on_a_real_cluster_reports_nodes_and_names_its_ray_job(
    db: str, ray_head: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("PYTHONPATH", str(ROOT))  # the nodes' workers import this tree
    root = tmp_path / "ws"
    folder = season(root / "season", "集群")
    settings = on_cluster(db, tmp_path, address=ray_head)
    batch = specs_of([folder], settings, None)[0].batch
    seen: list[tuple[float, float | None, str | None]] = []

    async def session(client: Client) -> None:
        async def progress(done: float, total: float | None, msg: str | None) -> None:
            seen.append((done, total, msg))

        made = await client.call_tool(
            "render_batch",
            {"scripts": ["season"], "out": "s1", "cluster": True},
            progress_callback=progress,
        )
        assert not made.is_error, made.content
        report = made.structured_content or {}
        assert report["report"] == "s1/report.json" and report["failed"] == 0
        assert [e["status"] for e in report["episodes"]] == ["done", "done"]
        assert report["episodes"][0]["episode"] == "s1/ep01/episode.mp4"
        assert str(tmp_path) not in json.dumps(report)

    mcp_session(root, settings, session)
    assert (root / "s1" / "ep02" / "episode.mp4").is_file()
    messages = [m or "" for _, _, m in seen]
    assert messages[0] == f"batch {batch}: 2 episodes, 0 already done", messages
    assert sum(m.startswith("ep01: done on node ") for m in messages) == 1, messages
    assert seen[-1][:2] == (2.0, 2.0)
    dones = [d for d, _, _ in seen]
    assert dones == sorted(dones) and len(set(dones)) == len(dones)
    with pg.connect(db) as conn:
        row = conn.execute(
            "SELECT status, driver, ray_job FROM dramaforge_batches WHERE id = %s", (batch,)
        ).fetchone()
    assert row is not None and row[0] == "finished"
    assert row[1] == f"{socket.gethostname()}:{os.getpid()}"
    assert _job_metadata(ray_head, str(row[2])) == {JOB_KEY: batch}


def _job_metadata(address: str, job: str) -> dict[str, str]:
    """What Ray's GCS keeps as job ``job``'s metadata (the driver's ``JobConfig``)."""
    import ray
    from ray._private.worker import global_worker

    ray.init(address=address, log_to_driver=False)
    try:
        infos = global_worker.gcs_client.get_all_job_info()
        found = {str(k.hex()): dict(v.config.metadata) for k, v in infos.items()}
    finally:
        ray.shutdown()
    return found[job]


def test_a_database_from_before_drivers_were_recorded_is_refused_until_init_again(
    postgres: Postgres,
) -> None:
    with pg.connect(postgres.dsn) as conn:
        conn.execute("CREATE DATABASE before_drivers")
    dsn = postgres.dsn.rsplit("/", 1)[0] + "/before_drivers"
    pg.init(dsn)
    with pg.connect(dsn) as conn:  # as 0.2.0 left it
        conn.execute("ALTER TABLE dramaforge_batches DROP COLUMN driver_since, DROP COLUMN ray_job")
        conn.execute("UPDATE dramaforge_schema SET version = 1")
        with pytest.raises(ConfigError, match="run `dramaforge cluster init` once to upgrade"):
            pg.require_init(conn)
    pg.init(dsn)
    with pg.connect(dsn) as conn:
        pg.require_init(conn)
        conn.execute("SELECT driver_since, ray_job FROM dramaforge_batches").fetchall()


@pytest.mark.slow
def test_studio_batch_on_a_real_cluster_shows_each_episode_on_its_node(
    db: str, ray_head: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("PYTHONPATH", str(ROOT))
    root = tmp_path / "ws"
    season(root / "season", "工作室")
    client = TestClient(
        create_app(root, on_cluster(db, tmp_path, address=ray_head)),
        base_url="http://127.0.0.1:8700",
    )
    started = client.post(
        "/batch", data={"scripts": "season", "out": "s1", "cluster": "on"}, follow_redirects=False
    )
    assert started.status_code == 303, started.text
    nodes: set[str] = set()
    deadline = time.monotonic() + 240
    while time.monotonic() < deadline:
        page = client.get("/batch/s1").text
        if 'http-equiv="refresh"' not in page:
            break
        for node, stage in RUNNING_ROW.findall(page):  # as the episode's task wrote them
            if node and stage:
                nodes.add(node)
        time.sleep(0.3)
    assert nodes, "no episode was seen running on a node"
    final = client.get("/batch/s1").text
    assert final.count('<tr class="done">') == 2, final
    assert (root / "s1" / "ep01" / "episode.mp4").is_file()
