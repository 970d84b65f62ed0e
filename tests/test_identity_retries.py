"""A keyframe unlike its character is redrawn before its clip is paid for.

Episodes rendered through the fake DashScope server (image-to-video, paid per clip) with a
series, so each character's reference sheet is drawn first; one keyframe is drawn off-model
on its first try. Counted on the server: one clip submitted per shot, each from the keyframe
that passed, none from the rejected one. On painter faces (a character drawn in another's
colours) and on real faces (scikit-image's astronaut; the rejected try solarized, which
dlib still finds as a face, 0.86 like her where one person scores 0.9 and up).
"""

from __future__ import annotations

import base64
from io import BytesIO
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from PIL import Image, ImageOps

from dramaforge.config import Backends, DashScopeSettings, Settings
from dramaforge.graph.context import build_context
from dramaforge.graph.verbs import render_episode
from dramaforge.media.files import atomic_file
from dramaforge.schema import Manifest, ShotResult
from dramaforge.tools.protocols import Generated, ImageRequest
from tests.fakes.dashscope_server import FakeDashScope, Task
from tests.helpers import FIXTURES, provider_settings, settings_for

pytestmark = pytest.mark.slow

VIDEO = "wan2.2-i2v-flash"
ASTRONAUT_SCRIPT = """# 出发
人物：阿明（男，宇航员）
【场景1】基地 - 白天 - 内
【画面】阿明检查头盔。
阿明：准备出发。
阿明：一切正常。
"""


class FirstTryOffModel:
    """The configured image backend, except that the first keyframe of ``who`` is drawn
    wrong by ``wrong`` (request -> picture written at dest); its bytes are kept."""

    def __init__(self, inner: Any, who: str, wrong: Any) -> None:
        self.inner, self.name, self.who, self.wrong = inner, inner.name, who, wrong
        self.rejected: list[bytes] = []

    def __getattr__(self, attr: str) -> Any:  # draw_sheet: the sheet is drawn right
        return getattr(self.inner, attr)

    def generate(self, request: ImageRequest, dest: Path, journal: object = None) -> Generated:
        if request.focus == self.who and not self.rejected:
            made: Generated = self.wrong(request, dest)
            self.rejected.append(dest.read_bytes())
            return made
        made = self.inner.generate(request, dest)
        return made


def _settings(fake: FakeDashScope) -> Settings:
    fast = {"timeout": 10.0, "poll_interval": 0.02, "poll_timeout": 60.0, "max_retries": 1}
    return settings_for(max_takes=2, concurrency=1).model_copy(
        update={
            "backends": Backends(video=f"dashscope:{VIDEO}"),
            "dashscope": provider_settings(fake, DashScopeSettings, **fast),
        }
    )


def _clip_keyframe(fake: FakeDashScope, task: Task) -> bytes:
    """The keyframe a paid clip was made from, as the server received it."""
    url = str(task.body["input"]["img_url"])
    if url.startswith("data:"):
        return base64.b64decode(url.split(",", 1)[1])
    data = fake.uploads.resolve(url, task.model)
    assert data is not None, url
    return data


def _render(tmp_path: Path, script: Path, who: str, wrong: Any, **over: Any) -> tuple[
    Manifest, FakeDashScope, FirstTryOffModel
]:  # fmt: skip
    with FakeDashScope() as fake:
        settings = _settings(fake)
        out = tmp_path / "out"
        ctx = build_context(settings, settings.state_root(out))
        for kind, backend in over.items():
            setattr(ctx, kind, backend)
        ctx.image = FirstTryOffModel(ctx.image, who, wrong)  # type: ignore[assignment]
        manifest = render_episode(script, out, settings, series="s", context=ctx)
    return manifest, fake, ctx.image  # type: ignore[return-value]


