"""A ComfyUI job's progress, shown where the render shows its own (CLI bar, MCP, studio)."""

from __future__ import annotations

import logging

log = logging.getLogger("dramaforge.tools.comfyui")
PLAIN = str.maketrans("[]", "()")
"""Node titles are the user's text: square brackets would be markup on a rich progress line."""


def report(text: str) -> None:
    """Log ``text`` and stream it as a ``comfyui`` stage event when inside a graph run."""
    log.info("%s", text)
    from langgraph.config import get_stream_writer

    try:
        writer = get_stream_writer()
    except RuntimeError:  # called outside a graph run (a test, a script)
        return
    writer({"stage": "comfyui", "status": text.translate(PLAIN)})
