"""Is it still them: identity scores on real faces (scikit-image's astronaut, transformed) and
on the offline painter's faces, the copy guard, the count check, and a keyframe sent back to
be redrawn before its clip is paid for."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from PIL import Image, ImageEnhance

from dramaforge.agents import identity
from dramaforge.agents.critic import Critic
from dramaforge.schema import CharacterLook, Shot, StyleBible, Voice
from dramaforge.tools.local.storyboard import StoryboardBackend
from dramaforge.tools.protocols import ImageRequest

CAST = {"阿明": ("#e05030", 0), "小雪": ("#3080b0", 1)}


def _drawn(tmp_path: Path, name: str, framing: str, cast: dict[str, tuple[str, int]]) -> Path:
    request = ImageRequest(
        prompt="教室",
        width=432,
        height=768,
        seed=len(name) + len(framing),
        framing=framing,  # type: ignore[arg-type]
        scene_heading="教室 - 白天 - 内",
        characters=cast,
        focus=next(iter(cast)) if framing == "close_up" else None,
    )
    dest = tmp_path / f"{name}.png"
    StoryboardBackend().generate(request, dest)
    return dest


def _shot(framing: str, characters: list[str]) -> Shot:
    return Shot(
        id="s01-02",
        index=1,
        scene_index=1,
        scene_heading="教室",
        duration=3.0,
        framing=framing,  # type: ignore[arg-type]
        camera="static",
        visual_prompt="",
        characters=characters,
        focus=characters[0],
    )


def _bible(references: dict[str, Path]) -> StyleBible:
    looks = {
        n: CharacterLook(
            name=n,
            description="",
            color=CAST[n][0],
            slot=CAST[n][1],
            seed=1,
            voice=Voice(id="v"),
            reference_image=str(p),
        )
        for n, p in references.items()
    }
    return StyleBible(look="", palette=[], seed=1, characters=looks, narrator=Voice(id="n"))


def test_painter_faces_are_told_apart_and_matched_to_the_cast(tmp_path: Path) -> None:
    refs = {
        "阿明": _drawn(tmp_path, "ref-ming", "close_up", {"阿明": CAST["阿明"]}),
        "小雪": _drawn(tmp_path, "ref-xue", "close_up", {"小雪": CAST["小雪"]}),
    }
    both = _drawn(tmp_path, "both", "medium", CAST)
    seen = identity.judge(both, refs, in_frame=2)
    assert seen.faces == 2 and seen.copies == []
    assert seen.scores == {
        "阿明": pytest.approx(1.0, abs=0.01),
        "小雪": pytest.approx(1.0, abs=0.01),
    }
    assert seen.matched["阿明"].box[0] < seen.matched["小雪"].box[0]  # slot 0 stands left
    # 阿明 drawn in 小雪's colours is not 阿明.
    swapped = _drawn(tmp_path, "swapped", "close_up", {"阿明": CAST["小雪"]})
    assert identity.judge(swapped, {"阿明": refs["阿明"]}, in_frame=1).below()
    # The count check: three people in frame, two faces drawn.
    assert identity.judge(both, refs, in_frame=3).faces == 2


def test_a_keyframe_unlike_its_character_is_redrawn_and_a_copy_is_noted(
    tmp_path: Path,
) -> None:
    ref = _drawn(tmp_path, "ref", "close_up", {"阿明": CAST["阿明"]})
    critic = Critic().with_bible(_bible({"阿明": ref}))
    shot = _shot("close_up", ["阿明"])
    good = _drawn(tmp_path, "good", "medium", {"阿明": CAST["阿明"]})
    kept = critic.review_keyframe(shot, keyframe=good)
    assert kept.passed and kept.identity == pytest.approx(1.0, abs=0.01)
    unlike = _drawn(tmp_path, "unlike", "close_up", {"阿明": CAST["小雪"]})
    redo = critic.review_keyframe(shot, keyframe=unlike)
    assert not redo.passed and redo.stage_at_fault == "keyframe"
    assert "does not look like their reference" in redo.issues[0]
    assert redo.identity is not None and redo.identity < 0.5
    copied = critic.review_keyframe(shot, keyframe=ref)  # noted; the report leaves it out
    assert copied.passed and "copies 阿明's reference picture" in copied.issues[0]
    # Without references (a first episode) nothing is judged by likeness.
    assert Critic().with_bible(_bible({})).review_keyframe(shot, keyframe=unlike).identity is None


def test_a_real_face_keeps_its_identity_through_transformations(tmp_path: Path) -> None:
    pytest.importorskip("dlib", reason="the 'faces' extra (make install adds it)")
    data = pytest.importorskip("skimage.data", reason="scikit-image (the dev extra)")
    photo = Image.fromarray(data.astronaut())
    reference = tmp_path / "astronaut.png"
    photo.save(reference)
    variants = {
        "mirrored": photo.transpose(Image.Transpose.FLIP_LEFT_RIGHT),
        "smaller": photo.resize((384, 384)),
        "darker": ImageEnhance.Brightness(photo).enhance(0.7),
        "tilted": photo.rotate(8, fillcolor=(128, 128, 128)),
    }
    for name, variant in variants.items():
        path = tmp_path / f"{name}.png"
        variant.save(path)
        seen = identity.judge(path, {"astronaut": reference}, in_frame=1)
        assert seen.kinds == {"astronaut": "real"}, name
        assert seen.scores["astronaut"] >= identity.LIKENESS["real"], (name, seen.scores)
        # A resized reference is still the reference: the copy guard says so.
        assert seen.copies == (["astronaut"] if name == "smaller" else []), name
    assert identity.judge(reference, {"astronaut": reference}, in_frame=1).copies
    # A drawn face is not a photographed one: not comparable, so no likeness at all.
    drawn = identity.faces_in(_drawn(tmp_path, "drawn", "close_up", {"阿明": CAST["阿明"]}))
    real = identity.faces_in(np.asarray(photo))
    assert identity.similarity(drawn[0], real[0]) == 0.0
