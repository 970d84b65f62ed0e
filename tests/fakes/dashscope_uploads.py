"""The fake DashScope's temporary file storage: upload policies, the OSS form post, oss:// URLs.

``GET /api/v1/uploads?action=getPolicy&model=M`` answers ``{"data": {policy, signature,
upload_dir, upload_host, oss_access_key_id, x_oss_object_acl, x_oss_forbid_overwrite, ...}}``;
the file is then posted as ``multipart/form-data`` to ``upload_host`` with those fields and a
``key`` under ``upload_dir``, and used as ``oss://<key>``, by a request for the same model
that carries ``X-DashScope-OssResourceResolve: enable``.
"""

from __future__ import annotations

import threading
import uuid
from dataclasses import dataclass
from email.parser import BytesParser
from email.policy import HTTP
from typing import Any

UPLOAD_ROUTE = "/oss-upload"


@dataclass
class Stored:
    model: str
    data: bytes
    name: str


class Uploads:
    def __init__(self) -> None:
        self.policies: dict[str, dict[str, Any]] = {}  # signature -> policy
        self.files: dict[str, Stored] = {}  # key -> file
        self._lock = threading.Lock()

    def policy(self, model: str, base_url: str) -> dict[str, Any]:
        signature = uuid.uuid4().hex
        policy = {
            "policy": uuid.uuid4().hex,
            "signature": signature,
            "upload_dir": f"dashscope-instant/{uuid.uuid4().hex[:16]}/{model}",
            "upload_host": f"{base_url}{UPLOAD_ROUTE}",
            "expire_in_seconds": 300,
            "max_file_size_mb": 100,
            "capacity_limit_mb": 999999999,
            "oss_access_key_id": "LTAI-fake",
            "x_oss_object_acl": "private",
            "x_oss_forbid_overwrite": "true",
        }
        with self._lock:
            self.policies[signature] = policy | {"model": model}
        return policy

    def post(self, content_type: str, raw: bytes) -> tuple[int, str]:
        """The OSS form post: (status, error text)."""
        fields, files = _form(content_type, raw)
        with self._lock:
            issued = self.policies.get(fields.get("Signature", ""))
        if issued is None or fields.get("policy") != issued["policy"]:
            return 403, "SignatureDoesNotMatch"
        if fields.get("OSSAccessKeyId") != issued["oss_access_key_id"]:
            return 403, "InvalidAccessKeyId"
        key = fields.get("key", "")
        if not key.startswith(issued["upload_dir"] + "/") or "file" not in files:
            return 400, "InvalidArgument: key outside upload_dir, or no file"
        with self._lock:
            if key in self.files:
                return 409, "FileAlreadyExists"
            name, data = files["file"]
            self.files[key] = Stored(model=issued["model"], data=data, name=name)
        return 200, ""

    def resolve(self, url: str, model: str) -> bytes | None:
        """The bytes behind ``oss://key`` if it was uploaded for ``model``."""
        with self._lock:
            stored = self.files.get(url.removeprefix("oss://"))
        return stored.data if stored is not None and stored.model == model else None


def _form(content_type: str, raw: bytes) -> tuple[dict[str, str], dict[str, tuple[str, bytes]]]:
    message = BytesParser(policy=HTTP).parsebytes(
        f"Content-Type: {content_type}\r\n\r\n".encode() + raw
    )
    fields: dict[str, str] = {}
    files: dict[str, tuple[str, bytes]] = {}
    for part in message.iter_parts():
        name = part.get_param("name", header="content-disposition")
        payload = part.get_payload(decode=True)
        if not isinstance(name, str) or not isinstance(payload, bytes):
            continue
        filename = part.get_filename()
        if filename is not None:
            files[name] = (filename, payload)
        else:
            fields[name] = payload.decode()
    return fields, files


def oss_urls(node: Any) -> list[str]:
    """Every ``oss://`` string in a request body."""
    if isinstance(node, dict):
        return [u for v in node.values() for u in oss_urls(v)]
    if isinstance(node, list):
        return [u for v in node for u in oss_urls(v)]
    return [node] if isinstance(node, str) and node.startswith("oss://") else []
