"""Result files: fetched at once (their URLs expire), checked, then renamed into place.

A result URL comes from the provider's reply, so it is treated as untrusted: https only, to a
public address, redirects followed by hand and each hop checked again (a redirect to
127.0.0.1 or 169.254.169.254 would read the machine's own services), the body capped per kind
(image, video, audio) while it streams. Hosts named in ``Policy.allowed_hosts`` (the API's own
host, ``[dashscope] download_hosts``) may use plain http and private addresses.

A body is complete when the bytes on the wire match Content-Length (counted before gzip is
undone) and, whatever the headers said, when the file's own structure is whole (PNG up to
IEND, JPEG up to EOI, MP4 boxes adding up to the file's size, RIFF's declared size): a
connection closed early without Content-Length is caught too. The temp file is fsynced before
it is renamed, so a power cut never leaves a named half file.
"""

from __future__ import annotations

import ipaddress
import os
import socket
import struct
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import BinaryIO

import httpx

from dramaforge.errors import ProviderError
from dramaforge.tools.dashscope.error_codes import ExpiredResult, TransientError, retry_after_of

Verify = Callable[[Path], None]
MAX_REDIRECTS = 5
DEFAULT_CAPS = {"image": 40 << 20, "video": 250 << 20, "audio": 60 << 20}
CHUNK = 1 << 16


@dataclass(frozen=True)
class Policy:
    """Where results may come from and how big they may be."""

    allowed_hosts: frozenset[str] = frozenset()
    max_bytes: dict[str, int] = field(default_factory=lambda: dict(DEFAULT_CAPS))


def kind_of(dest: Path) -> str:
    """image, video or audio, from the download's file name (``*.mp4``, ``*.wav``, else image)."""
    suffix = dest.suffix.lower()
    if suffix in (".mp4", ".mov", ".webm"):
        return "video"
    if suffix in (".wav", ".mp3", ".flac", ".ogg"):
        return "audio"
    return "image"


def fetch_verified(
    client: httpx.Client,
    url: str,
    dest: Path,
    verify: Verify,
    what: str,
    policy: Policy | None = None,
) -> None:
    """One try: ``url`` into ``dest`` via a temp file. Truncated or undecodable is transient."""
    policy = policy or Policy()
    kind = kind_of(dest)
    cap = policy.max_bytes.get(kind, DEFAULT_CAPS[kind])
    tmp = dest.with_name(f".{dest.name}.{uuid.uuid4().hex[:8]}.part")
    try:
        _fetch(client, url, tmp, what, policy, cap)
        whole = complete(tmp)
        if whole is not None:
            raise TransientError(f"DashScope {what}: download truncated ({whole})")
        try:
            verify(tmp)
        except Exception as err:
            raise TransientError(
                f"DashScope {what}: downloaded file does not decode ({err})"
            ) from None
        os.replace(tmp, dest)
    finally:
        tmp.unlink(missing_ok=True)


def check_url(url: httpx.URL, policy: Policy, what: str) -> None:
    """Refuse a URL that is not https to a public address, unless its host is allowed."""
    host = (url.host or "").lower()
    if host in policy.allowed_hosts:
        return
    if url.scheme != "https":
        raise ProviderError(f"DashScope {what}: result URL is not https ({url.scheme}://{host})")
    try:
        infos = socket.getaddrinfo(host, url.port or 443, type=socket.SOCK_STREAM)
    except OSError as err:
        raise TransientError(f"DashScope {what}: cannot resolve {host} ({err})") from None
    for info in infos:
        address = ipaddress.ip_address(str(info[4][0]).split("%")[0])
        if not address.is_global or address.is_multicast:
            raise ProviderError(
                f"DashScope {what}: result host {host} is at a private, loopback or "
                f"link-local address ({address}); refused"
            )


def _fetch(client: httpx.Client, url: str, tmp: Path, what: str, policy: Policy, cap: int) -> None:
    target = httpx.URL(url)
    try:
        for _ in range(MAX_REDIRECTS + 1):
            check_url(target, policy, what)
            with client.stream("GET", target, follow_redirects=False) as response:
                if response.is_redirect and "Location" in response.headers:
                    target = target.join(response.headers["Location"])
                    continue
                _save(response, tmp, what, cap)
                return
        raise ProviderError(f"DashScope {what}: more than {MAX_REDIRECTS} redirects")
    except httpx.TransportError as err:
        raise TransientError(f"DashScope {what}: download {type(err).__name__}") from None


def _save(response: httpx.Response, tmp: Path, what: str, cap: int) -> None:
    if response.status_code in (403, 404):
        raise ExpiredResult(
            f"DashScope {what}: result URL answered {response.status_code} (expired or removed)"
        )
    if response.status_code != 200:
        raise TransientError(
            f"DashScope {what}: download HTTP {response.status_code}",
            retry_after=retry_after_of(response),
        )
    expected = response.headers.get("Content-Length")
    if expected is not None and expected.isdigit() and int(expected) > cap:
        raise ProviderError(f"DashScope {what}: result is {int(expected)} bytes, over {cap}")
    written = 0
    with tmp.open("wb") as fh:
        for chunk in response.iter_bytes(CHUNK):  # gzip undone here; the cap is on what lands
            written += len(chunk)
            if written > cap:
                raise ProviderError(f"DashScope {what}: result is over {cap} bytes; refused")
            fh.write(chunk)
        fh.flush()
        os.fsync(fh.fileno())
    # Content-Length counts the bytes on the wire, before any Content-Encoding is undone.
    if (
        expected is not None
        and expected.isdigit()
        and response.num_bytes_downloaded != int(expected)
    ):
        raise TransientError(f"DashScope {what}: download truncated")


def complete(path: Path) -> str | None:
    """None if the file's own structure is whole, else what is missing (known formats only)."""
    size = path.stat().st_size
    if size == 0:
        return "empty body"
    with path.open("rb") as fh:
        head = fh.read(12)
        if head.startswith(b"\x89PNG\r\n\x1a\n"):
            fh.seek(max(0, size - 12))
            return None if fh.read(12).startswith(b"\x00\x00\x00\x00IEND") else "no PNG IEND"
        if head.startswith(b"\xff\xd8"):
            fh.seek(max(0, size - 2))
            return None if fh.read(2) == b"\xff\xd9" else "no JPEG end marker"
        if head.startswith(b"RIFF") and head[8:12] in (b"WAVE", b"WEBP"):
            declared = struct.unpack("<I", head[4:8])[0] + 8
            return None if declared <= size else f"RIFF declares {declared} bytes, got {size}"
        if head[4:8] == b"ftyp":
            return _boxes_whole(fh, size)
    return None


def _boxes_whole(fh: BinaryIO, size: int) -> str | None:
    """MP4/MOV: the top-level boxes must end exactly at the end of the file."""
    offset = 0
    while offset < size:
        fh.seek(offset)
        header = fh.read(16)
        if len(header) < 8:
            return "MP4 box header cut"
        length = struct.unpack(">I", header[:4])[0]
        if length == 1:
            if len(header) < 16:
                return "MP4 box header cut"
            length = struct.unpack(">Q", header[8:16])[0]
        elif length == 0:  # the box runs to the end of the file
            return None
        if length < 8:
            return "MP4 box of impossible size"
        offset += length
    return None if offset == size else f"MP4 boxes need {offset} bytes, got {size}"
