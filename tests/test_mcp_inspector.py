"""The MCP server through the official MCP Inspector CLI (npm), over stdio, as its users run
it: numbers where the schema allows them, short errors, typed resources. Installed by
``make install`` into ``.ci/node`` where npm is; skipped elsewhere."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from tests.helpers import FIXTURES, ROOT

INSPECTOR = ROOT / ".ci" / "node" / "node_modules" / ".bin" / "mcp-inspector"
pytestmark = [
    pytest.mark.slow,
    pytest.mark.skipif(not INSPECTOR.exists(), reason="needs the MCP Inspector (make install)"),
]


def _inspect(root: Path, *args: str) -> Any:
    env = {k: v for k, v in os.environ.items() if not k.startswith("DRAMAFORGE_")}
    server = [sys.executable, "-m", "dramaforge", "mcp", "--root", str(root)]
    done = subprocess.run(
        [str(INSPECTOR), "--cli", *server, *args],
        capture_output=True,
        text=True,
        env=env,
        timeout=120,
    )
    start = done.stdout.index("{")
    return json.JSONDecoder().raw_decode(done.stdout[start:])[0]


def test_inspector_sends_numbers_and_reads_typed_resources(tmp_path: Path) -> None:
    root = tmp_path / "ws"
    root.mkdir()
    shutil.copy(FIXTURES / "short.zh.txt", root / "short.zh.txt")
    call = ["--method", "tools/call", "--tool-name"]

    redo = _inspect(root, *call, "rerender_shot", "--tool-arg", "episode=short", "shot=2")
    text = redo["content"][0]["text"]
    assert redo["isError"] and "does not exist in the workspace" in text, text  # not a type error

    wrong = _inspect(root, *call, "get_episode", "--tool-arg", "episode=5")
    text = wrong["content"][0]["text"]
    assert wrong["isError"] and text.startswith("wrong arguments: episode"), text
    assert "pydantic" not in text and "\n" not in text

    templates = _inspect(root, "--method", "resources/templates/list")["resourceTemplates"]
    kinds = {t["uriTemplate"].rsplit("/", 1)[-1]: t["mimeType"] for t in templates}
    assert kinds["manifest"] == "application/json" and kinds["storyboard"] == "text/html"
