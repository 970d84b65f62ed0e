"""The MCP server through the SDK's own client: over stdio and over streamable HTTP."""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import anyio
import pytest
from mcp import Client, StdioServerParameters

from dramaforge.media.probe import probe
from tests.helpers import FIXTURES, free_port

pytestmark = pytest.mark.slow
TOOLS = {
    "plan_episode",
    "render_episode",
    "rerender_shot",
    "get_episode",
    "list_episodes",
    "render_batch",
}


def _workspace(tmp_path: Path) -> tuple[Path, dict[str, str]]:
    root = tmp_path / "ws"
    root.mkdir()
    shutil.copy(FIXTURES / "short.zh.txt", root / "short.zh.txt")
    (tmp_path / "secret.txt").write_text("outside", encoding="utf-8")
    env = {k: v for k, v in os.environ.items() if not k.startswith("DRAMAFORGE_")}
    env["DRAMAFORGE_RENDER__RESOLUTION"] = "360p"
    return root, env


async def _session(client: Client, root: Path) -> None:
    """What an agent does: list, plan, render with progress, read back, redo, get refused."""
    assert {t.name for t in (await client.list_tools()).tools} == TOOLS

    plan = await client.call_tool("plan_episode", {"script": "short.zh.txt"})
    assert not plan.is_error
    planned: dict[str, Any] = plan.structured_content or {}
    assert len(planned["shots"]) == 5 and planned["language"] == "zh"

    progress: list[tuple[float, str | None]] = []
    totals: list[float | None] = []

    async def on_progress(done: float, total: float | None, message: str | None) -> None:
        progress.append((done, message))
        totals.append(total)

    made = await client.call_tool(
        "render_episode", {"script": "short.zh.txt"}, progress_callback=on_progress
    )
    assert not made.is_error, made.content
    episode: dict[str, Any] = made.structured_content or {}
    info = probe(root / episode["video"])
    assert info.has_video and info.has_audio and (info.width, info.height) == (360, 640)
    assert len(progress) > 10
    assert [d for d, _ in progress] == sorted(d for d, _ in progress)
    assert any(m and "keyframe done" in m for _, m in progress)
    assert None not in totals and totals[-1] == progress[-1][0]  # a percentage, to 100%

    listed = await client.call_tool("list_episodes", {})
    assert [e["episode"] for e in (listed.structured_content or {})["episodes"]] == ["short"]
    srt = await client.read_resource("dramaforge://episodes/short/srt")
    assert "早上好" in srt.contents[0].text  # type: ignore[union-attr]

    redo = await client.call_tool("rerender_shot", {"episode": "short", "shot": "2"})
    assert (redo.structured_content or {})["takes"]["s01-02"] == 2
    manifest = await client.call_tool("get_episode", {"episode": "short"})
    shots = (manifest.structured_content or {})["shots"]
    assert [len(s["takes"]) for s in shots] == [1, 2, 1, 1, 1]

    for tool, args in (
        ("render_episode", {"script": "../secret.txt"}),
        ("plan_episode", {"script": str(root.parent / "secret.txt")}),
        ("get_episode", {"episode": "../.."}),
        ("rerender_shot", {"episode": "short", "shot": "99"}),
    ):
        refused = await client.call_tool(tool, args)
        assert refused.is_error, (tool, args)
        text = refused.content[0].text  # type: ignore[union-attr]
        assert "outside the workspace" in text or "no shot 99" in text or "not a" in text


def test_mcp_over_stdio(tmp_path: Path) -> None:
    root, env = _workspace(tmp_path)
    params = StdioServerParameters(
        command=sys.executable,
        args=["-m", "dramaforge", "mcp", "--root", str(root)],  # the CLI command
        env=env,
        cwd=str(root),
    )

    async def run() -> None:
        async with Client(params) as client:
            await _session(client, root)

    anyio.run(run)


@pytest.fixture
def http_server(tmp_path: Path) -> Iterator[tuple[str, Path]]:
    root, env = _workspace(tmp_path)
    port = free_port()
    command = [sys.executable, "-m", "dramaforge.serve.mcp", "--root", str(root)]
    proc = subprocess.Popen(
        [*command, "--http", "--port", str(port)],
        env=env,
        cwd=root,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            with socket.socket() as s:
                if s.connect_ex(("127.0.0.1", port)) == 0:
                    break
            time.sleep(0.1)
        else:
            pytest.fail("the MCP HTTP server did not start")
        yield f"http://127.0.0.1:{port}/mcp", root
    finally:
        proc.terminate()
        proc.wait(timeout=10)


def test_mcp_over_streamable_http(http_server: tuple[str, Path]) -> None:
    url, root = http_server

    async def run() -> None:
        async with Client(url) as client:
            await _session(client, root)

    anyio.run(run)
