"""The agents' entry point: directors and critics, offline and over any OpenAI-compatible model.

``local:rules`` and ``local:heuristic`` need nothing; ``openai:<model>`` builds the LLM director
or the vision critic on the client from ``dramaforge.tools.openai``. Registered through the
``dramaforge.backends`` entry point group like every other backend.
"""

from __future__ import annotations

from dramaforge.agents.critic import Critic
from dramaforge.agents.director import RuleDirector
from dramaforge.agents.llm_director import LLMDirector
from dramaforge.agents.vision_critic import VisionCritic
from dramaforge.config import Settings
from dramaforge.tools.openai.client import chat_client
from dramaforge.tools.registry import Registry


def local_director(model: str, settings: Settings) -> RuleDirector:
    """``local:rules``: the offline director, no model needed."""
    return RuleDirector(min_shot=settings.render.min_shot, max_shot=settings.render.max_shot)


def local_critic(model: str, settings: Settings) -> Critic:
    """``local:heuristic``: decode, duration, black, frozen, silence and clipping checks."""
    return Critic()


def openai_director(model: str, settings: Settings) -> LLMDirector:
    """``openai:<model>``: the LLM director."""
    chat = chat_client("director", model, settings, "openai:deepseek-chat or openai:qwen-plus")
    return LLMDirector(
        name=f"openai:{model}",
        chat_model=chat.client,
        min_shot=settings.render.min_shot,
        max_shot=settings.render.max_shot,
        language=settings.render.language,
        structured_output=chat.method,
        concurrency=settings.openai.limit(model),
        endpoint=chat.endpoint,
        redact=chat.redact,
    )


def vision_critic(model: str, settings: Settings) -> VisionCritic:
    """``openai:<model>``: a vision model reviewing keyframes after the heuristic checks.

    Qwen-VL through DashScope's compatible mode, GPT-4o-class models, or a local vLLM serving a
    vision model all take images as ``image_url`` content parts. ``settings.critic_openai`` says
    where; every field it leaves unset comes from ``settings.openai`` (a DeepSeek director has
    no vision model: its critic goes to Qwen-VL).
    """
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


def register(registry: Registry) -> None:
    """Add ``local:`` and ``openai:`` directors and critics to ``registry``."""
    registry.add("director", "local", local_director)
    registry.add("critic", "local", local_critic)
    registry.add("director", "openai", openai_director)
    registry.add("critic", "openai", vision_critic)
