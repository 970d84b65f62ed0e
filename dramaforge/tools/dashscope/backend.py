"""What every DashScope backend is known by, whatever it makes.

Image, video and both speech backends call one model each; the registry, the asset store
and the manifest know them as ``dashscope:<model>``, and the price per billed unit comes from
``prices`` when the registry builds them.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

from dramaforge.tools.dashscope.download import Verify
from dramaforge.tools.dashscope.transport import TaskResult, Transport
from dramaforge.tools.protocols import TaskJournal


class ModelBackend:
    """A DashScope model as a backend: the ``model`` it calls, its ``name`` and its ``price``
    per billed unit (image, second of video, thousand characters)."""

    def __init__(self, model: str, price: float) -> None:
        self.model = model
        self.name = f"dashscope:{model}"
        self.price = price


class TaskBackend(ModelBackend):
    """A DashScope model run as an asynchronous task whose result is a file at a URL (image,
    video): submitted, polled and billed through ``transport``, then downloaded at once."""

    def __init__(self, model: str, kind: str, transport: Transport, price: float) -> None:
        super().__init__(model, price)
        self.transport = transport
        self.what = f"{model} {kind}"
        """How errors and logs name a task of this backend (``qwen-image image``)."""

    def fetch(
        self,
        path: str,
        body: dict[str, Any],
        url_of: Callable[[TaskResult], str],
        raw: Path,
        verify: Verify,
        *,
        journal: TaskJournal | None,
        files: dict[str, Path] | None = None,
    ) -> TaskResult:
        """Run the task (or resume the one ``journal`` recorded) and download its result,
        checked by ``verify``, to ``raw`` before its URL expires."""
        what = self.what
        result = self.transport.run_task(path, body, journal=journal, what=what, files=files)
        self.transport.result_file(result, url_of, raw, verify, journal=journal, what=what)
        return result
