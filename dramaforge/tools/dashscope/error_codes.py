"""DashScope error replies mapped to dramaforge's exceptions; keys never appear in them."""

from __future__ import annotations

import re

import httpx

from dramaforge.errors import ContentRejected, ProviderError

MODERATION_CODES = {"DataInspectionFailed", "DataInspection", "IPInfringementSuspect"}
NOT_RETRYABLE_CODES = {"InvalidParameter", "InvalidApiKey", "AccessDenied", "Arrearage"}
UNSURE_CODES = {"RequestTimeOut", "InternalError.Timeout"}
"""Documented 5xx codes that say the service itself lost track of the request (it timed out
inside): like a lost reply, the task may exist."""


_USERINFO = re.compile(r"(?i)\b([a-z][a-z0-9+.-]*://)[^/\s@]+@")
_BEARER = re.compile(r"(?i)\b(bearer\s+)[A-Za-z0-9._~+/=-]{8,}")
_SK = re.compile(r"\bsk-[A-Za-z0-9_-]{6,}")


def redact(text: str, *secrets: str) -> str:
    """``text`` with each secret, anything shaped like a key (``sk-...``, a bearer token) and
    ``user:password@`` in URLs masked; applied before an exception leaves the transport."""
    for secret in secrets:
        if secret:
            text = text.replace(secret, "***")
    text = _USERINFO.sub(r"\1***@", text)
    text = _BEARER.sub(r"\1***", text)
    return _SK.sub("sk-***", text)


class TransientError(ProviderError):
    """Retryable failure of an idempotent call; ``retry_after`` from the server, if any."""

    def __init__(self, message: str, *, retry_after: float | None = None) -> None:
        super().__init__(message, retryable=True)
        self.retry_after = retry_after


class ExpiredResult(ProviderError):
    """The result URL answered 403/404: it expired before we fetched it."""


def retry_after_of(response: httpx.Response) -> float | None:
    """Seconds the server asked us to wait (Retry-After), if it said."""
    value = response.headers.get("Retry-After")
    if value is None:
        return None
    try:
        return max(0.0, float(value))
    except ValueError:
        return None


def _error_of(response: httpx.Response) -> tuple[str, str]:
    try:
        body = response.json()
    except ValueError:
        return "", response.text[:200]
    if not isinstance(body, dict):
        return "", str(body)[:200]
    return str(body.get("code") or ""), str(body.get("message") or "")


def says_no_task(response: httpx.Response) -> bool:
    """Whether a failed submit's reply says no task was made.

    DashScope's own error replies (the documented ones: ``InternalError``, ``SystemError``,
    ``ServiceUnavailable``, ``Throttling.*``, every 4xx) are JSON with its ``request_id`` and a
    ``code`` and carry no task id: the service answered, and answered no. A reply that cannot
    say stays unknown: a bare gateway page (HTML, text, JSON in another shape), a task id in
    the body, or a code that says the service timed out inside (``UNSURE_CODES``).
    """
    try:
        body = response.json()
    except ValueError:
        return False
    if not isinstance(body, dict):
        return False
    code, request_id = body.get("code"), body.get("request_id")
    if not (isinstance(code, str) and code and isinstance(request_id, str) and request_id):
        return False
    output = body.get("output")
    if isinstance(output, dict) and output.get("task_id"):
        return False
    return code not in UNSURE_CODES and "timeout" not in code.lower()


def map_error(response: httpx.Response, what: str) -> ProviderError:
    """The exception for a non-2xx DashScope reply (never mentions the key)."""
    code, message = _error_of(response)
    code, message = redact(code), redact(message)
    status = response.status_code
    text = f"DashScope {what}: HTTP {status} {code}: {message}".rstrip(": ")
    if code in MODERATION_CODES or "inspection" in code.lower():
        return ContentRejected(f"{text} (change the prompt or the keyframe)")
    if status == 401 or code == "InvalidApiKey":
        return ProviderError(f"{text} (check DASHSCOPE_API_KEY and the region's base_url)")
    if status == 429 or status >= 500 or code.startswith("Throttling"):
        return TransientError(text, retry_after=retry_after_of(response))
    if code in NOT_RETRYABLE_CODES or 400 <= status < 500:
        return ProviderError(text)
    return TransientError(text)
