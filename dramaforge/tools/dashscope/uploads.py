"""Local files to DashScope's temporary storage, for inputs that must be URLs (``audio_url``).

The documented route for a local file where an API takes only a URL: ask for an upload policy
(``GET /api/v1/uploads?action=getPolicy&model=...``), post the file to the policy's OSS host as
a form, and pass ``oss://<key>``, with ``X-DashScope-OssResourceResolve: enable`` on the
request that uses it. The URL is bound to the model, lasts 48 hours and costs nothing, so an
upload is only made right before a submit actually goes out.
"""

from __future__ import annotations

import mimetypes
import uuid
from collections.abc import Callable
from pathlib import Path
from typing import Any

import httpx

from dramaforge.errors import ProviderError
from dramaforge.tools.dashscope.error_codes import TransientError

RESOLVE_HEADER = "X-DashScope-OssResourceResolve"

GetJson = Callable[[str, str, dict[str, Any]], Any]


def set_at(body: dict[str, Any], dotted: str, value: str) -> None:
    """``body["input"]["audio_url"] = value`` for ``dotted`` = ``input.audio_url``; a name
    ending in ``[]`` (``input.images[]``) appends to a list."""
    *parents, last = dotted.split(".")
    node = body
    for part in parents:
        node = node.setdefault(part, {})
    if last.endswith("[]"):
        node.setdefault(last[:-2], []).append(value)
    else:
        node[last] = value


def upload(
    client: httpx.Client, root: str, get_json: GetJson, model: str, path: Path, what: str
) -> str:
    """Put ``path`` in temporary storage for ``model``; its ``oss://`` URL."""
    reply = get_json(
        f"{root}/uploads", f"{what} (upload policy)", {"action": "getPolicy", "model": model}
    )
    policy = reply.get("data") or {}
    try:
        key = f"{policy['upload_dir']}/{uuid.uuid4().hex[:12]}_{path.name.lstrip('.')}"
        form = {
            "OSSAccessKeyId": policy["oss_access_key_id"],
            "Signature": policy["signature"],
            "policy": policy["policy"],
            "x-oss-object-acl": policy["x_oss_object_acl"],
            "x-oss-forbid-overwrite": policy["x_oss_forbid_overwrite"],
            "key": key,
            "success_action_status": "200",
        }
        host = str(policy["upload_host"])
    except KeyError as err:
        raise ProviderError(f"DashScope {what}: the upload policy has no {err}") from None
    mime = mimetypes.guess_type(path.name)[0] or "application/octet-stream"
    form["x-oss-content-type"] = mime
    try:
        response = client.post(
            host, data=form, files={"file": (path.name, path.read_bytes(), mime)}
        )
    except httpx.TransportError as err:
        raise TransientError(f"DashScope {what}: upload {type(err).__name__}") from None
    if response.status_code >= 500:
        raise TransientError(f"DashScope {what}: upload HTTP {response.status_code}")
    if response.status_code != 200:
        raise ProviderError(
            f"DashScope {what}: upload refused, HTTP {response.status_code}: {response.text[:200]}"
        )
    return f"oss://{key}"
