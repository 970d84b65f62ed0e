"""Backend registry: ``provider:model`` names resolved through entry points.

Built-ins register exactly like plugins: the ``dramaforge.backends`` entry point group maps a
provider name (``local``) to a ``register(registry)`` function that adds factories.
"""

from __future__ import annotations

from collections.abc import Callable
from functools import cache
from importlib.metadata import entry_points
from typing import Any, Literal

from dramaforge.errors import ConfigError

Kind = Literal["image", "video", "speech", "sound", "director", "critic"]
Factory = Callable[[str, Any], Any]  # (model, settings) -> backend


class Registry:
    def __init__(self) -> None:
        self._factories: dict[tuple[Kind, str], Factory] = {}

    def add(self, kind: Kind, provider: str, factory: Factory) -> None:
        self._factories[(kind, provider)] = factory

    def providers(self, kind: Kind) -> list[str]:
        return sorted(p for k, p in self._factories if k == kind)

    def create(self, kind: Kind, spec: str, settings: Any) -> Any:
        """Build the backend named ``spec`` (``provider:model``) for ``kind``."""
        provider, _, model = spec.partition(":")
        factory = self._factories.get((kind, provider))
        if factory is None:
            known = ", ".join(self.providers(kind)) or "none"
            raise ConfigError(
                f"unknown {kind} backend {spec!r}; installed providers for {kind}: {known}"
            )
        return factory(model, settings)


@cache
def registry() -> Registry:
    reg = Registry()
    for ep in entry_points(group="dramaforge.backends"):
        ep.load()(reg)
    if not reg.providers("image"):
        # Running from a source tree that was never installed: register the built-ins directly.
        from dramaforge.tools import local

        local.register(reg)
    return reg
