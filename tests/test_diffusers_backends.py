"""diffusers backends with tiny random pipelines of the real classes, loaded from a models
folder through the users' code path (the registry, the shared scheduler, ``from_pretrained``
with ``local_files_only``). The checks read what was written: probed MP4s, decoded frames."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import av
import numpy as np
import pytest
from PIL import Image

from dramaforge.config import DiffusersModelSettings, DiffusersSettings, Settings
from dramaforge.errors import ConfigError
from dramaforge.media.fit import cover, retime
from dramaforge.media.probe import probe
from dramaforge.tools.diffusers.models import MODELS
from dramaforge.tools.diffusers.pipelines import close_all
from dramaforge.tools.protocols import ImageRequest, VideoRequest
from dramaforge.tools.registry import registry
from tests.fixtures_diffusers import TINY, save

IMAGES = ("qwen-image", "qwen-image-edit")


def tiny_settings(models_dir: Path, **extra: Any) -> Settings:
    """Settings a user would write, with tiny sizes, two steps and nine frames a clip."""
    own = {
        name: DiffusersModelSettings(
            steps=2, frames=9, size=(32, 32) if name in IMAGES else (32, 16)
        )
        for name in TINY
    }
    diffusers = DiffusersSettings(models_dir=models_dir, devices=["cpu"], models=own, **extra)
    return Settings(diffusers=diffusers, prices={"diffusers:gpu-hour": 3.6})


@pytest.fixture(scope="module")
def models_dir(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Path]:
    pytest.importorskip("diffusers")
    root = tmp_path_factory.mktemp("models")
    for name in TINY:
        save(name, root / name)
    yield root
    close_all()


def frames_of(path: Path) -> list[np.ndarray]:
    with av.open(str(path)) as clip:
        return [f.to_ndarray(format="rgb24") for f in clip.decode(video=0)]


def video_request(tmp_path: Path, seed: int = 7) -> VideoRequest:
    key = tmp_path / "key.png"
    Image.new("RGB", (72, 128), (200, 40, 40)).save(key)
    return VideoRequest(
        prompt="a girl runs in the rain",
        keyframe=str(key),
        width=72,
        height=128,
        fps=12,
        duration=1.5,
        camera="static",
        seed=seed,
    )


@pytest.mark.parametrize("name", ["wan2.1-t2v-1.3b", "wan2.1-i2v-14b-480p", "hunyuanvideo-i2v"])
def test_video_is_fitted_to_the_shot_and_seeded(
    models_dir: Path, tmp_path: Path, name: str
) -> None:
    settings = tiny_settings(models_dir)
    backend = registry().create("video", f"diffusers:{name}", settings)
    assert backend.name == f"diffusers:{name}[steps=2,frames=9,size=32x16]", "keys the store"
    made = backend.generate(video_request(tmp_path), tmp_path / "a.mp4")
    backend.generate(video_request(tmp_path), tmp_path / "b.mp4")
    backend.generate(video_request(tmp_path, seed=8), tmp_path / "c.mp4")

    info = probe(tmp_path / "a.mp4")
    assert (info.width, info.height, info.vcodec) == (72, 128, "h264")
    assert info.duration == pytest.approx(1.5, abs=1 / 12)
    assert len(frames_of(tmp_path / "a.mp4")) == 18
    assert made.model == f"diffusers:{name}" and made.duration == 1.5
    assert made.gpu_seconds is not None and made.gpu_seconds > 0
    assert made.cost == pytest.approx(made.gpu_seconds / 3600 * 3.6, rel=1e-3, abs=1e-6)
    a, b, c = (np.stack(frames_of(tmp_path / f"{x}.mp4")) for x in "abc")
    assert np.array_equal(a, b), "the same seed makes the same clip"
    assert not np.array_equal(a, c), "another seed makes another clip"


def test_qwen_image_keyframe_is_cropped_not_stretched(models_dir: Path, tmp_path: Path) -> None:
    settings = tiny_settings(models_dir)
    backend = registry().create("image", "diffusers:qwen-image", settings)
    request = ImageRequest(
        prompt="a rainy street",
        width=90,
        height=160,
        seed=3,
        framing="wide",
        scene_heading="EXT. STREET - NIGHT",
    )
    made = backend.generate(request, tmp_path / "k.png")
    with Image.open(tmp_path / "k.png") as img:
        assert img.size == (90, 160)
    assert made.model == "diffusers:qwen-image" and (made.gpu_seconds or 0) > 0


def test_missing_weights_name_the_folder_and_the_fetch_command(tmp_path: Path) -> None:
    settings = tiny_settings(tmp_path / "empty")
    with pytest.raises(ConfigError) as err:
        registry().create("video", "diffusers:wan2.2-i2v-a14b", settings)
    message = str(err.value)
    assert str(tmp_path / "empty" / "wan2.2-i2v-a14b") in message
    assert "huggingface-cli download Wan-AI/Wan2.2-I2V-A14B-Diffusers --local-dir" in message


def test_unknown_model_and_speech_to_video_are_clear_errors(tmp_path: Path) -> None:
    settings = tiny_settings(tmp_path)
    with pytest.raises(ConfigError, match=r"known: diffusers:wan2\.1-t2v-1\.3b"):
        registry().create("video", "diffusers:wan9", settings)
    with pytest.raises(ConfigError, match="unknown image model"):
        registry().create("image", "diffusers:wan2.1-t2v-1.3b", settings)
    pytest.importorskip("diffusers")
    with pytest.raises(ConfigError, match="speech-to-video"):
        registry().create("lipsync", "diffusers:wan2.2-s2v", settings)


def test_cover_crops_the_middle_and_keeps_the_shape() -> None:
    """A landscape frame of three vertical bands, fitted to portrait: only the middle band
    is left, and a circle stays round (scaled evenly, never stretched)."""
    frame = np.zeros((90, 160, 3), np.uint8)
    frame[:, :53] = (255, 0, 0)
    frame[:, 53:107] = (0, 255, 0)
    frame[:, 107:] = (0, 0, 255)
    fitted = cover(frame, 36, 64)
    assert fitted.shape == (64, 36, 3)
    assert (fitted[:, :, 1] > 200).all() and (fitted[:, :, 0] < 60).all()

    disc = np.zeros((90, 160, 3), np.uint8)
    yy, xx = np.mgrid[:90, :160]
    disc[(yy - 45) ** 2 + (xx - 80) ** 2 <= 30**2] = 255
    out = cover(disc, 64, 64)[:, :, 0] > 127
    rows, cols = np.nonzero(out)
    assert abs((rows.max() - rows.min()) - (cols.max() - cols.min())) <= 1


def test_retime_plays_at_the_models_speed_and_slows_only_to_fill() -> None:
    assert retime(81, 16, 32, 2.0) == [i // 2 for i in range(64)]  # 16 fps shown at 32
    assert retime(9, 16, 16, 1.0)[-1] == 8 and len(retime(9, 16, 16, 1.0)) == 16  # slowed
    assert MODELS["wan2.1-t2v-1.3b"].frame_count(2.0) == 33
    assert MODELS["wan2.1-t2v-1.3b"].frame_count(9.0) == 81
    assert MODELS["wan2.1-t2v-1.3b"].frame_count(2.0, cap=9) == 9


@pytest.mark.slow
def test_episode_on_open_models_loads_each_pipeline_once(models_dir: Path, tmp_path: Path) -> None:
    """A whole episode with Qwen-Image keyframes and Wan I2V clips on the (CPU) device."""
    from dramaforge.graph.verbs import render_episode
    from dramaforge.tools.diffusers.pipelines import shared_scheduler
    from tests.helpers import FIXTURES

    close_all()  # a fresh scheduler: its loads are this episode's
    base = tiny_settings(models_dir)
    settings = base.model_copy(
        update={
            "backends": base.backends.model_copy(
                update={"image": "diffusers:qwen-image", "video": "diffusers:wan2.1-i2v-14b-480p"}
            ),
            "render": base.render.model_copy(update={"resolution": "360p", "fps": 12}),
        }
    )
    manifest = render_episode(FIXTURES / "short.zh.txt", tmp_path / "out", settings)

    scheduler = shared_scheduler(settings)
    assert sorted(m for _, m in scheduler.loads()) == ["qwen-image", "wan2.1-i2v-14b-480p"]
    takes = [take for shot in manifest.shots for take in shot.takes]
    assert len(manifest.shots) >= 2
    for take in takes:
        clip = probe(Path(take.motion.path))
        assert (clip.width, clip.height) == (360, 640)
        assert clip.duration == pytest.approx(take.duration, abs=1 / 12)
        assert take.motion.backend == "diffusers:wan2.1-i2v-14b-480p[steps=2,frames=9,size=32x16]"
        assert take.keyframe.backend == "diffusers:qwen-image[steps=2,frames=9,size=32x32]"
        for asset in (take.keyframe, take.motion):
            assert asset.seed is not None
            assert asset.gpu_seconds is not None and asset.gpu_seconds > 0
        assert take.critique.reviewer == "local:heuristic", "the critic judged every take"
    episode = probe(Path(manifest.episode.path))
    assert (episode.width, episode.height) == (360, 640)
    assert manifest.total_cost > 0


def test_edit_model_draws_from_the_reference_and_without_one_with_qwen_image(
    models_dir: Path, tmp_path: Path
) -> None:
    """Qwen-Image-Edit draws a shot from the focus character's reference sheet (the tiny
    edit pipeline reads it: another reference, another picture at the same seed); a shot
    with nobody in focus has no reference and is drawn by the text-to-image model."""
    backend = registry().create("image", "diffusers:qwen-image-edit", tiny_settings(models_dir))
    request = ImageRequest(
        prompt="she smiles",
        width=48,
        height=64,
        seed=5,
        framing="close_up",
        scene_heading="INT. CLASSROOM - DAY",
    )
    drawn = {}
    for colour in ("red", "blue"):
        sheet = tmp_path / f"{colour}.png"
        Image.new("RGB", (40, 60), colour).save(sheet)
        out = tmp_path / f"{colour}-key.png"
        made = backend.generate(request.model_copy(update={"reference": str(sheet)}), out)
        assert made.model == "diffusers:qwen-image-edit"
        assert made.gpu_seconds is not None and made.gpu_seconds > 0
        with Image.open(out) as img:
            assert img.size == (48, 64)
            drawn[colour] = np.asarray(img.convert("RGB"))
    assert not np.array_equal(drawn["red"], drawn["blue"]), "the reference is drawn from"

    made = backend.generate(request, tmp_path / "k.png")
    with Image.open(tmp_path / "k.png") as img:
        assert img.size == (48, 64)
    assert made.model == "diffusers:qwen-image"


def test_hunyuan_tiny_tokenizer_matches_the_default_template() -> None:
    """The tiny HunyuanVideo-I2V tokenizer puts ``<image>`` where the pipeline's default
    template places the image embeddings, and finds its three header ends, so the clip above
    ran the template's real cropping, not a shortened prompt."""
    pytest.importorskip("diffusers")
    from diffusers.pipelines.hunyuan_video.pipeline_hunyuan_video_image2video import (
        DEFAULT_PROMPT_TEMPLATE,
    )

    from tests.fixtures_diffusers import hunyuan_tokenizer

    tokenizer = hunyuan_tokenizer()
    ids = tokenizer(str(DEFAULT_PROMPT_TEMPLATE["template"]).format("a girl runs")).input_ids
    assert (
        ids.index(tokenizer.convert_tokens_to_ids("<image>"))
        == DEFAULT_PROMPT_TEMPLATE["image_emb_start"]
    )
    assert ids.count(tokenizer.convert_tokens_to_ids("<|end_header_id|>")) == 3
    assert len(ids) <= 256 + int(str(DEFAULT_PROMPT_TEMPLATE["crop_start"]))
