"""The MCP server as an agent developer's client meets it: the official MCP Python client
connected in-process (the same server ``dramaforge mcp`` runs over stdio and HTTP, see
``test_mcp.py``): version, resource types, short argument errors, files never overwritten,
paths never absolute, progress with a total, a cancel that stops the render."""

from __future__ import annotations

import json
import shutil
from pathlib import Path
from typing import Any

import anyio
import pytest
from mcp import Client

from dramaforge import __version__
from dramaforge.serve.mcp import Progress, build_server
from dramaforge.serve.workspace import Workspace
from tests.helpers import FIXTURES, settings_for

TEXT = (FIXTURES / "short.zh.txt").read_text("utf-8")


def _workspace(tmp_path: Path) -> Path:
    root = tmp_path / "ws"
    (root / "scripts").mkdir(parents=True)
    shutil.copy(FIXTURES / "short.zh.txt", root / "short.zh.txt")
    return root


def _files(root: Path) -> dict[str, bytes]:
    return {
        p.relative_to(root).as_posix(): p.read_bytes()
        for p in root.rglob("*")
        if p.is_file() and ".dramaforge" not in p.parts
    }


def _text(result: Any) -> str:
    return str(result.content[0].text)


def _run(root: Path, session: Any) -> None:
    async def go() -> None:
        async with Client(build_server(Workspace(root, settings_for()))) as client:
            await session(client)

    anyio.run(go)


def test_server_states_its_version_and_resource_types(tmp_path: Path) -> None:
    root = _workspace(tmp_path)

    async def session(client: Client) -> None:
        info = client.server_info
        assert info.name == "dramaforge" and info.version == __version__
        templates = (await client.list_resource_templates()).resource_templates
        kinds = {t.uri_template.rsplit("/", 1)[-1]: t.mime_type for t in templates}
        assert kinds == {
            "manifest": "application/json",
            "srt": "application/x-subrip",
            "storyboard": "text/html",
        }

    _run(root, session)


def test_wrong_argument_types_get_one_short_line(tmp_path: Path) -> None:
    root = _workspace(tmp_path)

    async def session(client: Client) -> None:
        for tool, args in (
            ("get_episode", {"episode": ["short"]}),
            ("rerender_shot", {"episode": "short", "shot": {"n": 2}}),
            ("render_episode", {"script": "short.zh.txt", "budget": "lots"}),
            ("render_episode", {"script": "short.zh.txt", "budget": "nan"}),
        ):
            refused = await client.call_tool(tool, args)
            text = _text(refused)
            assert refused.is_error and text.startswith("wrong arguments: "), text
            assert "\n" not in text and "pydantic" not in text and "http" not in text, text

    _run(root, session)


def test_planning_text_writes_nothing_and_rendering_text_never_overwrites(tmp_path: Path) -> None:
    root = _workspace(tmp_path)
    (root / "scripts" / "planned.txt").write_text("my own notes", encoding="utf-8")
    (root / "scripts" / "episode.txt").write_text("my other notes", encoding="utf-8")
    before = _files(root)

    async def session(client: Client) -> None:
        plan = await client.call_tool("plan_episode", {"text": TEXT})
        assert not plan.is_error, _text(plan)
        planned = plan.structured_content or {}
        assert len(planned["shots"]) == 5 and planned["script"] is None
        refused = await client.call_tool("render_episode", {"text": TEXT})
        assert refused.is_error and "exists already" in _text(refused)

    _run(root, session)
    assert _files(root) == before


