"""Shared fixtures: no user configuration, and one fresh fake server per test for each provider.

Helpers that tests import by name are in ``tests/helpers.py``.
"""

from __future__ import annotations

import os
from collections.abc import Iterator

import pytest

from tests.fakes.cosyvoice_server import FakeCosyVoice
from tests.fakes.dashscope_server import FakeDashScope
from tests.fakes.openai_server import FakeOpenAI, fake_openai

# The cluster's real servers, here so every module shares one of each per session.
from tests.fixtures_cluster import (  # noqa: F401
    _cluster_template,
    cluster_db,
    module_cluster_db,
    postgres,
    ray_cluster,
    s3_server,
)


@pytest.fixture(autouse=True)
def _no_user_config(
    monkeypatch: pytest.MonkeyPatch, tmp_path_factory: pytest.TempPathFactory
) -> None:
    """Tests never read the developer's dramaforge.toml or DRAMAFORGE_* variables."""
    monkeypatch.chdir(tmp_path_factory.getbasetemp())
    for key in list(os.environ):
        if key.startswith("DRAMAFORGE_"):
            monkeypatch.delenv(key)
    # The account-wide DashScope ledger defaults to the user's cache: a test's own.
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path_factory.mktemp("cache")))


@pytest.fixture
def dashscope_server() -> Iterator[FakeDashScope]:
    """A fake DashScope (HTTP tasks, task list, files, Qwen-TTS) on 127.0.0.1."""
    with FakeDashScope() as fake:
        yield fake


@pytest.fixture
def openai_server() -> Iterator[FakeOpenAI]:
    """A fake OpenAI-compatible chat server; set ``.handler`` or queue ``.then(...)`` replies."""
    with fake_openai() as fake:
        yield fake


@pytest.fixture
def cosyvoice_server() -> Iterator[FakeCosyVoice]:
    """A fake of DashScope's CosyVoice WebSocket service."""
    with FakeCosyVoice() as fake:
        yield fake
