"""Backend registry: ``provider:model`` names resolved through entry points.

Built-ins register exactly like plugins: the ``dramaforge.backends`` entry point group maps a
name to a ``register(registry)`` function that adds factories. A backend is checked against
its kind's Protocol when it is built, so a plugin that returns the wrong object fails with a
message naming it, not later inside the graph.
"""

from __future__ import annotations

from collections.abc import Callable
from functools import cache
from importlib.metadata import entry_points
from typing import Any, Literal, overload

from dramaforge.config import BackendKind, Settings
from dramaforge.errors import ConfigError
from dramaforge.tools.protocols import (
    Director,
    ImageBackend,
    LipsyncBackend,
    Reviewer,
    SoundBackend,
    SpeechBackend,
    VideoBackend,
)

Kind = BackendKind
"""The kinds are declared once, in ``config.BackendKind``."""
Factory = Callable[[str, Settings], Any]
"""(model, settings) -> a backend of the kind it was added for."""

PROTOCOLS: dict[Kind, type] = {
    "image": ImageBackend,
    "video": VideoBackend,
    "speech": SpeechBackend,
    "sound": SoundBackend,
    "lipsync": LipsyncBackend,
    "director": Director,
    "critic": Reviewer,
}


class Registry:
    """Factories by (kind, provider), and the plugins that failed to load."""

    def __init__(self) -> None:
        self._factories: dict[tuple[Kind, str], Factory] = {}
        self.broken: dict[str, str] = {}

    def add(self, kind: Kind, provider: str, factory: Factory) -> None:
        self._factories[(kind, provider)] = factory

    def providers(self, kind: Kind) -> list[str]:
        return sorted(p for k, p in self._factories if k == kind)

    @overload
    def create(self, kind: Literal["image"], spec: str, settings: Settings) -> ImageBackend: ...
    @overload
    def create(self, kind: Literal["video"], spec: str, settings: Settings) -> VideoBackend: ...
    @overload
    def create(self, kind: Literal["speech"], spec: str, settings: Settings) -> SpeechBackend: ...
    @overload
    def create(self, kind: Literal["sound"], spec: str, settings: Settings) -> SoundBackend: ...
    @overload
    def create(self, kind: Literal["lipsync"], spec: str, settings: Settings) -> LipsyncBackend: ...
    @overload
    def create(self, kind: Literal["director"], spec: str, settings: Settings) -> Director: ...
    @overload
    def create(self, kind: Literal["critic"], spec: str, settings: Settings) -> Reviewer: ...
    @overload
    def create(self, kind: Kind, spec: str, settings: Settings) -> Any: ...

    def create(self, kind: Kind, spec: str, settings: Settings) -> Any:
        """Build the backend named ``spec`` (``provider:model``) for ``kind``."""
        provider, _, model = spec.partition(":")
        factory = self._factories.get((kind, provider))
        if factory is None:
            known = ", ".join(self.providers(kind)) or "none"
            broken = "".join(f"; plugin {n!r} failed to load: {e}" for n, e in self.broken.items())
            raise ConfigError(
                f"unknown {kind} backend {spec!r}; installed providers for {kind}: {known}{broken}"
            )
        backend = factory(model, settings)
        protocol = PROTOCOLS[kind]
        if not isinstance(backend, protocol):
            raise ConfigError(
                f"{kind} backend {spec!r} built a {type(backend).__name__}, which is not a "
                f"{protocol.__name__}; the {provider!r} plugin is broken or out of date"
            )
        return backend


@cache
def registry() -> Registry:
    """Every installed provider. A plugin that fails to import is noted, not fatal: the
    others still work, and asking for one of its backends says why it is missing."""
    reg = Registry()
    for ep in entry_points(group="dramaforge.backends"):
        try:
            ep.load()(reg)
        except Exception as exc:  # a third-party plugin's import error must not stop us
            reg.broken[ep.name] = f"{type(exc).__name__}: {exc}"
    return reg
