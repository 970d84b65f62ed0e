"""The keyframe stage, offline: the focus character's series reference goes with the request
and into the store key by its content; a critic's revised prompt is what the panel shows."""

from __future__ import annotations

import shutil
from pathlib import Path
from typing import Any, cast

import numpy as np
import pytest
from langgraph.graph import END, START, StateGraph
from PIL import Image

from dramaforge.graph.context import RenderContext, build_context
from dramaforge.graph.nodes.shot import keyframe
from dramaforge.graph.state import ShotState
from dramaforge.graph.threads import make_options
from dramaforge.media.store import content_key, file_digest
from dramaforge.schema import (
    Asset,
    CharacterLook,
    Critique,
    KeyframeReview,
    Shot,
    StyleBible,
    Voice,
)
from dramaforge.tools.local.storyboard import StoryboardBackend
from dramaforge.tools.protocols import Generated, ImageRequest
from tests.helpers import settings_for

REVISED = "REVISED: 阿明 alone at the blackboard, chalk in hand, morning light"


class Seen:
    """The real storyboard backend, keeping every request it is asked to draw."""

    def __init__(self) -> None:
        self.real = StoryboardBackend()
        self.name = self.real.name
        self.requests: list[ImageRequest] = []

    def generate(self, request: ImageRequest, dest: Path, journal: object = None) -> Generated:
        self.requests.append(request)
        return self.real.generate(request, dest)


def _context(tmp_path: Path) -> tuple[RenderContext, Seen]:
    settings = settings_for()
    seen = Seen()
    return build_context(settings, settings.state_root(tmp_path), image=seen), seen


def _bible(reference: Path | None) -> StyleBible:
    look = CharacterLook(
        name="阿明", description="高中生", color="#3a7bd5", slot=0, seed=11, voice=Voice(id="v"),
        reference_image=None if reference is None else str(reference),
    )  # fmt: skip
    return StyleBible(look="", palette=[], seed=3, characters={"阿明": look}, narrator=look.voice)


def _state(tmp_path: Path, bible: StyleBible, **more: Any) -> dict[str, Any]:
    shot = Shot(
        id="s01", index=0, scene_index=0, scene_heading="内景 教室 - 白天", duration=2.0,
        framing="close_up", camera="static", visual_prompt="阿明走进教室",
        action="阿明推门进来。", characters=["阿明"], focus="阿明",
    )  # fmt: skip
    options = make_options(tmp_path / "ep01.txt", tmp_path, settings_for())
    return {"shot": shot, "bible": bible, "options": options, "language": "zh", "fingerprint": "",
            "previous": [], **more}  # fmt: skip


def _keyframe(ctx: RenderContext, state: dict[str, Any]) -> Asset:
    graph = StateGraph(ShotState, context_schema=RenderContext)
    graph.add_node("keyframe", keyframe)
    graph.add_edge(START, "keyframe")
    graph.add_edge("keyframe", END)
    made: Asset = graph.compile().invoke(cast("ShotState", state), context=ctx)["keyframe"]
    return made


def _reference(path: Path, seed: int) -> Path:
    """What episode 1 leaves in the series bible: one of its keyframes of the character."""
    request = ImageRequest(
        prompt="", width=432, height=768, seed=seed, framing="close_up",
        scene_heading="外景 操场 - 傍晚", characters={"阿明": ("#3a7bd5", 0)}, focus="阿明",
    )  # fmt: skip
    path.parent.mkdir(parents=True, exist_ok=True)
    StoryboardBackend().generate(request, path)
    return path


