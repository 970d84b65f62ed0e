"""The render context: backends, the asset store and settings, handed to every node.

It is built once at the edge and passed as LangGraph's runtime context, so nodes never read
configuration or construct backends themselves, and nothing in it is checkpointed.
"""

from __future__ import annotations

import dataclasses
import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, TypeVar

from langgraph.runtime import Runtime
from typing_extensions import TypedDict

from dramaforge.config import BACKEND_KINDS, BackendKind, Settings
from dramaforge.errors import ProviderError, WorkspaceError
from dramaforge.graph.cost import Ledger, price
from dramaforge.graph.prefetch import Voiced
from dramaforge.graph.series import FileBook, SeriesBook
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

T = TypeVar("T")


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
    series_book: SeriesBook = field(default_factory=FileBook)
    """Where the series bible is kept: a file here, PostgreSQL on a cluster."""
    lipsync: LipsyncBackend | None = None
    """Lips moved with on-screen lines after the clip (None: the video model's own audio
    input, where it takes one, or no lip sync)."""

    def paid(
        self, backend: str, units: float, what: str, call: Callable[[], Generated]
    ) -> Generated:
        """Run one generation under the budget: reserve its price first, then settle."""
        return self.charge(backend, units, what, call, lambda made: made.cost)

    def charge(
        self,
        backend: str,
        units: float,
        what: str,
        call: Callable[[], T],
        charged: Callable[[T], float | None] = lambda _: None,
    ) -> T:
        """Run one paid call under the budget: reserve its price first, then settle at what
        ``charged`` says it cost (the price, when it says nothing)."""
        expected = units * price(self.settings, backend)
        self.ledger.reserve(expected, what)
        try:
            made = call()
        except ProviderError as err:  # a lost synchronous reply may have been charged
            self.ledger.settle(expected, expected if err.maybe_paid else 0.0)
            raise
        except BaseException:
            self.ledger.settle(expected, 0.0)
            raise
        self.ledger.settle(expected, charged(made) or expected)
        return made

    def backend_names(self) -> dict[str, str]:
        names: dict[str, str] = {kind: getattr(self, kind).name for kind in held_kinds()}
        return names | ({"lipsync": self.lipsync.name} if self.lipsync is not None else {})


def held_kinds() -> list[BackendKind]:
    """The backend kinds (``config.BACKEND_KINDS``) the render context always holds, a field
    each; ``lipsync`` is optional (None: no pass) and built on its own."""
    fields = {f.name for f in dataclasses.fields(RenderContext)}
    return [kind for kind in BACKEND_KINDS if kind in fields and kind != "lipsync"]


def build_context(settings: Settings, state_root: Path, **overrides: Any) -> RenderContext:
    """Resolve every configured backend by name; ``overrides`` replace one (tests, plugins)."""
    reg = registry()
    built: dict[str, Any] = {  # each checked against its kind's Protocol by the registry
        kind: overrides[kind]
        if kind in overrides
        else reg.create(kind, getattr(settings.backends, kind), settings)
        for kind in held_kinds()
    }
    lipsync = overrides.get("lipsync")
    wanted = settings.backends.lipsync
    if "lipsync" not in overrides and wanted not in (None, "", "none"):
        lipsync = reg.create("lipsync", wanted, settings)
    return RenderContext(
        settings=settings,
        store=AssetStore(state_root / "assets"),
        ledger=Ledger(budget=settings.budget),
        lipsync=lipsync,
        **built,
    )


class ServedContext(TypedDict, total=False):
    """The context a LangGraph Server run passes: a JSON object, nothing required in it.

    The graphs declare this as their ``context_schema`` (``accept_served``), so a dict (or
    None) reaches the nodes as it is and ``context_of`` builds the ``RenderContext`` from
    ``Settings()``; a caller of ours passes a ``RenderContext`` and it is used as given."""


def accept_served(graph: Any) -> None:
    """Let ``graph`` run with a server's context dict. Declared with ``RenderContext`` (what
    the nodes get, for the type checker), LangGraph would build ``RenderContext(**context)``
    from the dict and fail on its required fields before the first node."""
    graph.context_schema = ServedContext


_served: dict[Path, RenderContext] = {}
_served_lock = threading.Lock()


def context_of(runtime: Runtime[RenderContext], out_dir: str) -> RenderContext:
    """The run's context; when a server runs the graph without one (``langgraph dev`` passes
    a plain dict, ``invoke`` without ``context`` None), one built from ``Settings()`` for the
    episode's output folder."""
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
