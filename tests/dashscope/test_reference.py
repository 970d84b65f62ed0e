"""Reference images: Wan image-to-image draws the focus character from its series reference."""

from __future__ import annotations

from io import BytesIO
from pathlib import Path

import pytest
from PIL import Image

from dramaforge.graph.nodes.shot import reference_image
from dramaforge.media.store import content_key
from dramaforge.schema import CharacterLook, StyleBible, Voice
from dramaforge.tools.dashscope.image import WAN25_AREA, DashScopeImage, model_size
from dramaforge.tools.dashscope.transport import Transport
from dramaforge.tools.protocols import ImageRequest
from tests.fakes.dashscope_server import FakeDashScope
from tests.helpers import provider_settings


def _image(dashscope_server: FakeDashScope, model: str) -> DashScopeImage:
    settings = provider_settings(dashscope_server, timeout=10.0, poll_interval=0.01)
    return DashScopeImage(model, Transport(settings))


def _request(reference: Path | None) -> ImageRequest:
    return ImageRequest(
        prompt="特写，教室，阿明", width=360, height=640, seed=5, framing="close_up",
        scene_heading="内景 教室", reference=None if reference is None else str(reference),
    )  # fmt: skip


def _reference(tmp_path: Path, size: tuple[int, int] = (432, 768), mode: str = "RGB") -> Path:
    path = tmp_path / "ref.png"
    Image.new(mode, size, (30, 90, 200)).save(path)
    return path


def test_an_i2i_model_draws_from_the_reference(
    dashscope_server: FakeDashScope, tmp_path: Path
) -> None:
    ref = _reference(tmp_path)
    _image(dashscope_server, "wan2.5-i2i-preview").generate(_request(ref), tmp_path / "k.png")
    (task,) = dashscope_server.tasks.values()
    assert task.body["model"] == "wan2.5-i2i-preview"
    (url,) = task.body["input"]["images"]
    assert url.startswith("oss://")  # through temporary storage, never inline
    (stored,) = dashscope_server.uploads.files.values()
    assert stored.data == ref.read_bytes() and stored.model == "wan2.5-i2i-preview"
    assert task.body["parameters"]["size"] == "576*1024"  # 9:16 at the least area it takes
    with Image.open(tmp_path / "k.png") as made:
        assert made.size == (360, 640)


@pytest.mark.parametrize(("size", "mode"), [((64, 64), "RGB"), ((432, 768), "RGBA")])
def test_a_reference_the_model_would_refuse_goes_as_a_copy_it_takes(
    dashscope_server: FakeDashScope, tmp_path: Path, size: tuple[int, int], mode: str
) -> None:
    """input.images: sides of 384 to 5000 pixels, no transparency (the fake refuses others)."""
    ref = _reference(tmp_path, size, mode)
    _image(dashscope_server, "wan2.5-i2i-preview").generate(_request(ref), tmp_path / "k.png")
    (stored,) = dashscope_server.uploads.files.values()
    with Image.open(BytesIO(stored.data)) as sent:
        assert sent.mode == "RGB" and min(sent.size) >= 384
        assert sent.width / sent.height == pytest.approx(size[0] / size[1], rel=0.01)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["k.png", "ref.png"]  # copy removed


@pytest.mark.parametrize("model", ["wan2.5-t2i-preview", "wan2.5-i2i-preview"])
@pytest.mark.parametrize("frame", [(432, 768), (768, 432), (1296, 2304), (2304, 1296), (80, 800)])
def test_wan25_sizes_are_in_the_documented_area(model: str, frame: tuple[int, int]) -> None:
    lo, hi = WAN25_AREA["i2i" if "-i2i" in model else "t2i"]
    w, h = model_size(model, *frame)
    assert lo <= w * h <= hi and 1 / 4 <= w / h <= 4 and w % 16 == h % 16 == 0
    if 1 / 4 <= frame[0] / frame[1] <= 4:
        assert w / h == pytest.approx(frame[0] / frame[1], rel=0.02)


def test_without_a_reference_it_draws_from_text_and_others_ignore_it(
    dashscope_server: FakeDashScope, tmp_path: Path
) -> None:
    ref = _reference(tmp_path)
    _image(dashscope_server, "wan2.5-i2i-preview").generate(_request(None), tmp_path / "a.png")
    _image(dashscope_server, "qwen-image").generate(_request(ref), tmp_path / "b.png")
    models = [t.body["model"] for t in dashscope_server.tasks.values()]
    assert sorted(models) == ["qwen-image", "wan2.5-t2i-preview"]
    assert all("images" not in t.body["input"] for t in dashscope_server.tasks.values())
    assert not dashscope_server.uploads.files


def test_the_reference_leaves_old_keys_alone_and_keys_by_content(tmp_path: Path) -> None:
    plain = _request(None)
    assert "reference" not in plain.model_dump()  # keys made before references are unchanged
    assert content_key("keyframe", "x", plain) == content_key(
        "keyframe", "x", plain.model_dump(mode="json")
    )


def test_the_keyframe_stage_sends_the_focus_characters_reference(tmp_path: Path) -> None:
    ref = _reference(tmp_path)
    look = CharacterLook(
        name="阿明", description="", color="#3a7bd5", slot=0, seed=1, voice=Voice(id="v"),
        reference_image=str(ref),
    )  # fmt: skip
    bible = StyleBible(look="", palette=[], seed=1, characters={"阿明": look}, narrator=look.voice)
    assert reference_image(bible, "阿明") == str(ref)
    assert reference_image(bible, None) is None
    ref.unlink()  # a reference that is gone is not sent
    assert reference_image(bible, "阿明") is None
