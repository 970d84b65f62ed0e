"""Wiring only: the graph as docs/design/graph.md draws it (and explains each node).

ingest -> direct -> bible -> approve -> cast -> ahead -> shot (one per shot to render, via Send)
       -> score -> assemble -> review  (approve interrupts only when a person is directing;
                                        nothing before it is paid: cast makes the voices and
                                        reference sheets the approved bible lists;
                                        ahead starts the score, sound and segments early)
shot:   voice || keyframe -> inspect -> (keyframe | motion) -> lipsync -> critic
        critic -> (voice -> motion | keyframe | motion | lipsync | done)

A shot's voice and keyframe start together: the keyframe is a paid task that needs nothing
from the voice, so its provider slot is taken at once instead of after local speech; the
clip (inspect -> motion) then has both, since a step ends when all its branches have.
"""

from __future__ import annotations

from langgraph.checkpoint.base import BaseCheckpointSaver
from langgraph.graph import END, START, StateGraph
from langgraph.graph.state import CompiledStateGraph

from dramaforge.graph.context import RenderContext, accept_served
from dramaforge.graph.nodes import shot as shot_nodes
from dramaforge.graph.nodes.ahead import ahead
from dramaforge.graph.nodes.assemble import assemble
from dramaforge.graph.nodes.cast import cast
from dramaforge.graph.nodes.keyframe_check import inspect
from dramaforge.graph.nodes.lipsync import lipsync
from dramaforge.graph.nodes.prepare import approve, bible, direct, fan_out, ingest
from dramaforge.graph.nodes.review import review
from dramaforge.graph.nodes.score import score
from dramaforge.graph.state import EpisodeState, InputState, ShotInput, ShotOutput, ShotState


def build_shot_graph() -> CompiledStateGraph[ShotState, RenderContext, ShotInput, ShotOutput]:
    g = StateGraph(
        ShotState, context_schema=RenderContext, input_schema=ShotInput, output_schema=ShotOutput
    )
    g.add_node("voice", shot_nodes.voice)
    g.add_node("keyframe", shot_nodes.keyframe)
    g.add_node("inspect", inspect)
    g.add_node("motion", shot_nodes.motion)
    g.add_node("lipsync", lipsync)
    g.add_node("critic", shot_nodes.critic)
    g.add_edge(START, "voice")
    g.add_edge(START, "keyframe")
    g.add_conditional_edges("voice", shot_nodes.after_voice, ["motion", END])
    g.add_edge("keyframe", "inspect")
    g.add_edge("motion", "lipsync")
    g.add_edge("lipsync", "critic")
    graph = g.compile(name="shot")
    accept_served(graph)
    return graph


def build_graph(
    checkpointer: BaseCheckpointSaver[str] | None = None,
) -> CompiledStateGraph[EpisodeState, RenderContext, InputState, EpisodeState]:
    g = StateGraph(EpisodeState, context_schema=RenderContext, input_schema=InputState)
    g.add_node("ingest", ingest)
    g.add_node("direct", direct)
    g.add_node("bible", bible)
    g.add_node("approve", approve)
    g.add_node("cast", cast)
    g.add_node("ahead", ahead)
    g.add_node("shot", build_shot_graph())
    g.add_node("score", score)
    g.add_node("assemble", assemble)
    g.add_node("review", review)
    g.add_edge(START, "ingest")
    g.add_edge("ingest", "direct")
    g.add_edge("direct", "bible")
    g.add_edge("bible", "approve")
    g.add_edge("approve", "cast")
    g.add_edge("cast", "ahead")
    g.add_conditional_edges("ahead", fan_out, ["shot", "score"])
    g.add_edge("shot", "score")
    g.add_edge("score", "assemble")
    g.add_edge("assemble", "review")
    g.add_edge("review", END)
    graph = g.compile(checkpointer=checkpointer, name="dramaforge")
    accept_served(graph)
    return graph
