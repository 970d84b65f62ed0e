"""The render context: backends, the asset store and settings, handed to every node.

It is built once at the edge and passed as LangGraph's runtime context, so nodes never read
configuration or construct backends themselves, and nothing in it is checkpointed.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from langgraph.runtime import Runtime

from dramaforge.config import Settings
from dramaforge.errors import WorkspaceError
from dramaforge.graph.cost import Ledger, price
from dramaforge.graph.prefetch import Voiced
from dramaforge.media.store import AssetStore
from dramaforge.tools.protocols import (
    Director,
    Generated,
    ImageBackend,
    LipsyncBackend,
    Reviewer,
    SoundBackend,
    SpeechBackend,
    VideoBackend,
)
from dramaforge.tools.registry import registry


@dataclass
class RenderContext:
    settings: Settings
    store: AssetStore
    director: Director
    image: ImageBackend
    video: VideoBackend
    speech: SpeechBackend
    sound: SoundBackend
    critic: Reviewer
    ledger: Ledger = field(default_factory=Ledger)
    voiced: Voiced = field(default_factory=Voiced)
    """Shot lengths as voices finish, for the score made ahead (``graph/prefetch.py``)."""
    lipsync: LipsyncBackend | None = None
    """Lips moved with on-screen lines after the clip (None: the video model's own audio
    input, where it takes one, or no lip sync)."""

    def paid(
        self, backend: str, units: float, what: str, call: Callable[[], Generated]
    ) -> Generated:
        """Run one generation under the budget: reserve its price first, then settle."""
        expected = units * price(self.settings, backend)
        self.ledger.reserve(expected, what)
        try:
            made = call()
        except BaseException:
            self.ledger.settle(expected, 0.0)
            raise
        self.ledger.settle(expected, made.cost or expected)
        return made

    def backend_names(self) -> dict[str, str]:
        names = {
            "director": self.director.name,
            "image": self.image.name,
            "video": self.video.name,
            "speech": self.speech.name,
            "sound": self.sound.name,
            "critic": self.critic.name,
        }
        return names | ({"lipsync": self.lipsync.name} if self.lipsync is not None else {})


def build_context(settings: Settings, state_root: Path, **overrides: Any) -> RenderContext:
    """Resolve every configured backend by name; ``overrides`` replace one (tests, plugins)."""
    reg = registry()
    b = settings.backends
    parts: dict[str, Any] = {
        "director": lambda: reg.create("director", b.director, settings),
        "image": lambda: reg.create("image", b.image, settings),
        "video": lambda: reg.create("video", b.video, settings),
        "speech": lambda: reg.create("speech", b.speech, settings),
        "sound": lambda: reg.create("sound", b.sound, settings),
        "critic": lambda: reg.create("critic", b.critic, settings),
    }
    built = {k: overrides[k] if k in overrides else make() for k, make in parts.items()}
    lipsync = overrides.get("lipsync")
    if "lipsync" not in overrides and b.lipsync not in (None, "", "none"):
        lipsync = reg.create("lipsync", b.lipsync, settings)
    return RenderContext(
        settings=settings,
        store=AssetStore(state_root / "assets"),
        ledger=Ledger(budget=settings.budget),
        lipsync=lipsync,
        **built,
    )


_served: dict[Path, RenderContext] = {}
_served_lock = threading.Lock()


def context_of(runtime: Runtime[RenderContext], out_dir: str) -> RenderContext:
    """The run's context; when a server runs the graph without one (``langgraph dev`` passes
    none, or a plain dict), one built from ``Settings()`` for the episode's output folder."""
    if isinstance(runtime.context, RenderContext):
        return runtime.context
    settings = Settings()
    root = settings.state_root(Path(out_dir))
    with _served_lock:
        if root not in _served:
            _served[root] = build_context(settings, root)
        return _served[root]


def confined(root: Path, path: Path, what: str = "path") -> Path:
    """``path`` with every symlink resolved, if it stays inside ``root``; else WorkspaceError.

    Used for the paths callers give and for the ones the program builds itself (a folder or
    file planted as a symlink inside the root must not lead a write or a read outside it).
    The message names the path as given, relative to the root where it can be.
    """
    root = root.resolve()
    real = (root / path).resolve()
    if not real.is_relative_to(root):
        shown = path.relative_to(root) if path.is_absolute() and path.is_relative_to(root) else path
        raise WorkspaceError(f"{what} {str(shown)!r} leads outside the workspace; refused")
    return real


def served_root(runtime: Runtime[RenderContext]) -> Path | None:
    """The folder a run must stay inside: ``settings.workspace`` when set; for a run a server
    started without a context (LangGraph Server), that or the server's working folder."""
    if isinstance(runtime.context, RenderContext):
        return runtime.context.settings.workspace
    return Settings().workspace or Path.cwd()
