"""``openai:<model>`` backends: the LLM director and the vision critic, one entry point."""

from __future__ import annotations

from dramaforge.agents.openai_factory import openai_director
from dramaforge.agents.vision_factory import vision_critic
from dramaforge.tools.registry import Registry


def register(registry: Registry) -> None:
    registry.add("director", "openai", openai_director)
    registry.add("critic", "openai", vision_critic)
