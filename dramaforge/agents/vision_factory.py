"""``critic = "openai:<model>"``: the vision critic over any OpenAI-compatible chat endpoint.

Qwen-VL through DashScope's compatible mode, GPT-4o-class models, or a local vLLM serving a
vision model all take images as ``image_url`` content parts; ``settings.openai`` says where,
with which key and how the reply is constrained, exactly as for the LLM director.
"""

from __future__ import annotations

from typing import Any, get_args

from langchain_openai import ChatOpenAI
from pydantic import SecretStr

from dramaforge.agents.critic import Critic
from dramaforge.agents.llm_director import StructuredOutput
from dramaforge.agents.openai_factory import NO_KEY, is_local
from dramaforge.agents.vision_critic import VisionCritic
from dramaforge.errors import ConfigError
from dramaforge.tools.registry import Registry


def vision_critic(model: str, settings: Any) -> VisionCritic:
    """Build ``openai:<model>`` from ``settings.openai``; no key is needed for a local server."""
    provider = settings.openai
    if not model:
        raise ConfigError(
            "critic 'openai:' needs a vision model name, e.g. openai:qwen-vl-max or openai:gpt-4o"
        )
    method = provider.structured_output
    if method not in get_args(StructuredOutput):
        allowed = ", ".join(get_args(StructuredOutput))
        raise ConfigError(f"openai.structured_output is {method!r}; use one of: {allowed}")
    key = provider.api_key.get_secret_value() if provider.api_key else ""
    where = provider.base_url or "api.openai.com"
    if not key and not is_local(provider.base_url):
        raise ConfigError(
            f"critic openai:{model} needs an API key for {where}: set OPENAI_API_KEY "
            "(or DRAMAFORGE_OPENAI__API_KEY), point OPENAI_BASE_URL at a local server, "
            "or use the local:heuristic critic"
        )
    chat = ChatOpenAI(
        model=model,
        api_key=SecretStr(key or NO_KEY),
        base_url=provider.base_url,
        timeout=provider.timeout,
        max_retries=provider.max_retries,
    )
    return VisionCritic(
        name=f"openai:{model}",
        chat_model=chat,
        heuristic=Critic(),
        structured_output=method,
        language=settings.render.language,
        endpoint=where,
        redact=(key,) if key else (),
    )


def register(registry: Registry) -> None:
    """``openai:<model>``: the vision critic on any OpenAI-compatible endpoint."""
    registry.add("critic", "openai", vision_critic)
