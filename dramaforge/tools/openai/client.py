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

from dramaforge.config import Settings
from dramaforge.errors import ConfigError

StructuredOutput = Literal["json_schema", "function_calling", "json_mode"]
"""How a reply is constrained: not every OpenAI-compatible server supports json_schema."""
NO_KEY = "sk-no-key-required"  # local servers ignore the key, but the client wants one


@dataclass
class Chat:
    """A configured chat client and what the agents need to know about its endpoint."""

    client: ChatOpenAI
    method: StructuredOutput
    endpoint: str
    redact: tuple[str, ...]


def chat_client(role: str, model: str, settings: Settings, example: str, hint: str = "") -> Chat:
    """``ChatOpenAI`` for ``role`` from ``settings.openai_for(role)``: the critic may have its
    own endpoint (``[critic_openai]``), falling back to ``[openai]`` field by field. No key is
    needed for a local server."""
    provider = settings.openai_for(role)
    own = role == "critic"
    section = "critic_openai" if own else "openai"
    if not model:
        raise ConfigError(f"{role} 'openai:' needs a model name, e.g. {example}")
    method = cast(StructuredOutput, provider.structured_output)
    if method not in get_args(StructuredOutput):
        allowed = ", ".join(get_args(StructuredOutput))
        raise ConfigError(f"{section}.structured_output is {method!r}; use one of: {allowed}")
    key = provider.api_key.get_secret_value() if provider.api_key else ""
    where = provider.base_url or "api.openai.com"
    if not key and not is_local(provider.base_url):
        key_var, url_var = (
            ("DRAMAFORGE_CRITIC_OPENAI__API_KEY (or OPENAI_API_KEY, shared with the director)",
             "DRAMAFORGE_CRITIC_OPENAI__BASE_URL")
            if own
            else ("OPENAI_API_KEY (or DRAMAFORGE_OPENAI__API_KEY)", "OPENAI_BASE_URL")
        )  # fmt: skip
        raise ConfigError(
            f"{role} openai:{model} needs an API key for {where}: set {key_var}, "
            f"or point {url_var} at a local server{hint}"
        )
    client = ChatOpenAI(
        model=model,
        api_key=SecretStr(key or NO_KEY),
        base_url=provider.base_url,
        timeout=provider.timeout,
        max_retries=provider.max_retries,
    )
    return Chat(client=client, method=method, endpoint=where, redact=(key,) if key else ())


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
