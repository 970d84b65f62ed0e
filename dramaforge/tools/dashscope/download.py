"""Result files: fetched at once (their URLs expire), checked, then renamed into place."""

from __future__ import annotations

import os
import uuid
from collections.abc import Callable
from pathlib import Path

import httpx

from dramaforge.tools.dashscope.errors import ExpiredResult, TransientError, retry_after_of

Verify = Callable[[Path], None]


def fetch_verified(client: httpx.Client, url: str, dest: Path, verify: Verify, what: str) -> None:
    """One try: ``url`` into ``dest`` via a temp file. Truncated or undecodable is transient."""
    tmp = dest.with_name(f".{dest.name}.{uuid.uuid4().hex[:8]}.part")
    try:
        _fetch(client, url, tmp, what)
        try:
            verify(tmp)
        except Exception as err:
            raise TransientError(
                f"DashScope {what}: downloaded file does not decode ({err})"
            ) from None
        os.replace(tmp, dest)
    finally:
        tmp.unlink(missing_ok=True)


def _fetch(client: httpx.Client, url: str, tmp: Path, what: str) -> None:
    try:
        with client.stream("GET", url) as response:
            if response.status_code in (403, 404):
                raise ExpiredResult(
                    f"DashScope {what}: result URL answered {response.status_code} "
                    "(expired or removed)"
                )
            if response.status_code != 200:
                raise TransientError(
                    f"DashScope {what}: download HTTP {response.status_code}",
                    retry_after=retry_after_of(response),
                )
            expected = response.headers.get("Content-Length")
            written = 0
            with tmp.open("wb") as fh:
                for chunk in response.iter_bytes():
                    fh.write(chunk)
                    written += len(chunk)
            if expected is not None and written != int(expected):
                raise TransientError(f"DashScope {what}: download truncated")
    except httpx.TransportError as err:
        raise TransientError(f"DashScope {what}: download {type(err).__name__}") from None
