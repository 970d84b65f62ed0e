"""``critic = "openai:<model>"``: the vision critic over any OpenAI-compatible chat endpoint.

Qwen-VL through DashScope's compatible mode, GPT-4o-class models, or a local vLLM serving a
vision model all take images as ``image_url`` content parts. ``settings.critic_openai`` says
where, with which key and how the reply is constrained; every field it leaves unset comes from
``settings.openai``, so one endpoint serves both unless the critic needs its own (a DeepSeek
director has no vision model: its critic goes to Qwen-VL).
"""

from __future__ import annotations

from typing import Any

from dramaforge.agents.critic import Critic
from dramaforge.agents.openai_factory import chat_client
from dramaforge.agents.vision_critic import VisionCritic


def vision_critic(model: str, settings: Any) -> VisionCritic:
    """``openai:<model>``: a vision model reviewing keyframes after the heuristic checks."""
    chat = chat_client(
        "critic",
        model,
        settings,
        "openai:qwen-vl-max or openai:gpt-4o",
        hint=", or use the local:heuristic critic",
    )
    return VisionCritic(
        name=f"openai:{model}",
        chat_model=chat.client,
        heuristic=Critic(),
        structured_output=chat.method,
        language=settings.render.language,
        endpoint=chat.endpoint,
        redact=chat.redact,
    )