def _check_paid_clips(manifest: Manifest, fake: FakeDashScope, off: FirstTryOffModel) -> str:
    """One clip per shot, each made from its shot's passed keyframe; the rejected keyframe
    was never sent. Returns the id of the shot that was redrawn."""
    clips = [t for t in fake.tasks.values() if t.kind == "video"]
    assert len(clips) == len(manifest.shots) == sum(fake.submits.values()) - _images(fake)
    # Compared by pixels: the backend sends a keyframe re-encoded, without its text chunks.
    sent = sorted(_pixels(_clip_keyframe(fake, t)) for t in clips)
    chosen = sorted(_pixels(Path(r.take.keyframe.path).read_bytes()) for r in manifest.shots)
    assert sent == chosen
    assert len(off.rejected) == 1 and _pixels(off.rejected[0]) not in sent
    redrawn = [r for r in manifest.shots if len(r.keyframe_reviews) > 1]
    assert len(redrawn) == 1, [(r.shot_id, len(r.keyframe_reviews)) for r in manifest.shots]
    first, second = _reviews(redrawn[0])
    assert not first.critique.passed and first.critique.stage_at_fault == "keyframe"
    assert "does not look like their reference" in first.critique.issues[0]
    assert Path(first.keyframe.path).read_bytes() == off.rejected[0]
    assert second.critique.passed and second.keyframe.path == redrawn[0].take.keyframe.path
    return redrawn[0].shot_id


def _pixels(data: bytes) -> bytes:
    with Image.open(BytesIO(data)) as im:
        return im.convert("RGB").tobytes()


def _images(fake: FakeDashScope) -> int:
    return sum(1 for t in fake.tasks.values() if t.kind == "image")


def _reviews(result: ShotResult) -> tuple[Any, Any]:
    first, second = result.keyframe_reviews[:2]
    return first, second


def test_painter_keyframe_unlike_its_sheet_is_redrawn_before_its_clip(tmp_path: Path) -> None:
    def in_her_colours(request: ImageRequest, dest: Path) -> Generated:
        cast = dict(request.characters)
        cast["阿明"] = ("#3080b0", cast["阿明"][1])  # 小雪's blue
        from dramaforge.tools.local.storyboard import StoryboardBackend

        made: Generated = StoryboardBackend().generate(
            request.model_copy(update={"characters": cast}), dest
        )
        return made

    manifest, fake, off = _render(tmp_path, FIXTURES / "short.zh.txt", "阿明", in_her_colours)
    redrawn = _check_paid_clips(manifest, fake, off)
    assert "阿明" in manifest.plan.shot(redrawn).visible()
    scores = {c.name: c for c in manifest.identity.characters}
    assert scores["阿明"].cross_worst is not None and scores["阿明"].cross_worst > 0.5


class Astronaut:
    """An image backend of photographs: the reference sheet is scikit-image's astronaut, each
    keyframe the same photograph cropped to the frame around her face."""

    name = "local:astronaut"

    def __init__(self) -> None:
        from skimage import data

        self.photo = Image.fromarray(data.astronaut())

    def framed(self, request: ImageRequest, solarized: bool = False) -> Image.Image:
        aspect = request.width / request.height
        width = round(self.photo.height * aspect)
        left = min(max(0, 222 - width // 2), self.photo.width - width)  # the face at x ~222
        picture = self.photo.crop((left, 0, left + width, self.photo.height))
        picture = picture.resize((request.width, request.height))
        return ImageOps.solarize(picture, 128) if solarized else picture

    def _save(self, picture: Image.Image, dest: Path) -> Generated:
        with atomic_file(dest) as tmp:
            picture.save(tmp, format="PNG")
        return Generated(model=self.name)

    def generate(self, request: ImageRequest, dest: Path, journal: object = None) -> Generated:
        return self._save(self.framed(request), dest)

    def draw_sheet(self, request: ImageRequest, dest: Path) -> Generated:
        return self._save(self.photo, dest)

    def solarized(self, request: ImageRequest, dest: Path) -> Generated:
        return self._save(self.framed(request, solarized=True), dest)


def test_real_face_keyframe_unlike_its_sheet_is_redrawn_before_its_clip(tmp_path: Path) -> None:
    pytest.importorskip("dlib", reason="the 'faces' extra (make install adds it)")
    pytest.importorskip("skimage.data", reason="scikit-image (the dev extra)")
    from dramaforge.agents import identity

    photos = Astronaut()
    script = tmp_path / "astronaut.zh.txt"
    script.write_text(ASTRONAUT_SCRIPT, encoding="utf-8")
    manifest, fake, off = _render(tmp_path, script, "阿明", photos.solarized, image=photos)
    _check_paid_clips(manifest, fake, off)
    (ming,) = manifest.identity.characters
    assert ming.cross_worst is not None and ming.cross_worst >= identity.LIKENESS["real"]
    assert np.isclose(ming.cross_mean or 0.0, ming.cross_worst, atol=0.1)
