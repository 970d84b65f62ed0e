"""``dramaforge mcp``: the workspace's operations as an MCP server (stdio or streamable HTTP).

A thin adapter: each tool calls ``Workspace`` in a worker thread (the graph is synchronous)
and forwards the graph's progress events as MCP progress notifications, with an estimated
``total`` so a client can show a percentage. A batch counts episodes instead (``total`` is
the series'), its messages the lines a person would read (``ep01: s01-02 keyframe done``, an
episode's end, the cluster driver's lines); no log messages (MCP deprecated logging). A
``notifications/cancelled`` stops the render at its next progress event (a safe point: what
is paid for is checkpointed, and the same call again resumes). A ``DramaforgeError`` becomes
a tool error the calling model can read, and arguments of the wrong type a one-line error;
the server keeps running. Episode files are
resources with their types: ``dramaforge://episodes/{name}/manifest`` (JSON, paths relative
to the workspace), ``.../srt`` (SubRip text), ``.../storyboard`` (HTML).
"""

from __future__ import annotations

import argparse
import inspect
import json
import threading
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Annotated, Any, Literal

import anyio
import anyio.from_thread
import anyio.to_thread
from mcp.server.mcpserver import Context, MCPServer
from mcp.server.mcpserver.exceptions import ResourceNotFoundError, ToolError
from mcp.types import CallToolResult, TextContent
from pydantic import Field, ValidationError

from dramaforge import __version__
from dramaforge.config import Settings
from dramaforge.errors import DramaforgeError
from dramaforge.graph.session import Event
from dramaforge.serve.operations import OPERATIONS, Operation
from dramaforge.serve.workspace import Workspace

Transport = Literal["stdio", "http"]
FILES = {"manifest": "manifest.json", "srt": "episode.srt", "storyboard": "storyboard.html"}
KINDS = {
    "manifest": ("application/json", "manifest: shots, takes, prompts, costs (paths relative)"),
    "srt": ("application/x-subrip", "subtitles (SubRip)"),
    "storyboard": ("text/html", "storyboard page (HTML)"),
}


def describe(event: Event) -> str:
    """One progress line: "s01-02 keyframe done" or "assemble start"."""
    parts = [event.get("shot"), event.get("stage"), event.get("status")]
    return " ".join(str(p) for p in parts if p)


class Stopped(Exception):
    """Raised in the worker at the render's next event once the caller has cancelled."""


SHOT_EVENTS = 10
"""Events one shot to render sends: voice, keyframe, inspect, motion, critic; start and done."""
FIXED_EVENTS = 7
"""Events of the episode itself: ingest, direct, approve, score, assemble (2), review."""


@dataclass
class Progress:
    """Counts events into MCP progress: ``progress`` rises by one per event and ``total`` is
    the estimate from the plan (known once ``approve`` says how many shots will be made); a
    retry makes more events than estimated, so ``total`` stays ahead until the last one."""

    sent: int = 0
    total: int = FIXED_EVENTS

    def step(self, event: Event) -> tuple[float, float]:
        self.sent += 1
        if event.get("stage") == "approve" and event.get("status") == "done":
            todo = event.get("to_render")
            if isinstance(todo, int):
                self.total = self.sent + SHOT_EVENTS * todo + FIXED_EVENTS - 3
        last = event.get("stage") == "review" and event.get("status") == "done"
        self.total = self.sent if last else max(self.total, self.sent + 1)
        return float(self.sent), float(self.total)


@dataclass
class BatchProgress:
    """A batch's events as MCP progress: ``total`` is the series' episodes and ``progress``
    the episodes ended, plus a share of the next one that grows with each event and never
    reaches it (progress must rise with every notification)."""

    ended: int = 0
    within: int = 0
    last: float = -1.0

    def step(self, event: Event) -> tuple[float, float] | None:
        """(progress, total), or None where it would not rise (events after the last end)."""
        ended, total = int(event.get("ended") or 0), int(event.get("total") or 0)
        self.within = 0 if ended != self.ended else self.within + 1
        self.ended = ended
        done = float(ended) if ended >= total else ended + 0.9 * self.within / (self.within + 1)
        if done <= self.last:
            return None
        self.last = done
        return done, float(max(total, 1))


def batch_line(event: Event) -> str:
    """A batch event's message: its line, or "ep01: s01-02 keyframe done"."""
    return str(event.get("line") or f"{event.get('episode', '')}: {describe(event)}")


