"""Where DashScope lives: the region hosts and the API root every request is built on.

Its image, video and speech APIs are under ``<host>/api/v1``, CosyVoice's WebSocket under
``<host>/api-ws/v1``, and its OpenAI-compatible chat under ``<host>/compatible-mode/v1``.
"""

from __future__ import annotations

DEFAULT_BASE_URL = "https://dashscope.aliyuncs.com"
INTL_BASE_URL = "https://dashscope-intl.aliyuncs.com"


def api_root(base_url: str | None) -> str:
    """``https://host/api/v1`` from a base URL given with or without ``/api/v1``.

    DASHSCOPE_HTTP_BASE_URL conventionally includes ``/api/v1`` (the SDK's default is
    ``https://dashscope.aliyuncs.com/api/v1``); a bare host is accepted too.
    """
    root = (base_url or DEFAULT_BASE_URL).rstrip("/")
    if root.endswith("/api/v1"):
        return root
    return f"{root}/api/v1"