def test_progress_reaches_its_total() -> None:
    progress = Progress()
    events: list[dict[str, Any]] = [
        {"stage": "ingest", "status": "done"},
        {"stage": "direct", "status": "done"},
        {"stage": "approve", "status": "done", "to_render": 2},
    ]
    for shot in ("s1", "s2"):
        for stage in ("voice", "keyframe", "inspect", "motion", "critic"):
            events += [
                {"shot": shot, "stage": stage},
                {"shot": shot, "stage": stage, "status": "done"},
            ]
    events.insert(9, {"shot": "s1", "stage": "critic", "status": "retry"})  # more than planned
    events += [
        {"stage": "score", "status": "done"},
        {"stage": "assemble", "status": "start"},
        {"stage": "assemble", "status": "done"},
        {"stage": "review", "status": "done"},
    ]
    steps = [progress.step(e) for e in events]
    assert [done for done, _ in steps] == [float(n) for n in range(1, len(events) + 1)]
    assert all(done < total for done, total in steps[:-1])
    assert steps[-1] == (len(events), len(events))
    assert steps[2][1] == 3 + 20 + 4  # known from the approve event on


@pytest.mark.slow
def test_cancelled_render_stops_and_the_next_call_resumes(tmp_path: Path) -> None:
    root = _workspace(tmp_path)

    async def session(client: Client) -> None:
        first: list[str] = []

        with anyio.CancelScope() as scope:

            async def cancel_after_planning(
                done: float, total: float | None, msg: str | None
            ) -> None:
                first.append(msg or "")
                if msg == "direct done":
                    scope.cancel()  # the client sends notifications/cancelled

            await client.call_tool(
                "render_episode",
                {"script": "short.zh.txt"},
                progress_callback=cancel_after_planning,
            )
        assert scope.cancelled_caught and first[-1] == "direct done"
        await anyio.sleep(2)
        assert not (root / "out" / "short" / "episode.mp4").exists()  # stopped, not finished

        second: list[tuple[float, float | None, str | None]] = []

        async def record(done: float, total: float | None, msg: str | None) -> None:
            second.append((done, total, msg))

        made = await client.call_tool(
            "render_episode", {"script": "short.zh.txt"}, progress_callback=record
        )
        assert not made.is_error, _text(made)
        messages = [m for _, _, m in second]
        # The first call stopped before assembling (else this one would find the episode done
        # and send nothing), and this one resumed from its checkpoint: not planned again,
        # and the shots in flight when the cancel came were kept, not made again.
        assert "assemble done" in messages and "direct done" not in messages
        assert sum(1 for m in messages if m and m.endswith("keyframe done")) < 5
        assert all(total is not None and done <= total for done, total, _ in second)
        assert second[-1][0] == second[-1][1]

        again = await client.call_tool("rerender_shot", {"episode": "short", "shot": 2})
        assert not again.is_error, _text(again)
        assert (again.structured_content or {})["takes"]["s01-02"] == 2

        got = await client.call_tool("get_episode", {"episode": "short"})
        shown = json.dumps(got.structured_content)
        assert str(tmp_path) not in shown and '"/' not in shown
        assert "out/short/episode.mp4" in shown
        resource = await client.read_resource("dramaforge://episodes/short/manifest")
        content = resource.contents[0]
        assert content.mime_type == "application/json"
        assert str(tmp_path) not in content.text and '"/' not in content.text  # type: ignore[union-attr]

    _run(root, session)


def test_http_transport_answers_only_loopback_names(tmp_path: Path) -> None:
    """The streamable HTTP app (``--http``) on loopback refuses a rebound ``Host``."""
    from starlette.testclient import TestClient

    server = build_server(Workspace(_workspace(tmp_path), settings_for()))
    hello = {
        "jsonrpc": "2.0",
        "id": 1,
        "method": "initialize",
        "params": {
            "protocolVersion": "2025-06-18",
            "capabilities": {},
            "clientInfo": {"name": "probe", "version": "1"},
        },
    }
    headers = {"accept": "application/json, text/event-stream"}
    with TestClient(server.streamable_http_app(), base_url="http://127.0.0.1:8765") as http:
        for host in ("127.0.0.1.evil.example:8765", "evil.example"):
            refused = http.post("/mcp", json=hello, headers=headers | {"host": host})
            assert refused.status_code in (403, 421), (host, refused.status_code)
        assert http.post("/mcp", json=hello, headers=headers).status_code == 200
