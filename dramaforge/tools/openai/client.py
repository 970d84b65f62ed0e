"""The chat client every OpenAI-compatible endpoint gets: DeepSeek, Qwen (DashScope compatible
mode), vLLM and llama.cpp's server all speak the same chat-completions protocol.

``settings.openai`` says where (base_url), with which key, and how the reply is constrained
(``structured_output``); the vision critic may use a second endpoint, ``settings.critic_openai``.
The director, the chat agent and the vision critic all get their client here.
"""

from __future__ import annotations

import ipaddress
from dataclasses import dataclass
from typing import Literal, cast, get_args
from urllib.parse import urlparse

from langchain_openai import ChatOpenAI
from pydantic import SecretStr

from dramaforge.config import ProviderSettings, Settings, without_password
from dramaforge.errors import ConfigError
from dramaforge.tools.dashscope.endpoints import api_root

StructuredOutput = Literal["json_schema", "function_calling", "json_mode"]
"""How a reply is constrained: not every OpenAI-compatible server supports json_schema."""
NO_KEY = "sk-no-key-required"
COMPATIBLE_PATH = "/compatible-mode/v1"  # local servers ignore the key, but the client wants one


@dataclass
class Chat:
    """A configured chat client and what the agents need to know about its endpoint."""

    client: ChatOpenAI
    method: StructuredOutput
    endpoint: str
    redact: tuple[str, ...]


PROVIDERS = ("openai", "dashscope")
"""Providers whose chat models speak the OpenAI protocol: any endpoint, or DashScope's
compatible mode under the same ``DASHSCOPE_API_KEY`` as its image, video and speech."""


def dashscope_endpoint(settings: Settings) -> ProviderSettings:
    """DashScope's OpenAI-compatible endpoint, from ``[dashscope]``: ``compatible_url`` or
    the HTTP base URL's host with ``/compatible-mode/v1``; Qwen models answer JSON in
    ``json_mode`` (JSON object) on every model, so that is the default there."""
    own = settings.dashscope
    url = own.compatible_url or api_root(own.base_url).removesuffix("/api/v1") + COMPATIBLE_PATH
    update: dict[str, object] = {"base_url": url}
    if "structured_output" not in own.model_fields_set:
        update["structured_output"] = "json_mode"
    return own.model_copy(update=update)


def chat_client(
    role: str,
    model: str,
    settings: Settings,
    example: str,
    hint: str = "",
    provider: str = "openai",
) -> Chat:
    """``ChatOpenAI`` for ``role`` on ``provider``: ``openai`` reads ``settings.openai_for(role)``
    (the critic may have its own ``[critic_openai]``, falling back to ``[openai]`` field by
    field; no key is needed for a local server); ``dashscope`` reads ``[dashscope]``."""
    if provider == "dashscope":
        endpoint, section = dashscope_endpoint(settings), "dashscope"
    else:
        endpoint = settings.openai_for(role)
        section = "critic_openai" if role == "critic" else "openai"
    if not model:
        raise ConfigError(f"{role} '{provider}:' needs a model name, e.g. {example}")
    method = cast(StructuredOutput, endpoint.structured_output)
    if method not in get_args(StructuredOutput):
        allowed = ", ".join(get_args(StructuredOutput))
        raise ConfigError(f"{section}.structured_output is {method!r}; use one of: {allowed}")
    key = endpoint.api_key.get_secret_value() if endpoint.api_key else ""
    where = without_password(endpoint.base_url) or "api.openai.com"
    if not key and not is_local(endpoint.base_url):
        raise ConfigError(
            f"{role} {provider}:{model} needs an API key for {where}: {_key_help(section)}{hint}"
        )
    client = ChatOpenAI(
        model=model,
        api_key=SecretStr(key or NO_KEY),
        base_url=endpoint.base_url,
        timeout=endpoint.timeout,
        max_retries=endpoint.max_retries,
    )
    return Chat(client=client, method=method, endpoint=where, redact=(key,) if key else ())


def _key_help(section: str) -> str:
    return {
        "dashscope": "set DASHSCOPE_API_KEY",
        "critic_openai": "set DRAMAFORGE_CRITIC_OPENAI__API_KEY (or OPENAI_API_KEY, shared with "
        "the director), or point DRAMAFORGE_CRITIC_OPENAI__BASE_URL at a local server",
    }.get(
        section,
        "set OPENAI_API_KEY (or DRAMAFORGE_OPENAI__API_KEY), or point OPENAI_BASE_URL "
        "at a local server",
    )


def is_local(base_url: str | None) -> bool:
    """True for a server on this machine or the local network (llama.cpp, vLLM, Ollama)."""
    if not base_url:
        return False
    host = urlparse(base_url).hostname or ""
    if host == "localhost" or host.endswith(".local"):
        return True
    try:
        address = ipaddress.ip_address(host)
    except ValueError:
        return False
    return address.is_loopback or address.is_private
