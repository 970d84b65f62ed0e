"""Consistency across a two-episode series: one reference image, seed and voice per character,
and a per-shot score that drops when a character is drawn off-model."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from PIL import Image

from dramaforge.agents.consistency import OFF_MODEL
from dramaforge.config import IdentitySettings
from dramaforge.graph.verbs import render_episode
from dramaforge.schema import CharacterConsistency, Manifest
from dramaforge.tools.protocols import Generated, ImageRequest
from tests.helpers import FIXTURES, counting_context, settings_for
from tests.test_batch import EPISODE_2

pytestmark = pytest.mark.slow

SERIES = "小测试"
OFF_COLOUR = "#17bebb"  # a colour the bible gives no one in this series


class OffModel:
    """An image backend that draws one character in the wrong colour."""

    def __init__(self, real: Any, who: str) -> None:
        self.real, self.name, self.who = real, real.name, who
        self.seen: list[ImageRequest] = []

    def generate(self, request: ImageRequest, dest: Path, journal: object = None) -> Generated:
        self.seen.append(request)
        if self.who in request.characters:
            _, slot = request.characters[self.who]
            cast = {**request.characters, self.who: (OFF_COLOUR, slot)}
            request = request.model_copy(update={"characters": cast})
        made: Generated = self.real.generate(request, dest)
        return made


def _pixels(path: str) -> np.ndarray:
    with Image.open(path) as img:
        return np.asarray(img.convert("RGB"))


def _by_name(manifest: Manifest) -> dict[str, CharacterConsistency]:
    return {c.name: c for c in manifest.consistency}


@pytest.fixture(scope="module")
def series(
    tmp_path_factory: pytest.TempPathFactory,
) -> tuple[Manifest, Manifest, Path, list[ImageRequest]]:
    out = tmp_path_factory.mktemp("series")
    ep2 = out / "ep02.txt"
    ep2.write_text(EPISODE_2, encoding="utf-8")
    settings = settings_for(concurrency=1).model_copy(  # references picked, not drawn
        update={"identity": IdentitySettings(reference_sheets=False)}
    )
    ctx, _ = counting_context(settings, out)
    first = render_episode(FIXTURES / "short.zh.txt", out, settings, series=SERIES, context=ctx)
    off = OffModel(ctx.image, "阿明")
    ctx.image = off  # type: ignore[assignment]
    second = render_episode(ep2, out, settings, series=SERIES, context=ctx)
    return first, second, out, off.seen


def test_reference_seed_and_voice_are_reused_by_episode_two(
    series: tuple[Manifest, Manifest, Path, list[ImageRequest]],
) -> None:
    first, second, out, _ = series
    on_disk = json.loads(
        (settings_for().state_root(out) / "series" / f"{SERIES}.json").read_text(encoding="utf-8")
    )
    for name in ("阿明", "小雪"):
        one, two = first.bible.characters[name], second.bible.characters[name]
        assert one == two  # the same seed, voice, colour and reference image
        assert one.reference_image and Path(one.reference_image).is_file()
        assert on_disk[name]["reference_image"] == one.reference_image
        assert Path(one.reference_image).parent.name == SERIES  # kept beside the bible

        # Episode 1 picked it from its own keyframes; episode 2 was measured against it.
        picked, reused = _by_name(first)[name], _by_name(second)[name]
        assert picked.reference == reused.reference == one.reference_image
        assert reused.reference_from == "bible"
        source = next(r for r in first.shots if r.shot_id == picked.reference_from)
        assert np.array_equal(_pixels(one.reference_image), _pixels(source.take.keyframe.path))
        source_shot = first.plan.shot(picked.reference_from)
        assert source_shot.focus == name and source.take.critique.passed
    # The newcomer got its own reference from episode 2, and a slot nobody else has.
    teacher = second.bible.characters["老师"]
    assert teacher.reference_image and on_disk["老师"]["reference_image"] == teacher.reference_image
    assert teacher.slot not in {first.bible.characters[n].slot for n in ("阿明", "小雪")}


def test_consistency_score_drops_for_an_off_model_character(
    series: tuple[Manifest, Manifest, Path, list[ImageRequest]],
) -> None:
    first, second, _, _ = series
    on_model = _by_name(first)["阿明"]
    assert on_model.shots and on_model.lowest is not None and on_model.lowest >= 0.9
    off_model = _by_name(second)["阿明"]
    assert off_model.shots and all(s.score < 0.1 for s in off_model.shots)
    # Everyone else in episode 2 was drawn as in episode 1 and still matches.
    others = _by_name(second)["小雪"]
    assert others.lowest is not None and others.lowest >= OFF_MODEL
    assert {s.shot_id for s in off_model.shots} == {
        s.id for s in second.plan.shots if "阿明" in s.characters
    }

    html = (Path(second.episode.path).parent / "storyboard.html").read_text(encoding="utf-8")
    assert "Character consistency" in html and "reference from series bible" in html
    worst = min(off_model.shots, key=lambda s: s.score)
    assert f"{worst.shot_id}: {worst.score:.2f}</a>" in html


def test_episode_two_draws_its_focus_characters_from_their_references(
    series: tuple[Manifest, Manifest, Path, list[ImageRequest]],
) -> None:
    first, _, _, seen = series
    focused = [r for r in seen if r.focus in first.bible.characters]
    assert focused
    for request in focused:
        assert request.reference == first.bible.characters[request.focus or ""].reference_image
