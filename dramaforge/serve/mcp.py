"""``dramaforge mcp``: the workspace's operations as an MCP server (stdio or streamable HTTP).

A thin adapter: each tool calls ``Workspace`` in a worker thread (the graph is synchronous)
and forwards the graph's progress events as MCP progress notifications. A ``DramaforgeError``
becomes a tool error the calling model can read; the server keeps running. Episode files are
resources: ``dramaforge://episodes/{name}/manifest`` (JSON), ``.../srt``, ``.../storyboard``.
"""

from __future__ import annotations

import argparse
import json
from collections.abc import Callable
from pathlib import Path
from typing import Any, Literal

import anyio
import anyio.from_thread
import anyio.to_thread
from mcp.server.mcpserver import Context, MCPServer
from mcp.server.mcpserver.exceptions import ResourceNotFoundError, ToolError

from dramaforge.config import Settings
from dramaforge.errors import DramaforgeError
from dramaforge.graph.session import Event
from dramaforge.schema import Aspect, Resolution
from dramaforge.serve.workspace import Workspace

Transport = Literal["stdio", "http"]
FILES = {"manifest": "manifest.json", "srt": "episode.srt", "storyboard": "storyboard.html"}


def describe(event: Event) -> str:
    """One progress line: "s01-02 keyframe done" or "assemble start"."""
    parts = [event.get("shot"), event.get("stage"), event.get("status")]
    return " ".join(str(p) for p in parts if p)


async def _call(ctx: Context | None, work: Callable[[Callable[[Event], None]], Any]) -> Any:
    """Run ``work(on_event)`` in a worker thread, sending each event as a progress notification."""
    sent = 0

    def on_event(event: Event) -> None:
        nonlocal sent
        sent += 1
        if ctx is not None:
            anyio.from_thread.run(ctx.report_progress, float(sent), None, describe(event))

    try:
        return await anyio.to_thread.run_sync(lambda: work(on_event))
    except DramaforgeError as err:
        raise ToolError(str(err)) from None


def build_server(workspace: Workspace) -> MCPServer:
    server: MCPServer = MCPServer(
        "dramaforge",
        instructions=(
            "Turns scripts (Chinese marker scripts, Fountain, YAML briefs, prose) into finished "
            "short videos. plan_episode first (free), render_episode to make it, rerender_shot "
            "to redo one shot. Paths are relative to the workspace."
        ),
    )

    @server.tool()
    async def plan_episode(
        script: str | None = None, text: str | None = None, ctx: Context | None = None
    ) -> dict[str, Any]:
        """Shot list and estimated cost of a script (a workspace path, or its text); free."""
        return await _call(ctx, lambda _e: workspace.plan_episode(script, text))  # type: ignore[no-any-return]

    @server.tool()
    async def render_episode(
        script: str | None = None,
        text: str | None = None,
        name: str = "episode",
        aspect: Aspect | None = None,
        resolution: Resolution | None = None,
        budget: float | None = None,
        ctx: Context | None = None,
    ) -> dict[str, Any]:
        """Render a script (workspace path, or text saved as scripts/<name>.txt) into
        out/<episode>/: episode.mp4, episode.srt, manifest.json, storyboard.html. Long-running;
        reports progress. The same script again returns the finished episode."""
        return await _call(  # type: ignore[no-any-return]
            ctx,
            lambda on_event: workspace.render_episode(
                script,
                text,
                name,
                aspect=aspect,
                resolution=resolution,
                budget=budget,
                on_event=on_event,
            ),
        )

    @server.tool()
    async def rerender_shot(
        episode: str,
        shot: str,
        prompt: str | None = None,
        take: int | None = None,
        ctx: Context | None = None,
    ) -> dict[str, Any]:
        """Redo one shot of a rendered episode (shot number from 1, or id): with a new visual
        prompt, as a fresh take, or restoring earlier take number `take` (free); re-assembles."""
        return await _call(  # type: ignore[no-any-return]
            ctx,
            lambda on_event: workspace.rerender_shot(episode, shot, prompt, take, on_event),
        )

    @server.tool()
    async def get_episode(episode: str) -> dict[str, Any]:
        """The manifest of a rendered episode: shots, takes, prompts, seeds, costs, review."""
        return await _call(None, lambda _e: workspace.get_episode(episode))  # type: ignore[no-any-return]

    @server.tool()
    async def list_episodes() -> dict[str, Any]:
        """Every rendered episode in the workspace, newest first."""
        return {"episodes": await _call(None, lambda _e: workspace.list_episodes())}

    @server.resource(
        "dramaforge://episodes/{name}/{part}",
        description="An episode's manifest (JSON), subtitles (SRT) or storyboard (HTML)",
    )
    def episode_file(name: str, part: str) -> str:
        if part not in FILES:
            raise ResourceNotFoundError(f"no {part!r}; one of: {', '.join(FILES)}")
        try:
            folder = workspace.episode_dir(name)
        except DramaforgeError as err:
            raise ResourceNotFoundError(str(err)) from None
        return (folder / FILES[part]).read_text(encoding="utf-8")

    @server.resource("dramaforge://episodes", mime_type="application/json")
    def episodes() -> str:
        return json.dumps(workspace.list_episodes(), ensure_ascii=False)

    return server


def serve(
    root: Path,
    settings: Settings,
    transport: Transport = "stdio",
    host: str = "127.0.0.1",
    port: int = 8765,
) -> None:
    """Serve the workspace ``root`` until the client (stdio) or the process (HTTP) ends."""
    server = build_server(Workspace(root, settings))
    if transport == "stdio":
        server.run("stdio")
    else:
        server.run("streamable-http", host=host, port=port)


def main() -> None:  # pragma: no cover - exercised through subprocess tests
    parser = argparse.ArgumentParser(prog="python -m dramaforge.serve.mcp")
    parser.add_argument("--root", type=Path, default=Path.cwd())
    parser.add_argument("--http", action="store_true", help="streamable HTTP instead of stdio")
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=8765)
    args = parser.parse_args()
    serve(args.root, Settings(), "http" if args.http else "stdio", args.host, args.port)


if __name__ == "__main__":  # pragma: no cover
    main()
