"""The workspace's operations as LangChain tools, for a LangGraph or LangChain agent.

The same operations as the MCP server (``serve/operations.py``), confined to one workspace
folder. Results are JSON text; a bad path or shot comes back to the model as a tool error.
"""

from __future__ import annotations

import json
from typing import Any

from langchain_core.tools import BaseTool

from dramaforge.chat.toolbox import make_tool
from dramaforge.errors import DramaforgeError
from dramaforge.serve.operations import OPERATIONS, OnEvent, Operation
from dramaforge.serve.workspace import Workspace


def episode_tools(workspace: Workspace, on_event: OnEvent | None = None) -> list[BaseTool]:
    """The workspace tools; ``on_event`` receives render progress."""
    return [_tool(op, workspace, on_event) for op in OPERATIONS]


def _tool(op: Operation, workspace: Workspace, on_event: OnEvent | None) -> BaseTool:
    def run(**kwargs: Any) -> str:
        try:
            result = op.run(workspace, op.args(**kwargs), on_event, None)
        except DramaforgeError as err:
            raise workspace.quiet(err) from None
        return json.dumps(result, ensure_ascii=False)

    return make_tool(op.name, op.description, op.args, run)
