"""What tests import: paths, render settings, provider settings aimed at a fake, counting
wrappers, a shot's stage run in a graph.

Fixtures live in ``conftest.py``; everything a test module imports by name lives here, so a
test reads ``from tests.helpers import settings_for`` and pytest's own file stays fixtures only.
"""

from __future__ import annotations

import socket
from collections import Counter
from collections.abc import Callable
from pathlib import Path
from typing import Any, TypeVar

from langgraph.graph import END, START, StateGraph
from typing_extensions import TypedDict

from dramaforge.config import ProviderSettings, Settings
from dramaforge.graph.context import RenderContext, build_context
from dramaforge.tools.progress import working_on
from tests.fakes.cosyvoice_server import FakeCosyVoice
from tests.fakes.dashscope_server import FakeDashScope
from tests.fakes.openai_server import FakeOpenAI

ROOT = Path(__file__).resolve().parent.parent
EXAMPLES = ROOT / "examples"
FIXTURES = Path(__file__).resolve().parent / "fixtures"

P = TypeVar("P", bound=ProviderSettings)
T = TypeVar("T")


def settings_for(resolution: str = "360p", aspect: str = "9:16", **render: Any) -> Settings:
    """Default settings with a small frame (tests render 360p unless they test the size)."""
    base = Settings()
    return base.model_copy(
        update={
            "render": base.render.model_copy(
                update={"resolution": resolution, "aspect": aspect, **render}
            ),
        }
    )


def provider_settings(
    fake: FakeDashScope | FakeOpenAI | FakeCosyVoice,
    kind: type[P] = ProviderSettings,  # type: ignore[assignment]
    **fields: Any,
) -> P:
    """A provider's settings aimed at a fake server: its key and address, then ``fields``.

    The one place that knows where each fake listens: a DashScope fake's HTTP base URL and key,
    a CosyVoice fake's WebSocket URL and key, an OpenAI-compatible fake's ``/v1`` base URL (it
    checks no key; pass ``api_key`` where a test reads it back). ``kind`` is
    ``DashScopeSettings`` where the ledger or list lag matter.
    """
    if isinstance(fake, FakeDashScope):
        where: dict[str, Any] = {"api_key": fake.api_key, "base_url": fake.url}
    elif isinstance(fake, FakeCosyVoice):
        where = {"api_key": fake.api_key, "websocket_url": fake.url}
    else:
        where = {"base_url": fake.base_url}
    return kind(**(where | fields))


def free_port() -> int:
    """A loopback port nothing listens on now, for a real server a test starts."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def write_series(folder: Path, tag: str, episodes: int) -> Path:
    """``episodes`` one-scene scripts in ``folder`` whose lines carry ``tag``: no asset is
    shared with another series (a test's, a benchmark's)."""
    folder.mkdir(parents=True)
    for i in range(1, episodes + 1):
        (folder / f"ep{i:02d}.zh.txt").write_text(
            f"# {tag} 第{i}集\n人物：阿明（男，高中生）；小雪（女，高中生）\n"
            f"【场景1】教室 - 白天 - 内\n【画面】阿明推门进来，{tag}第{i}集。\n"
            f"阿明：{tag}，第{i}集，早上好。\n小雪：你来晚了。\n",
            encoding="utf-8",
        )
    return folder


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


class KindCounting:
    """The sound backend, counting generations by kind (music, ambience, sfx)."""

    def __init__(self, inner: Any, calls: Counter[str]) -> None:
        self.inner, self.calls, self.name = inner, calls, inner.name

    def generate(self, request: Any, dest: Path, journal: Any = None) -> Any:
        self.calls[request.kind] += 1
        return self.inner.generate(request, dest, journal)


def counting_context(settings: Settings, out: Path) -> tuple[RenderContext, Counter[str]]:
    """A render context whose image, video, speech and sound backends count their calls."""
    calls: Counter[str] = Counter()
    ctx = build_context(settings, settings.state_root(out))
    for kind in ("image", "video", "speech", "sound"):
        setattr(ctx, kind, Counting(getattr(ctx, kind), calls, kind))
    return ctx, calls


class _Stage(TypedDict):
    done: bool


def on_shot_line(shot_id: str, work: Callable[[], T]) -> tuple[T, list[dict[str, Any]]]:
    """Run ``work`` as a render runs a stage of shot ``shot_id`` (a LangGraph node working on
    the shot): what it returns, and the progress events it streamed, as the CLI would see them.
    ``work`` returns rather than raises what a test wants to look at: an error ends the stream.
    """
    kept: list[T] = []

    def stage(state: _Stage) -> dict[str, bool]:
        with working_on(shot_id):
            kept.append(work())
        return {"done": True}

    graph = StateGraph(_Stage)
    graph.add_node("stage", stage)
    graph.add_edge(START, "stage")
    graph.add_edge("stage", END)
    events = list(graph.compile().stream({"done": False}, stream_mode="custom"))
    return kept[0], events
