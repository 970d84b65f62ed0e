"""``dramaforge mcp``: the workspace's operations as an MCP server (stdio or streamable HTTP).

A thin adapter: each tool calls ``Workspace`` in a worker thread (the graph is synchronous)
and forwards the graph's progress events as MCP progress notifications. A ``DramaforgeError``
becomes a tool error the calling model can read; the server keeps running. Episode files are
resources: ``dramaforge://episodes/{name}/manifest`` (JSON), ``.../srt``, ``.../storyboard``.
"""

from __future__ import annotations

import argparse
import inspect
import json
from collections.abc import Callable
from pathlib import Path
from typing import Annotated, Any, Literal

import anyio
import anyio.from_thread
import anyio.to_thread
from mcp.server.mcpserver import Context, MCPServer
from mcp.server.mcpserver.exceptions import ResourceNotFoundError, ToolError
from pydantic import Field

from dramaforge.config import Settings
from dramaforge.errors import DramaforgeError
from dramaforge.graph.session import Event
from dramaforge.serve.operations import OPERATIONS, Operation
from dramaforge.serve.workspace import Workspace

Transport = Literal["stdio", "http"]
FILES = {"manifest": "manifest.json", "srt": "episode.srt", "storyboard": "storyboard.html"}


def describe(event: Event) -> str:
    """One progress line: "s01-02 keyframe done" or "assemble start"."""
    parts = [event.get("shot"), event.get("stage"), event.get("status")]
    return " ".join(str(p) for p in parts if p)


async def _call(
    workspace: Workspace, ctx: Context | None, work: Callable[[Callable[[Event], None]], Any]
) -> Any:
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
        raise ToolError(str(workspace.quiet(err))) from None


def _mcp_tool(op: Operation, workspace: Workspace) -> Callable[..., Any]:
    """An async function whose signature is ``op.args``'s fields (plus the MCP context), so the
    SDK publishes the same schema the LangChain tools do."""

    async def tool(ctx: Context | None = None, **kwargs: Any) -> dict[str, Any]:
        args = op.args(**kwargs)
        progress = ctx if op.reports_progress else None
        return await _call(workspace, progress, lambda on_event: op.run(workspace, args, on_event))  # type: ignore[no-any-return]

    fields = [
        inspect.Parameter(
            name,
            inspect.Parameter.KEYWORD_ONLY,
            annotation=Annotated[info.annotation, Field(description=info.description)],
            default=inspect.Parameter.empty if info.is_required() else info.default,
        )
        for name, info in op.args.model_fields.items()
    ]
    context = inspect.Parameter(
        "ctx", inspect.Parameter.KEYWORD_ONLY, annotation=Context | None, default=None
    )
    tool.__signature__ = inspect.Signature(  # type: ignore[attr-defined]
        [*fields, context], return_annotation=dict[str, Any]
    )
    tool.__annotations__ = {
        **{p.name: p.annotation for p in fields},
        "ctx": Context | None,
        "return": dict[str, Any],
    }
    tool.__name__ = op.name
    return tool


def build_server(workspace: Workspace) -> MCPServer:
    server: MCPServer = MCPServer(
        "dramaforge",
        instructions=(
            "Turns scripts (Chinese marker scripts, Fountain, YAML briefs, prose) into finished "
            "short videos. plan_episode first (free), render_episode to make it, rerender_shot "
            "to redo one shot. Paths are relative to the workspace."
        ),
    )

    for op in OPERATIONS:
        server.add_tool(_mcp_tool(op, workspace), name=op.name, description=op.description)

    @server.resource(
        "dramaforge://episodes/{name}/{part}",
        description="An episode's manifest (JSON), subtitles (SRT) or storyboard (HTML)",
    )
    def episode_file(name: str, part: str) -> str:
        if part not in FILES:
            raise ResourceNotFoundError(f"no {part!r}; one of: {', '.join(FILES)}")
        try:
            folder = workspace.episode_dir(name)
            return workspace.served_file(folder, FILES[part]).read_text(encoding="utf-8")
        except DramaforgeError as err:
            raise ResourceNotFoundError(str(workspace.quiet(err))) from None

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