def test_the_focus_reference_is_sent_and_keyed_by_its_content(tmp_path: Path) -> None:
    ctx, seen = _context(tmp_path)
    ref = _reference(tmp_path / "series" / "a.png", seed=1)
    moved = tmp_path / "elsewhere" / "a.png"
    moved.parent.mkdir()
    shutil.copyfile(ref, moved)
    other = _reference(tmp_path / "series" / "b.png", seed=2)

    first = _keyframe(ctx, _state(tmp_path, _bible(ref)))
    (request,) = seen.requests
    assert request.reference == str(ref)
    by_content = request.model_dump(mode="json") | {"reference": file_digest(ref)}
    assert first.key == content_key("keyframe", "local:storyboard", by_content)

    # The same picture elsewhere (a moved project) is the same asset: nothing is drawn again.
    assert _keyframe(ctx, _state(tmp_path, _bible(moved))).key == first.key
    assert len(seen.requests) == 1
    # Another picture is another asset; so is none (keyed as before references existed).
    assert _keyframe(ctx, _state(tmp_path, _bible(other))).key != first.key
    plain = _keyframe(ctx, _state(tmp_path, _bible(None)))
    assert seen.requests[-1].reference is None
    assert plain.key == content_key("keyframe", "local:storyboard", seen.requests[-1])
    assert "reference" not in seen.requests[-1].model_dump()


def test_a_reference_that_is_gone_is_not_sent(tmp_path: Path) -> None:
    ctx, seen = _context(tmp_path)
    ref = _reference(tmp_path / "series" / "a.png", seed=1)
    ref.unlink()
    _keyframe(ctx, _state(tmp_path, _bible(ref)))
    assert seen.requests[-1].reference is None


def _pixels(asset: Asset) -> np.ndarray:
    with Image.open(asset.path) as img:
        return np.asarray(img.convert("RGB")).astype(int)


def test_a_revised_prompt_is_drawn_on_the_retried_keyframe(tmp_path: Path) -> None:
    ctx, seen = _context(tmp_path)
    bible = _bible(None)
    first = _keyframe(ctx, _state(tmp_path, bible))
    failed = Critique(
        passed=False, score=0.3, issues=["no blackboard"], stage_at_fault="keyframe",
        revised_prompt=REVISED, reviewer="openai:fake-vl",
    )  # fmt: skip
    review = KeyframeReview(keyframe=first, critique=failed)
    retried = _keyframe(ctx, _state(tmp_path, bible, tries={"keyframe": 1}, reviews=[review]))
    unrevised = _keyframe(ctx, _state(tmp_path, bible, tries={"keyframe": 1}))
    assert seen.requests[1].prompt == seen.requests[1].caption == REVISED
    assert seen.requests[2].caption == "阿明推门进来。"
    assert retried.prompt == REVISED and retried.seed == unrevised.seed != first.seed

    # Same take, same seed: the two differ only where the caption is drawn, under the heading.
    a, b = _pixels(retried), _pixels(unrevised)
    rows = np.nonzero(np.abs(a - b).sum(axis=(1, 2)))[0]
    assert len(rows) > 20
    assert rows.min() > 0.09 * a.shape[0] and rows.max() < 0.3 * a.shape[0]
    assert np.abs(_pixels(first) - a).mean() > 3  # and a retry is a new take of the shot


@pytest.mark.parametrize("length", [8, 400])
def test_a_caption_of_any_length_stays_in_its_band(tmp_path: Path, length: int) -> None:
    """A long revised prompt is cut (with an ellipsis) to the caption's three lines."""
    ctx, _ = _context(tmp_path)
    bible = _bible(None)
    first = _keyframe(ctx, _state(tmp_path, bible))
    failed = Critique(passed=False, score=0.3, stage_at_fault="keyframe",
                      revised_prompt="阿明" * (length // 2))  # fmt: skip
    review = KeyframeReview(keyframe=first, critique=failed)
    retried = _keyframe(ctx, _state(tmp_path, bible, tries={"keyframe": 1}, reviews=[review]))
    unrevised = _keyframe(ctx, _state(tmp_path, bible, tries={"keyframe": 1}))
    a, b = _pixels(retried), _pixels(unrevised)
    rows = np.nonzero(np.abs(a - b).sum(axis=(1, 2)))[0]
    assert rows.max() < 0.3 * a.shape[0]
