"""A ComfyUI job's progress, shown where the render shows its own (CLI bar, MCP, studio)."""

from __future__ import annotations

import logging

from dramaforge.tools import progress

log = logging.getLogger("dramaforge.tools.comfyui")
PLAIN = str.maketrans("[]", "()")
"""Node titles are the user's text: square brackets would be markup on a rich progress line."""


def report(text: str) -> None:
    """Log ``text`` and stream it as a ``comfyui`` stage event when inside a graph run, on
    the line of the shot the job is for."""
    log.info("%s", text)
    progress.report("comfyui", text.translate(PLAIN))
