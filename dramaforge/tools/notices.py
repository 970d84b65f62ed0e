"""What a backend tells the person while it waits: one line for the progress display.

A backend deep in a shot (the DashScope transport watching its task list after a lost reply,
a speech request asked again) has no shot id and no display; the graph node running the shot
sets a hook for its context (``hook``) and the backend calls ``tell``. Outside a render (a
test, a script) nothing is listening and ``tell`` does nothing.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager
from contextvars import ContextVar

_HOOK: ContextVar[Callable[[str], None] | None] = ContextVar("dramaforge_notice", default=None)


def tell(text: str) -> None:
    """Show ``text`` on the current shot's progress line, if anyone is listening."""
    hook = _HOOK.get()
    if hook is not None:
        hook(text)


def listen(hook: Callable[[str], None] | None) -> None:
    """From here on in this context (a graph node's run), ``tell`` calls ``hook``."""
    _HOOK.set(hook)


@contextmanager
def listening(hook: Callable[[str], None]) -> Iterator[None]:
    """``tell`` calls ``hook`` inside the block."""
    token = _HOOK.set(hook)
    try:
        yield
    finally:
        _HOOK.reset(token)