async def _call(
    workspace: Workspace,
    ctx: Context | None,
    work: Callable[[Callable[[Event], None], threading.Event], Any],
    batch: bool = False,
) -> Any:
    """Run ``work(on_event, stop)`` in a worker thread, sending each event as a progress
    notification (from whichever thread reports it: a local batch's episodes have their own).

    Cancelled (``notifications/cancelled``, or the client gone), the call returns at once and
    the worker stops at its next event (a cluster batch's driver at once, through ``stop``);
    the episode's run lock keeps a second call waiting until it has."""
    progress = Progress()
    episodes = BatchProgress()
    stop = threading.Event()
    turn = threading.Lock()  # a local batch's episodes report from threads of their own

    async with anyio.from_thread.BlockingPortal() as portal:

        def on_event(event: Event) -> None:
            if stop.is_set():
                raise Stopped
            if ctx is None:
                return
            with turn:
                if not batch:
                    done, total = progress.step(event)
                    portal.call(ctx.report_progress, done, total, describe(event))
                    return
                step = episodes.step(event)
                if step is not None:
                    portal.call(ctx.report_progress, *step, batch_line(event))

        def run() -> Any:
            try:
                return work(on_event, stop)
            except Stopped:
                return None

        try:
            return await anyio.to_thread.run_sync(run, abandon_on_cancel=True)
        except anyio.get_cancelled_exc_class():
            stop.set()
            raise
        except DramaforgeError as err:
            refused = err
    raise ToolError(str(workspace.quiet(refused))) from None  # outside the portal's task group


def _brief(err: ValidationError) -> str:
    """A model's wrong arguments in one line it can act on (not pydantic's dump and URL)."""
    parts = []
    for e in err.errors()[:4]:
        where = ".".join(str(p) for p in e["loc"]) or "arguments"
        parts.append(f"{where}: {e['msg'].lower()}")
    return "wrong arguments: " + "; ".join(parts)


class ArgumentCheck:
    """Server middleware: a tool's arguments checked against its operation's model before the
    SDK sees them, a mismatch answered as a short tool error."""

    def __init__(self, operations: tuple[Operation, ...]) -> None:
        self.models = {op.name: op.args for op in operations}

    async def __call__(self, ctx: Any, call_next: Any) -> Any:
        params = ctx.params if isinstance(ctx.params, dict) else {}
        model = self.models.get(str(params.get("name"))) if ctx.method == "tools/call" else None
        if model is not None:
            try:
                model.model_validate(params.get("arguments") or {})
            except ValidationError as err:
                return CallToolResult(
                    content=[TextContent(type="text", text=_brief(err))], is_error=True
                )
        return await call_next(ctx)


def _mcp_tool(op: Operation, workspace: Workspace) -> Callable[..., Any]:
    """An async function whose signature is ``op.args``'s fields (plus the MCP context), so the
    SDK publishes the same schema the LangChain tools do."""

    async def tool(ctx: Context | None = None, **kwargs: Any) -> dict[str, Any]:
        args = op.args(**kwargs)
        progress = ctx if op.reports_progress else None
        return await _call(  # type: ignore[no-any-return]
            workspace,
            progress,
            lambda on_event, stop: op.run(workspace, args, on_event, stop),
            batch=op.batch,
        )

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


def _reader(read: Callable[[str, str], str], part: str) -> Callable[[str], str]:
    """The resource function of one kind of episode file (the SDK reads its signature)."""

    def episode_file(name: str) -> str:
        return read(name, part)

    episode_file.__name__ = f"episode_{part}"
    return episode_file


def build_server(workspace: Workspace) -> MCPServer:
    server: MCPServer = MCPServer(
        "dramaforge",
        version=__version__,
        middleware=[ArgumentCheck(OPERATIONS)],
        instructions=(
            "Turns scripts (Chinese marker scripts, Fountain, YAML briefs, prose) into finished "
            "short videos. plan_episode first (free), render_episode to make it, rerender_shot "
            "to redo one shot, render_batch for a series. Paths are relative to the workspace."
        ),
    )

    for op in OPERATIONS:
        server.add_tool(_mcp_tool(op, workspace), name=op.name, description=op.description)

    def read(name: str, part: str) -> str:
        try:
            folder = workspace.episode_dir(name)
            text = workspace.served_file(folder, FILES[part]).read_text(encoding="utf-8")
        except DramaforgeError as err:
            raise ResourceNotFoundError(str(workspace.quiet(err))) from None
        if part == "manifest":
            return json.dumps(workspace.relative_paths(json.loads(text)), ensure_ascii=False)
        return text

    for part, (mime, what) in KINDS.items():
        server.resource(
            f"dramaforge://episodes/{{name}}/{part}",
            name=f"episode_{part}",
            description=f"An episode's {what}",
            mime_type=mime,
        )(_reader(read, part))

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
