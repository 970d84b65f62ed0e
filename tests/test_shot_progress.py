"""A backend's own progress (a ComfyUI sampler's steps) lands on the line of the shot it works
for: the shot's stages run ``for_shot``, and every event reported meanwhile carries the shot.
"""

from __future__ import annotations

import io
import operator
from pathlib import Path
from typing import Annotated, Any

from langgraph.graph import END, START, StateGraph
from langgraph.runtime import Runtime
from langgraph.types import Send
from rich.console import Console
from typing_extensions import TypedDict

from dramaforge.chat.terminal import progress
from dramaforge.config import ComfyUISettings, Settings
from dramaforge.graph.progress import for_shot, stage_event
from dramaforge.schema import Shot
from dramaforge.tools.protocols import ImageRequest
from dramaforge.tools.registry import registry
from tests.fakes.comfyui_server import FakeComfyUI


class Episode(TypedDict):
    shots: list[Shot]
    made: Annotated[list[str], operator.add]


class OneShot(TypedDict):
    shot: Shot


def _shot(sid: str, index: int) -> Shot:
    return Shot(
        id=sid,
        index=index,
        scene_index=0,
        scene_heading="EXT. STREET - NIGHT",
        duration=2.0,
        framing="wide",
        camera="static",
        visual_prompt=f"a rainy street, shot {index}",
    )


def test_a_comfyui_jobs_steps_carry_the_shot_it_is_for(tmp_path: Path) -> None:
    with FakeComfyUI(tmp_path / "comfyui", steps=3) as fake:
        settings = Settings(comfyui=ComfyUISettings(url=fake.url, poll_seconds=0.1))
        backend = registry().create("image", "comfyui:qwen_image", settings)

        @for_shot
        def keyframe(state: Any, runtime: Runtime[Any]) -> dict[str, object]:
            shot: Shot = state["shot"]
            request = ImageRequest(
                prompt=shot.visual_prompt,
                width=360,
                height=640,
                seed=shot.index,
                framing=shot.framing,
                scene_heading=shot.scene_heading,
            )
            dest = tmp_path / f"{shot.id}.png"
            backend.generate(request, dest)
            stage_event("keyframe-check", "done")  # a graph event from inside a shot's stage
            return {"made": [dest.name]}

        def fan_out(state: Episode) -> list[Send]:
            return [Send("keyframe", {"shot": s}) for s in state["shots"]]

        def assemble(state: Episode) -> dict[str, object]:
            stage_event("assemble", "start")
            return {}

        graph = StateGraph(Episode)
        graph.add_node("keyframe", keyframe)
        graph.add_node("assemble", assemble)
        graph.add_conditional_edges(START, fan_out, ["keyframe"])
        graph.add_edge("keyframe", "assemble")
        graph.add_edge("assemble", END)
        shots = [_shot("s1", 1), _shot("s2", 2)]
        events: list[dict[str, Any]] = []
        for _ns, mode, chunk in graph.compile().stream(
            {"shots": shots, "made": []}, stream_mode=["custom", "updates"], subgraphs=True
        ):
            if mode == "custom":
                events.append(chunk)
    comfy = [e for e in events if e["stage"] == "comfyui"]
    assert comfy and all(e.get("shot") in {"s1", "s2"} for e in comfy), comfy
    for sid in ("s1", "s2"):  # each job's sampler steps on its own shot, both to the end
        steps = [e["status"] for e in comfy if e["shot"] == sid]
        assert any(status.endswith("KSampler 3/3") for status in steps), (sid, steps)
    checks = [e for e in events if e["stage"] == "keyframe-check"]
    assert sorted(e["shot"] for e in checks) == ["s1", "s2"]
    assert sorted(p.name for p in tmp_path.glob("s*.png")) == ["s1.png", "s2.png"]
    (tail,) = [e for e in events if e["stage"] == "assemble"]
    assert "shot" not in tail  # after the shots: the episode's line


def test_the_terminal_shows_a_backends_steps_on_the_shots_line() -> None:
    out = io.StringIO()
    console = Console(file=out, width=160, force_terminal=False)
    with progress(console, True) as on_event:
        on_event({"stage": "approve", "status": "done"})
        on_event({"shot": "s1", "stage": "motion", "status": "start"})
        on_event({"shot": "s2", "stage": "keyframe", "status": "start"})
        on_event({"shot": "s1", "stage": "comfyui", "status": "wan22_i2v 3fa2b1: KSampler 5/20"})
        on_event({"shot": "s2", "stage": "comfyui", "status": "qwen_image 9c0d: [red]x[/] 1/4"})
    shown = out.getvalue().splitlines()
    (s1,) = [line for line in shown if "s1 " in line]
    assert "s1 motion · wan22_i2v 3fa2b1: KSampler 5/20" in s1
    (s2,) = [line for line in shown if "s2 " in line]
    assert "s2 keyframe · qwen_image 9c0d: [red]x[/] 1/4" in s2  # the user's text, as written
    (episode,) = [line for line in shown if "episode:" in line]
    assert "KSampler" not in episode and "approve done" in episode
