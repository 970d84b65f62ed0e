"""The agents' entry point: directors and critics, offline and over any OpenAI-compatible model.

``local:rules`` and ``local:heuristic`` need nothing; ``openai:<model>`` and
``dashscope:<model>`` (DashScope's compatible mode, only ``DASHSCOPE_API_KEY`` needed) build the
LLM director or the vision critic on the client from ``dramaforge.tools.openai``. Registered
through the ``dramaforge.backends`` entry point group like every other backend.
"""

from __future__ import annotations

from collections.abc import Callable

from dramaforge.agents.critic import Critic
from dramaforge.agents.director import RuleDirector
from dramaforge.agents.llm_director import LLMDirector
from dramaforge.agents.vision_critic import VisionCritic
from dramaforge.config import Settings
from dramaforge.tools.openai.client import PROVIDERS, chat_client
from dramaforge.tools.registry import Registry


def local_director(model: str, settings: Settings) -> RuleDirector:
    """``local:rules``: the offline director, no model needed."""
    return RuleDirector(min_shot=settings.render.min_shot, max_shot=settings.render.max_shot)


def local_critic(model: str, settings: Settings) -> Critic:
    """``local:heuristic``: decode, duration, black, frozen, silence and clipping checks."""
    return Critic()


def llm_director(provider: str) -> Callable[[str, Settings], LLMDirector]:
    """``<provider>:<model>``: the LLM director on an OpenAI-compatible chat endpoint."""

    def build(model: str, settings: Settings) -> LLMDirector:
        example = f"{provider}:deepseek-chat or {provider}:qwen-plus"
        chat = chat_client("director", model, settings, example, provider=provider)
        limits = settings.dashscope if provider == "dashscope" else settings.openai
        return LLMDirector(
            name=f"{provider}:{model}",
            chat_model=chat.client,
            min_shot=settings.render.min_shot,
            max_shot=settings.render.max_shot,
            language=settings.render.language,
            structured_output=chat.method,
            concurrency=limits.limit(model),
            endpoint=chat.endpoint,
            redact=chat.redact,
        )

    return build


def vision_critic_on(provider: str) -> Callable[[str, Settings], VisionCritic]:
    """``<provider>:<model>``: a vision model reviewing keyframes after the heuristic checks.

    Qwen-VL through DashScope's compatible mode, GPT-4o-class models, or a local vLLM serving a
    vision model all take images as ``image_url`` content parts. For ``openai:``,
    ``settings.critic_openai`` says where; every field it leaves unset comes from
    ``settings.openai`` (a DeepSeek director has no vision model: its critic goes to Qwen-VL).
    """

    def build(model: str, settings: Settings) -> VisionCritic:
        hint = ", or use the local:heuristic critic"
        chat = chat_client("critic", model, settings, f"{provider}:qwen-vl-max", hint, provider)
        return VisionCritic(
            name=f"{provider}:{model}",
            chat_model=chat.client,
            heuristic=Critic(),
            structured_output=chat.method,
            language=settings.render.language,
            endpoint=chat.endpoint,
            redact=chat.redact,
        )

    return build


openai_director = llm_director("openai")
vision_critic = vision_critic_on("openai")


def register(registry: Registry) -> None:
    """Add ``local:``, ``openai:`` and ``dashscope:`` directors and critics to ``registry``."""
    registry.add("director", "local", local_director)
    registry.add("critic", "local", local_critic)
    for provider in PROVIDERS:
        registry.add("director", provider, llm_director(provider))
        registry.add("critic", provider, vision_critic_on(provider))
