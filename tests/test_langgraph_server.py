"""``langgraph.json`` as a LangGraph user meets it: the real ``langgraph dev`` server (offline,
loopback, no browser) driven by the official ``langgraph_sdk`` client, and the served graph
called the way the server calls it (a context dict)."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from dramaforge.errors import WorkspaceError
from dramaforge.graph.build import build_graph
from dramaforge.graph.threads import make_options
from dramaforge.media.probe import probe
from tests.helpers import FIXTURES, ROOT, free_port, settings_for

LANGGRAPH = Path(sys.executable).parent / "langgraph"


def _options(script: Path, out: Path) -> dict[str, Any]:
    options: dict[str, Any] = make_options(script, out, settings_for()).model_dump(mode="json")
    return options


def test_a_context_dict_builds_the_context_from_settings(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """What every server run did: ``context={}`` failed in ``RenderContext.__init__`` before the
    first node. Now the run reaches ``ingest``, which refuses a script outside the served
    folder, saying how to fix it."""
    monkeypatch.chdir(tmp_path)
    monkeypatch.delenv("DRAMAFORGE_WORKSPACE", raising=False)
    elsewhere = tmp_path.parent / f"{tmp_path.name}-elsewhere.txt"
    shutil.copy(FIXTURES / "short.zh.txt", elsewhere)
    graph = build_graph()
    state = {"script_path": str(elsewhere), "options": _options(elsewhere, tmp_path / "out")}
    for context in ({}, None):
        with pytest.raises(WorkspaceError, match="a LangGraph server renders only scripts"):
            graph.invoke(state, context=context)


def test_the_served_graph_publishes_its_schemas() -> None:
    graph = build_graph()
    given = graph.get_input_jsonschema()
    assert set(given["required"]) == {"script_path", "options"}
    assert "resolution" in given["$defs"]["RenderOptions"]["properties"]
    assert "manifest" in graph.get_output_jsonschema()["properties"]
    assert graph.get_context_jsonschema() is not None


# ---- the real server ------------------------------------------------------------------------


@pytest.fixture
def langgraph_dev(tmp_path: Path) -> Iterator[tuple[str, Path]]:
    """``langgraph dev`` serving this repository's ``langgraph.json`` from a workspace folder
    (its working folder: the one folder runs may read and write)."""
    if not LANGGRAPH.exists():
        pytest.skip("needs langgraph-cli[inmem] (a dev dependency)")
    root = tmp_path / "ws"
    root.mkdir()
    shutil.copy(FIXTURES / "short.zh.txt", root / "short.zh.txt")
    env = {k: v for k, v in os.environ.items() if not k.startswith("DRAMAFORGE_")}
    env |= {"DRAMAFORGE_RENDER__RESOLUTION": "360p", "LANGSMITH_TRACING": "false"}
    port = free_port()
    command = [str(LANGGRAPH), "dev", "--config", str(ROOT / "langgraph.json")]
    command += ["--host", "127.0.0.1", "--port", str(port), "--no-browser", "--no-reload"]
    log = (tmp_path / "server.log").open("wb")
    server = subprocess.Popen(command, cwd=root, env=env, stdout=log, stderr=subprocess.STDOUT)
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 90
        while True:
            try:
                if httpx.get(f"{url}/ok", timeout=2).status_code == 200:
                    break
            except httpx.TransportError:
                pass
            if time.monotonic() > deadline or server.poll() is not None:
                pytest.fail((tmp_path / "server.log").read_text(errors="replace")[-3000:])
            time.sleep(0.5)
        yield url, root
    finally:
        server.terminate()
        server.wait(timeout=20)
        log.close()


@pytest.mark.slow
def test_langgraph_dev_runs_streams_and_reports_errors(langgraph_dev: tuple[str, Path]) -> None:
    from langgraph_sdk import get_sync_client

    url, root = langgraph_dev
    client = get_sync_client(url=url)
    (assistant,) = client.assistants.search(graph_id="dramaforge")
    schemas = client.assistants.get_schemas(assistant["assistant_id"])
    assert schemas["input_schema"] is not None and schemas["output_schema"] is not None
    assert "script_path" in schemas["input_schema"]["properties"]

    thread = client.threads.create()
    script = root / "short.zh.txt"
    given = {"script_path": "short.zh.txt", "options": _options(script, root / "out")}
    events: list[tuple[str, Any]] = []
    for part in client.runs.stream(
        thread["thread_id"],
        "dramaforge",
        input=given,
        stream_mode=["custom", "updates"],
        stream_subgraphs=True,  # per-shot progress comes from the shot subgraphs
    ):
        events.append((part.event, part.data))
    kinds = {event.split("|")[0] for event, _ in events}
    assert "error" not in kinds, [d for e, d in events if e == "error"]
    shot_progress = [
        d for e, d in events if e.startswith("custom|shot") and d.get("status") == "done"
    ]
    assert {d["shot"] for d in shot_progress} == {"s01-01", "s01-02", "s01-03", "s02-01", "s02-02"}
    state = client.threads.get_state(thread["thread_id"])
    video = Path(state["values"]["episode"]["path"])
    assert video.is_relative_to(root)
    info = probe(video)
    assert info.has_video and info.has_audio and (info.width, info.height) == (360, 640)

    (root.parent / "outside.txt").write_text("【场景1】门外\n阿明：你好。\n", encoding="utf-8")
    failed = client.threads.create()
    outside = {"script_path": "../outside.txt", "options": given["options"]}
    errors = [
        part.data
        for part in client.runs.stream(failed["thread_id"], "dramaforge", input=outside)
        if part.event == "error"
    ]
    assert errors and errors[0]["error"] == "WorkspaceError", errors
    assert "leads outside the workspace" in errors[0]["message"]
    assert "renders only scripts" in errors[0]["message"]
