"""Result downloads against a local server: https or allowed hosts only, no redirects into the
machine's own network, a size cap per kind, truncation caught with or without Content-Length,
gzip bodies accepted, the file flushed to disk before it is renamed into place."""

from __future__ import annotations

import gzip
import threading
from collections.abc import Callable, Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from io import BytesIO
from pathlib import Path
from typing import Any

import httpx
import pytest
from PIL import Image

from dramaforge.errors import ProviderError
from dramaforge.media.ffmpeg import run_ffmpeg
from dramaforge.media.probe import probe
from dramaforge.tools.dashscope import download
from dramaforge.tools.dashscope.download import Policy, complete, fetch_verified
from dramaforge.tools.dashscope.error_codes import TransientError

Route = dict[str, Any]


class Files:
    """A loopback file server whose routes say status, headers, body and how to misbehave."""

    def __init__(self) -> None:
        self.routes: dict[str, Route] = {}
        routes = self.routes

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, format: str, *args: Any) -> None:
                pass

            def do_GET(self) -> None:
                route = routes[self.path]
                body: bytes = route.get("body", b"")
                self.send_response(route.get("status", 200))
                for name, value in route.get("headers", {}).items():
                    self.send_header(name, value)
                if route.get("length", True):
                    self.send_header("Content-Length", str(route.get("declared", len(body))))
                else:
                    self.send_header("Connection", "close")
                    self.close_connection = True
                self.end_headers()
                self.wfile.write(body[: route.get("send", len(body))])
                self.wfile.flush()
                if "send" in route:
                    self.close_connection = True

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def url(self, path: str) -> str:
        return f"http://127.0.0.1:{self.server.server_address[1]}{path}"

    def stop(self) -> None:
        self.server.shutdown()
        self.server.server_close()


@pytest.fixture
def files() -> Iterator[Files]:
    served = Files()
    yield served
    served.stop()


LOOPBACK = Policy(allowed_hosts=frozenset({"127.0.0.1"}))


def png_bytes() -> bytes:
    buf = BytesIO()
    Image.new("RGB", (64, 48), (200, 40, 40)).save(buf, format="PNG")
    return buf.getvalue()


def mp4_bytes(tmp_path: Path) -> bytes:
    """A faststart MP4 (index first): half of it still probes, so only structure tells."""
    out = tmp_path / "clip.mp4"
    run_ffmpeg(
        [
            "-f", "lavfi", "-i", "testsrc2=size=160x120:rate=12:duration=2",
            "-c:v", "libx264", "-preset", "ultrafast", "-pix_fmt", "yuv420p",
            "-movflags", "+faststart", out,
        ],
        what="making a test clip",
    )  # fmt: skip
    return out.read_bytes()


def verify_png(path: Path) -> None:
    with Image.open(path) as img:
        img.load()


def verify_mp4(path: Path) -> None:
    assert probe(path).has_video


def fetch(
    url: str, dest: Path, verify: Callable[[Path], None] = verify_png, policy: Policy = LOOPBACK
) -> None:
    with httpx.Client(timeout=5.0, follow_redirects=True) as client:
        fetch_verified(client, url, dest, verify, "test", policy)


def leftovers(folder: Path) -> list[Path]:
    return [p for p in folder.iterdir() if p.name.endswith(".part")]


