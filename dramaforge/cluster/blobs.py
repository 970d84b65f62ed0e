"""Where the nodes share files: an S3-compatible bucket (``s3://bucket/prefix``) or a folder
every node mounts. Keys are the asset store's relative paths, which are content hashes: a
second upload of one key writes the same bytes and is harmless.
"""

from __future__ import annotations

import shutil
from pathlib import Path
from typing import Any, Protocol
from urllib.parse import urlsplit

from dramaforge.config import ClusterSettings
from dramaforge.errors import ConfigError
from dramaforge.media.files import atomic_file


class Blobs(Protocol):
    """A flat namespace of immutable files shared by every node."""

    where: str

    def get(self, key: str, dest: Path) -> bool:
        """Copy ``key`` to ``dest`` (atomically); False if there is no such key."""
        ...

    def put(self, key: str, src: Path) -> None: ...

    def exists(self, key: str) -> bool: ...


def open_blobs(settings: ClusterSettings) -> Blobs:
    if not settings.store:
        raise ConfigError(
            'the cluster needs a shared store: set [cluster] store = "s3://bucket/prefix" '
            "or a folder every node mounts (DRAMAFORGE_CLUSTER__STORE)"
        )
    if settings.store.startswith("s3://"):
        return S3Blobs(settings)
    return FolderBlobs(Path(settings.store))


class FolderBlobs:
    """A shared mount (NFS, CephFS, a cloud file share): copies in, renames into place."""

    def __init__(self, root: Path) -> None:
        self.root = root
        self.where = str(root)

    def _path(self, key: str) -> Path:
        path = (self.root / key).resolve()
        if not path.is_relative_to(self.root.resolve()):
            raise ValueError(f"store key {key!r} leads outside the store")
        return path

    def get(self, key: str, dest: Path) -> bool:
        src = self._path(key)
        if not src.is_file():
            return False
        with atomic_file(dest) as tmp:
            shutil.copyfile(src, tmp)
        return True

    def put(self, key: str, src: Path) -> None:
        with atomic_file(self._path(key)) as tmp:
            shutil.copyfile(src, tmp)

    def exists(self, key: str) -> bool:
        return self._path(key).is_file()


class S3Blobs:
    """An S3-compatible bucket through boto3 (AWS, SeaweedFS, Ceph RGW, MinIO, R2, OSS)."""

    def __init__(self, settings: ClusterSettings) -> None:
        import boto3
        from botocore.config import Config

        parts = urlsplit(settings.store or "")
        if not parts.netloc:
            raise ConfigError(f"[cluster] store {settings.store!r}: no bucket in the URL")
        self.bucket = parts.netloc
        self.prefix = parts.path.strip("/")
        self.where = f"s3://{self.bucket}/{self.prefix}".rstrip("/")
        key, secret = settings.s3_access_key, settings.s3_secret_key
        self.client: Any = boto3.client(
            "s3",
            endpoint_url=settings.s3_endpoint,
            region_name=settings.s3_region,
            aws_access_key_id=key.get_secret_value() if key else None,
            aws_secret_access_key=secret.get_secret_value() if secret else None,
            config=Config(retries={"max_attempts": 5, "mode": "standard"}, connect_timeout=10),
        )

    def _key(self, key: str) -> str:
        return f"{self.prefix}/{key}" if self.prefix else key

    def get(self, key: str, dest: Path) -> bool:
        from botocore.exceptions import ClientError

        try:
            with atomic_file(dest) as tmp:
                self.client.download_file(self.bucket, self._key(key), str(tmp))
        except ClientError as err:
            if _missing(err):
                return False
            raise
        return True

    def put(self, key: str, src: Path) -> None:
        self.client.upload_file(str(src), self.bucket, self._key(key))

    def exists(self, key: str) -> bool:
        from botocore.exceptions import ClientError

        try:
            self.client.head_object(Bucket=self.bucket, Key=self._key(key))
        except ClientError as err:
            if _missing(err):
                return False
            raise
        return True


def _missing(err: Any) -> bool:
    code = str(err.response.get("Error", {}).get("Code", ""))
    return code in ("404", "NoSuchKey", "NotFound")
