"""A two-episode series through the fake DashScope: episode 2 draws its focus characters from
the reference images episode 1 left in the series bible, and the server sees them arrive."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from dramaforge.config import IdentitySettings, Settings
from dramaforge.graph.verbs import render_episode
from dramaforge.schema import Manifest
from tests.fakes.dashscope_server import FakeDashScope, Task
from tests.helpers import FIXTURES, provider_settings, settings_for
from tests.test_batch import EPISODE_2

pytestmark = pytest.mark.slow

SERIES = "小测试"
I2I, T2I = "wan2.5-i2i-preview", "wan2.5-t2i-preview"


def _settings(fake: FakeDashScope) -> Settings:
    base = settings_for(concurrency=1)
    return base.model_copy(
        update={
            "backends": base.backends.model_copy(update={"image": f"dashscope:{I2I}"}),
            "dashscope": provider_settings(fake, timeout=10.0, poll_interval=0.01),
            # The references picked from episode 1's keyframes (test_reference_sheets: drawn)
            "identity": IdentitySettings(reference_sheets=False),
        }
    )


@pytest.fixture(scope="module")
def series(
    tmp_path_factory: pytest.TempPathFactory,
) -> Iterator[tuple[Manifest, Manifest, list[Task], FakeDashScope]]:
    out = tmp_path_factory.mktemp("series")
    ep2 = out / "ep02.txt"
    ep2.write_text(EPISODE_2, encoding="utf-8")
    with FakeDashScope() as fake:
        settings = _settings(fake)
        first = render_episode(FIXTURES / "short.zh.txt", out, settings, series=SERIES)
        before = list(fake.tasks.values())
        second = render_episode(ep2, out, settings, series=SERIES)
        yield first, second, before, fake


def _bytes(fake: FakeDashScope, task: Task) -> list[bytes]:
    urls = (task.body.get("input") or {}).get("images") or []
    return [fake.uploads.files[str(u).removeprefix("oss://")].data for u in urls]


def test_episode_one_has_no_references_yet_and_draws_from_text(
    series: tuple[Manifest, Manifest, list[Task], FakeDashScope],
) -> None:
    first, _, before, _ = series
    assert len(before) == len(first.plan.shots)
    assert {t.model for t in before} == {T2I}
    assert all("images" not in t.body["input"] for t in before)
    for name in ("阿明", "小雪"):  # ... and leaves one per character for the next
        reference = first.bible.characters[name].reference_image
        assert reference and Path(reference).is_file()


def test_episode_two_sends_each_focus_characters_episode_one_reference(
    series: tuple[Manifest, Manifest, list[Task], FakeDashScope],
) -> None:
    first, second, before, fake = series
    later = [t for t in fake.tasks.values() if t not in before]
    assert len(later) == len(second.plan.shots)  # every keyframe paid for once
    prompts = {r.shot_id: r.take.keyframe.prompt for r in second.shots}
    referenced = 0
    for shot in second.plan.shots:
        (task,) = [t for t in later if t.body["input"]["prompt"] == prompts[shot.id]]
        look = first.bible.characters.get(shot.focus or "")
        if look is None or look.reference_image is None:  # no focus, or new in episode 2
            assert task.model == T2I and "images" not in task.body["input"], shot.id
            continue
        # Server side: an i2i model (the fake takes it on the image2image path only, and
        # refuses input.images anywhere else) and the very bytes of the reference.
        assert task.model == I2I, shot.id
        assert _bytes(fake, task) == [Path(look.reference_image).read_bytes()], shot.id
        referenced += 1
    assert referenced >= 1  # 小雪 leads a shot of episode 2
    # One upload per reference sent, made for the model that used it (storage is per model).
    assert len(fake.uploads.files) == referenced
    assert {f.model for f in fake.uploads.files.values()} == {I2I}
    assert second.backends["image"] == f"dashscope:{I2I}"
