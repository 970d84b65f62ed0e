"""What an OpenAI-compatible endpoint's failure means for the user, in one place.

The director, the chat agent and the vision critic map the client's exceptions the same way:
a refused key is configuration (exit 3, name the variable to set); rate limits, timeouts and
5xx are retryable provider errors; any other refusal names the endpoint and a hint. Every
message passes through ``redact`` before it is raised, so a key echoed back by a server or
a proxy never reaches a log or a checkpoint.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from typing import Protocol

import openai

from dramaforge.errors import ConfigError, ProviderError


def redact(text: str, secrets: Iterable[str]) -> str:
    """``text`` with every non-empty secret replaced by ``***``."""
    for secret in secrets:
        if secret:
            text = text.replace(secret, "***")
    return text


def error_detail(exc: openai.APIError) -> str:
    """The server's own words for a failure (its JSON ``message``), cut to a readable length."""
    body = exc.body
    if isinstance(body, dict):
        message = body.get("message") or body.get("error", {})
        if isinstance(message, dict):
            message = message.get("message")
        if message:
            return str(message)[:300]
    return exc.message[:300]


STRUCTURED_HINT = "if the server rejects response_format or tools, set openai.structured_output"
"""What to do about an HTTP 400 to a structured request: most servers that refuse one refuse
the structured-output mode the client picked, not the request."""


class Reached(Protocol):
    """Where the failed request went, and the secrets no message about it may show: a ``Chat``
    client, or an agent that keeps both."""

    @property
    def endpoint(self) -> str: ...

    @property
    def redact(self) -> Sequence[str]: ...


def api_error(
    exc: openai.APIError,
    *,
    where: str,
    via: Reached,
    key_help: str,
    bad_request_hint: str = STRUCTURED_HINT,
) -> ConfigError | ProviderError:
    """The dramaforge error for ``exc``: ``where`` says who asked (``director X, scene 2``),
    ``key_help`` what to do about a refused key, ``bad_request_hint`` about an HTTP 400."""
    secrets = tuple(via.redact)
    endpoint = via.endpoint or "the OpenAI-compatible endpoint"
    status = getattr(exc, "status_code", None)
    detail = error_detail(exc)
    if isinstance(exc, openai.AuthenticationError | openai.PermissionDeniedError):
        return ConfigError(
            redact(
                f"{where}: {endpoint} refused the API key (HTTP {status}: {detail}); {key_help}",
                secrets,
            )
        )
    if isinstance(exc, openai.RateLimitError):
        message = f"{where}: rate limited by {endpoint} (HTTP 429) after the client's retries"
        return ProviderError(redact(message, secrets), retryable=True)
    if isinstance(exc, openai.APITimeoutError | openai.APIConnectionError):
        message = f"{where}: could not reach {endpoint} ({detail}); check base_url"
        return ProviderError(redact(message, secrets), retryable=True)
    if status is not None and status >= 500:
        message = f"{where}: {endpoint} failed (HTTP {status}: {detail}); try again"
        return ProviderError(redact(message, secrets), retryable=True)
    hint = f"; {bad_request_hint}" if status == 400 and bad_request_hint else ""
    message = f"{where}: {endpoint} refused the request (HTTP {status}: {detail}){hint}"
    return ProviderError(redact(message, secrets))