def test_a_whole_file_lands_fsynced(
    files: Files, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    synced: list[int] = []
    real = download.os.fsync
    monkeypatch.setattr(download.os, "fsync", lambda fd: (synced.append(fd), real(fd))[1])
    files.routes["/a.png"] = {"body": png_bytes()}
    fetch(files.url("/a.png"), tmp_path / "a.png")
    assert (tmp_path / "a.png").read_bytes() == png_bytes() and synced
    assert not leftovers(tmp_path)


def test_plain_http_to_a_host_not_allowed_is_refused(files: Files, tmp_path: Path) -> None:
    files.routes["/a.png"] = {"body": png_bytes()}
    with pytest.raises(ProviderError, match="not https"):
        fetch(files.url("/a.png"), tmp_path / "a.png", policy=Policy())
    assert not (tmp_path / "a.png").exists()


@pytest.mark.parametrize(
    "location",
    [
        "https://169.254.169.254/latest/meta-data/",  # cloud metadata: link-local
        "https://10.1.2.3/x.png",  # private
        "https://192.168.0.10/x.png",
        "https://localhost:1/x.png",  # loopback by name
        "https://[::1]:1/x.png",
        "http://169.254.169.254/latest/meta-data/",  # and not https either
    ],
)
def test_redirects_into_the_machines_own_network_are_refused(
    files: Files, tmp_path: Path, location: str
) -> None:
    files.routes["/r"] = {"status": 302, "headers": {"Location": location}}
    with pytest.raises(ProviderError) as err:
        fetch(files.url("/r"), tmp_path / "a.png")
    assert "private, loopback or link-local" in str(err.value) or "not https" in str(err.value)
    assert not isinstance(err.value, TransientError)  # refused, not retried
    assert not (tmp_path / "a.png").exists()


def test_a_redirect_to_an_allowed_host_is_followed(files: Files, tmp_path: Path) -> None:
    files.routes["/r"] = {"status": 302, "headers": {"Location": "/a.png"}}
    files.routes["/a.png"] = {"body": png_bytes()}
    fetch(files.url("/r"), tmp_path / "a.png")
    assert (tmp_path / "a.png").read_bytes() == png_bytes()


@pytest.mark.parametrize("length", [True, False])
def test_a_body_over_the_kinds_cap_is_refused(files: Files, tmp_path: Path, length: bool) -> None:
    """300 MB is not a keyframe: the cap holds with or without Content-Length."""
    files.routes["/big"] = {"body": png_bytes() + b"\0" * (2 << 20), "length": length}
    policy = Policy(allowed_hosts=LOOPBACK.allowed_hosts, max_bytes={"image": 1 << 20})
    with pytest.raises(ProviderError, match="over"):
        fetch(files.url("/big"), tmp_path / "a.png", policy=policy)
    assert not (tmp_path / "a.png").exists() and not leftovers(tmp_path)


def test_truncated_with_content_length_is_transient(files: Files, tmp_path: Path) -> None:
    data = png_bytes()
    files.routes["/t"] = {"body": data, "send": len(data) // 2}
    with pytest.raises(TransientError):
        fetch(files.url("/t"), tmp_path / "a.png")
    assert not (tmp_path / "a.png").exists() and not leftovers(tmp_path)


@pytest.mark.parametrize("kind", ["png", "mp4"])
def test_truncated_without_content_length_is_caught(
    files: Files, tmp_path: Path, kind: str
) -> None:
    data = png_bytes() if kind == "png" else mp4_bytes(tmp_path)
    cut = data[: int(len(data) * 0.7)]
    files.routes["/t"] = {"body": cut, "length": False}
    dest = tmp_path / f"raw.download.{kind}"
    verify = verify_png if kind == "png" else verify_mp4
    with pytest.raises(TransientError, match="truncated"):
        fetch(files.url("/t"), dest, verify)
    assert not dest.exists()
    files.routes["/w"] = {"body": data, "length": False}  # the whole file, same headers
    fetch(files.url("/w"), dest, verify)
    assert dest.read_bytes() == data


def test_gzip_encoded_body_is_decoded_not_called_truncated(files: Files, tmp_path: Path) -> None:
    data = png_bytes()
    packed = gzip.compress(data)
    files.routes["/g"] = {"body": packed, "headers": {"Content-Encoding": "gzip"}}
    fetch(files.url("/g"), tmp_path / "a.png")
    assert (tmp_path / "a.png").read_bytes() == data


def test_structure_checks(tmp_path: Path) -> None:
    path = tmp_path / "f"
    wav = b"RIFF" + (36 + 8).to_bytes(4, "little") + b"WAVE" + b"\0" * 40
    for blob, whole in [(png_bytes(), True), (png_bytes()[:-5], False), (wav, True),
                        (wav[:-4], False), (b"", False), (b"plain text", True)]:  # fmt: skip
        path.write_bytes(blob)
        assert (complete(path) is None) == whole, blob[:12]
