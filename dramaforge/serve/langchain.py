"""The workspace's operations as LangChain tools, for a LangGraph or LangChain agent.

The same five operations as the MCP server (``plan_episode``, ``render_episode``,
``rerender_shot``, ``get_episode``, ``list_episodes``), confined to one workspace folder.
Results are JSON text; a bad path or shot comes back to the model as a tool error.
"""

from __future__ import annotations

import json
from typing import Any

from langchain_core.tools import BaseTool
from pydantic import BaseModel, Field

from dramaforge.chat.agent import OnEvent, make_tool
from dramaforge.schema import Aspect, Resolution
from dramaforge.serve.workspace import Workspace


class ScriptArgs(BaseModel):
    script: str | None = Field(None, description="script file, relative to the workspace")
    text: str | None = Field(None, description="or the script's text itself")


class RenderArgs(ScriptArgs):
    name: str = Field("episode", description="file name for a script given as text")
    aspect: Aspect | None = Field(None, description="9:16, 16:9 or 1:1")
    resolution: Resolution | None = None
    budget: float | None = Field(None, description="stop before paid work would exceed this")


class RerenderArgs(BaseModel):
    episode: str = Field(description="episode name, as list_episodes shows it")
    shot: str = Field(description="shot number (from 1) or shot id")
    prompt: str | None = Field(None, description="new visual prompt for the shot")
    take: int | None = Field(None, description="restore this earlier take instead (free)")


class EpisodeArgs(BaseModel):
    episode: str = Field(description="episode name, as list_episodes shows it")


class NoArgs(BaseModel):
    pass


def _json(data: Any) -> str:
    return json.dumps(data, ensure_ascii=False)


def episode_tools(workspace: Workspace, on_event: OnEvent | None = None) -> list[BaseTool]:
    """The five workspace tools; ``on_event`` receives render progress."""
    w = workspace

    def render(**args: Any) -> str:
        script, text = args.pop("script", None), args.pop("text", None)
        return _json(w.render_episode(script, text, on_event=on_event, **args))

    def rerender(
        episode: str, shot: str, prompt: str | None = None, take: int | None = None
    ) -> str:
        return _json(w.rerender_shot(episode, shot, prompt, take, on_event))

    return [
        make_tool(
            "plan_episode",
            "Shot list and estimated cost of a script; free, nothing is rendered.",
            ScriptArgs,
            lambda script=None, text=None: _json(w.plan_episode(script, text)),
        ),
        make_tool(
            "render_episode",
            "Render a script into a finished episode (MP4, SRT, manifest, storyboard). "
            "Spends money with paid models; the same script again returns the finished episode.",
            RenderArgs,
            render,
        ),
        make_tool(
            "rerender_shot",
            "Redo one shot of a rendered episode (new prompt or fresh take), or restore an "
            "earlier take; the episode is re-assembled.",
            RerenderArgs,
            rerender,
        ),
        make_tool(
            "get_episode",
            "The manifest of a rendered episode: shots, takes, prompts, costs, review.",
            EpisodeArgs,
            lambda episode: _json(w.get_episode(episode)),
        ),
        make_tool(
            "list_episodes",
            "Every rendered episode in the workspace, newest first.",
            NoArgs,
            lambda: _json(w.list_episodes()),
        ),
    ]
