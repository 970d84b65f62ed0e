"""Shared fixtures: render settings for tests, counting wrappers around real backends."""

from __future__ import annotations

from collections import Counter
from pathlib import Path
from typing import Any

import pytest

from dramaforge.config import Settings
from dramaforge.graph.context import RenderContext, build_context

ROOT = Path(__file__).resolve().parent.parent
EXAMPLES = ROOT / "examples"
FIXTURES = Path(__file__).resolve().parent / "fixtures"


class Counting:
    """Wraps a real backend and counts the calls that do generation work."""

    def __init__(self, inner: Any, calls: Counter[str], kind: str) -> None:
        self._inner, self._calls, self._kind = inner, calls, kind
        self.name = inner.name

    def __getattr__(self, attr: str) -> Any:
        return getattr(self._inner, attr)

    def generate(self, *args: Any, **kwargs: Any) -> Any:
        self._calls[self._kind] += 1
        return self._inner.generate(*args, **kwargs)

    def synthesize(self, *args: Any, **kwargs: Any) -> Any:
        self._calls[self._kind] += 1
        return self._inner.synthesize(*args, **kwargs)


def settings_for(resolution: str = "360p", aspect: str = "9:16", **render: Any) -> Settings:
    base = Settings()
    return base.model_copy(
        update={
            "render": base.render.model_copy(
                update={"resolution": resolution, "aspect": aspect, **render}
            ),
        }
    )


class KindCounting:
    """The sound backend, counting generations by kind (music, ambience, sfx)."""

    def __init__(self, inner: Any, calls: Counter[str]) -> None:
        self.inner, self.calls, self.name = inner, calls, inner.name

    def generate(self, request: Any, dest: Path, journal: Any = None) -> Any:
        self.calls[request.kind] += 1
        return self.inner.generate(request, dest, journal)


def counting_context(settings: Settings, out: Path) -> tuple[RenderContext, Counter[str]]:
    calls: Counter[str] = Counter()
    ctx = build_context(settings, settings.state_root(out))
    for kind in ("image", "video", "speech", "sound"):
        setattr(ctx, kind, Counting(getattr(ctx, kind), calls, kind))
    return ctx, calls


@pytest.fixture(autouse=True)
def _no_user_config(
    monkeypatch: pytest.MonkeyPatch, tmp_path_factory: pytest.TempPathFactory
) -> None:
    """Tests never read the developer's dramaforge.toml or DRAMAFORGE_* variables."""
    monkeypatch.chdir(tmp_path_factory.getbasetemp())
    import os

    for key in list(os.environ):
        if key.startswith("DRAMAFORGE_"):
            monkeypatch.delenv(key)
    # The account-wide DashScope ledger defaults to the user's cache: a test's own.
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path_factory.mktemp("cache")))
