"""Moderation: a rejected prompt is rewritten once; rejected twice, only that shot fails."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from dramaforge.config import ProviderSettings
from dramaforge.graph.run import render_episode
from dramaforge.schema import Manifest
from dramaforge.tools.media.probe import probe
from tests.conftest import FIXTURES, settings_for
from tests.fakes.dashscope_server import FakeDashScope, Fault

pytestmark = pytest.mark.slow
REJECT = Fault("status", status=400, code="DataInspectionFailed", message="flagged by the fake")


@pytest.fixture
def server() -> Iterator[FakeDashScope]:
    with FakeDashScope() as fake:
        yield fake


def _render(server: FakeDashScope, out: Path) -> Manifest:
    base = settings_for(concurrency=1)
    settings = base.model_copy(
        update={
            "backends": base.backends.model_copy(update={"image": "dashscope:qwen-image"}),
            "dashscope": ProviderSettings(
                api_key=server.api_key, base_url=server.url, poll_interval=0.01, timeout=10.0
            ),
        }
    )
    return render_episode(FIXTURES / "short.zh.txt", out, settings)


def test_one_rejection_is_rewritten_and_passes(server: FakeDashScope, tmp_path: Path) -> None:
    server.fault("submit", REJECT)
    manifest = _render(server, tmp_path)
    assert all(r.take.critique.passed for r in manifest.shots)
    prompts = [b["input"]["prompt"] for b in server.bodies if b.get("model") == "qwen-image"]
    assert len(prompts) == len(manifest.plan.shots) + 1  # one extra, the rewritten prompt
    rewritten = next(r for r in manifest.shots if "适合所有年龄" in r.take.keyframe.prompt)
    assert rewritten.take.keyframe.backend == "dashscope:qwen-image"


def test_rejected_twice_fails_that_shot_and_the_rest_renders(
    server: FakeDashScope, tmp_path: Path
) -> None:
    server.fault("submit", REJECT, REJECT)
    manifest = _render(server, tmp_path)
    failed = [r for r in manifest.shots if not r.take.critique.passed]
    assert len(failed) == 1
    take = failed[0].take
    assert "moderation" in take.critique.issues[0] and take.critique.reviewer == "moderation"
    assert take.keyframe.backend == "local:storyboard"  # placeholder keeps the timing
    assert len(failed[0].takes) == 1  # a moderation failure is not retried
    others = [r for r in manifest.shots if r is not failed[0]]
    assert all(r.take.keyframe.backend == "dashscope:qwen-image" for r in others)
    info = probe(Path(manifest.episode.path))
    assert abs(info.duration - sum(r.duration for r in manifest.shots)) <= 0.5
