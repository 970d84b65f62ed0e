"""The vision critic against the fake OpenAI-compatible server, on real media files."""

from __future__ import annotations

import base64
import io
import json
from pathlib import Path
from typing import Any

import pytest
from PIL import Image

from dramaforge.agents.plugin import register, vision_critic
from dramaforge.agents.vision_critic import VisionCritic
from dramaforge.config import ProviderSettings, Settings
from dramaforge.errors import ConfigError
from dramaforge.media.ffmpeg import run_ffmpeg
from dramaforge.media.store import AssetStore
from dramaforge.schema import CharacterLook, Line, Shot, StyleBible, Voice
from dramaforge.tools.registry import Registry
from tests.fakes.openai_server import (
    FakeOpenAI,
    image_urls,
    invalid_json,
    json_reply,
    rate_limited,
    server_error,
    text_parts,
    unauthorized,
)
from tests.helpers import provider_settings

KEY = "sk-test-secret-0123456789"
METHODS = ["json_schema", "function_calling", "json_mode"]
PROMPT = "Close-up of Lin Xia under a red umbrella at night, rain, neon reflections"
REVISED = "Close-up of a young woman holding a red umbrella, night street, rain, neon"


@pytest.fixture(scope="module")
def media(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    """A real keyframe larger than the 768 px limit, a black one, a moving clip, a tone."""
    root = tmp_path_factory.mktemp("media")
    key = root / "key.png"
    gradient = Image.linear_gradient("L").resize((1024, 576)).convert("RGB")
    gradient.save(key)
    black = root / "black.png"
    Image.new("RGB", (64, 64)).save(black)
    motion, voice = root / "clip.mp4", root / "voice.wav"
    run_ffmpeg(
        ["-f", "lavfi", "-i", "testsrc2=s=64x64:r=25:d=1", "-pix_fmt", "yuv420p", motion],
        what="making a test clip",
    )
    run_ffmpeg(["-f", "lavfi", "-i", "sine=f=440:d=1", voice], what="making a test tone")
    return {"keyframe": key, "black": black, "motion": motion, "voice": voice}


def critic(
    openai_server: FakeOpenAI, method: str = "json_schema", key: str | None = KEY
) -> VisionCritic:
    provider = provider_settings(
        openai_server,
        api_key=key,
        structured_output=method,
        timeout=10,
        max_retries=0,
    )
    return vision_critic("fake-vl", Settings().model_copy(update={"openai": provider}))


def shot(**update: Any) -> Shot:
    base = Shot(
        id="s01-02",
        index=2,
        scene_index=1,
        scene_heading="EXT. STREET - NIGHT",
        duration=1.0,
        framing="close_up",
        camera="static",
        visual_prompt=PROMPT,
        action="Lin Xia looks up at the rain",
        characters=["Lin Xia"],
        lines=[Line(text="It is still raining.", speaker="Lin Xia")],
        time_of_day="night",
    )
    return base.model_copy(update=update)


def review(vc: VisionCritic, media: dict[str, Path], keyframe: str = "keyframe", **kw: Any) -> Any:
    """The vision review happens on the keyframe, before the clip is paid for."""
    return vc.review_keyframe(kw.pop("shot", None) or shot(), keyframe=media[keyframe])


def test_finished_take_gets_objective_checks_only(
    openai_server: FakeOpenAI, media: dict[str, Path]
) -> None:
    verdict_ = critic(openai_server).review(
        shot(),
        keyframe=media["keyframe"],
        motion=media["motion"],
        voice=media["voice"],
        duration=1.0,
    )
    assert verdict_.passed and not openai_server.requests


def verdict(score: float, **extra: Any) -> dict[str, Any]:
    return {
        "score": score,
        "character_match": True,
        "style_match": True,
        "artifacts": [],
        "issues": [],
        "revised_prompt": None,
        **extra,
    }


@pytest.mark.parametrize("method", METHODS)
def test_fails_with_revised_prompt_then_passes(
    openai_server: FakeOpenAI, media: dict[str, Path], method: str
) -> None:
    openai_server.then(
        json_reply(verdict(0.3, issues=["no umbrella in frame"], revised_prompt=REVISED)),
        json_reply(verdict(0.9)),
    )
    vc = critic(openai_server, method)
    first, second = review(vc, media), review(vc, media)

    assert not first.passed
    assert first.score == pytest.approx(0.3)
    assert first.stage_at_fault == "keyframe"
    assert first.revised_prompt == REVISED
    assert first.issues == ["no umbrella in frame"]
    assert first.reviewer == "openai:fake-vl"
    assert second.passed and second.stage_at_fault is None and second.score == pytest.approx(0.9)

    assert len(openai_server.requests) == 2
    request = openai_server.requests[0]
    assert request["model"] == "fake-vl"
    assert PROMPT in text_parts(request, "user")
    assert "Lin Xia" in text_parts(request, "user")
    [url] = image_urls(request)
    prefix = "data:image/png;base64,"
    assert url.startswith(prefix)
    with Image.open(io.BytesIO(base64.b64decode(url.removeprefix(prefix)))) as sent:
        assert sent.format == "PNG"
        assert sent.size == (768, 432)


def test_blocking_artifact_fails_a_high_score(
    openai_server: FakeOpenAI, media: dict[str, Path]
) -> None:
    artifact = {"description": "six fingers on the left hand", "blocking": True}
    openai_server.then(json_reply(verdict(0.95, artifacts=[artifact])))
    result = review(critic(openai_server), media)
    assert not result.passed and result.stage_at_fault == "keyframe"
    assert any("six fingers" in issue for issue in result.issues)


def test_heuristic_failure_makes_no_request(
    openai_server: FakeOpenAI, media: dict[str, Path]
) -> None:
    result = review(critic(openai_server), media, keyframe="black")
    assert not result.passed
    assert result.stage_at_fault == "keyframe"
    assert result.reviewer == "local:heuristic"
    assert "black" in result.issues[0]
    assert openai_server.requests == []


def test_invalid_json_twice_falls_back_to_heuristic(
    openai_server: FakeOpenAI, media: dict[str, Path]
) -> None:
    openai_server.then(invalid_json, invalid_json)
    result = review(critic(openai_server, "json_mode"), media)
    assert result.passed and result.score == 1.0
    assert result.reviewer == "local:heuristic"
    assert len(result.issues) == 1 and "vision review unavailable" in result.issues[0]
    assert len(openai_server.requests) == 2
    assert "could not be used" in text_parts(openai_server.requests[1], "user")


def test_invalid_json_once_is_retried(openai_server: FakeOpenAI, media: dict[str, Path]) -> None:
    openai_server.then(invalid_json, json_reply(verdict(0.8)))
    result = review(critic(openai_server, "json_mode"), media)
    assert result.passed and result.reviewer == "openai:fake-vl"
    assert len(openai_server.requests) == 2


@pytest.mark.parametrize("failure", [rate_limited(), server_error])
def test_outage_falls_back(openai_server: FakeOpenAI, media: dict[str, Path], failure: Any) -> None:
    openai_server.handler = failure
    result = review(critic(openai_server), media)
    assert result.passed and result.reviewer == "local:heuristic"
    assert "vision review unavailable" in result.issues[-1]


def test_unauthorized_is_config_error_without_key(
    openai_server: FakeOpenAI, media: dict[str, Path]
) -> None:
    openai_server.handler = unauthorized
    with pytest.raises(ConfigError) as err:
        review(critic(openai_server), media)
    assert KEY not in str(err.value)
    assert "OPENAI_API_KEY" in str(err.value)


def test_chinese_script_gets_chinese_prompt_with_descriptions(
    openai_server: FakeOpenAI, media: dict[str, Path]
) -> None:
    openai_server.then(json_reply(verdict(0.9)))
    description = "二十岁女生，白衬衫"
    look = CharacterLook(
        name="林夏", description=description, color="#c33", slot=0, seed=1, voice=Voice(id="v")
    )
    cast = {"林夏": look}
    bible = StyleBible(
        look="cinematic", palette=["teal"], seed=1, characters=cast, narrator=Voice(id="n")
    )
    zh_shot = shot(
        scene_heading="外景 街道 夜", characters=["林夏"], lines=[Line(text="还在下雨。")]
    )
    review(critic(openai_server).with_bible(bible), media, shot=zh_shot)
    text = text_parts(openai_server.requests[0], "user")
    assert "视觉提示词" in text and "林夏: 二十岁女生，白衬衫" in text and "cinematic" in text


def test_factory_needs_key_for_remote_and_registers() -> None:
    remote = ProviderSettings(base_url="https://dashscope.aliyuncs.com/compatible-mode/v1")
    with pytest.raises(ConfigError, match="API key"):
        vision_critic("qwen-vl-max", Settings().model_copy(update={"openai": remote}))
    local = ProviderSettings(base_url="http://127.0.0.1:8000/v1", structured_output="json_mode")
    vc = vision_critic("qwen-vl", Settings().model_copy(update={"openai": local}))
    assert vc.name == "openai:qwen-vl" and vc.structured_output == "json_mode"
    reg = Registry()
    register(reg)
    assert reg.providers("critic") == ["dashscope", "local", "openai"]


def test_verdicts_are_kept_per_image_prompt_and_reviewer(
    openai_server: FakeOpenAI, media: dict[str, Path], tmp_path: Path
) -> None:
    store = AssetStore(tmp_path / "assets")
    openai_server.handler = json_reply(verdict(0.9))
    openai_server.then(json_reply(verdict(0.3, issues=["no umbrella"], revised_prompt=REVISED)))
    vc = critic(openai_server).with_store(store)
    first, again = review(vc, media), review(vc, media)
    assert len(openai_server.requests) == 1  # the re-run read the verdict back
    assert first == again and not again.passed and again.revised_prompt == REVISED
    assert again.reviewer == "openai:fake-vl"
    [kept] = (tmp_path / "assets" / "verdict").rglob("*.json")
    assert json.loads(kept.read_text(encoding="utf-8"))["score"] == pytest.approx(0.3)

    # Anything the model would see differently is asked again: the prompt, the image...
    review(vc, media, shot=shot(visual_prompt=REVISED))
    other = media["keyframe"].parent / "flipped.png"
    with Image.open(media["keyframe"]) as img:
        img.transpose(Image.Transpose.FLIP_TOP_BOTTOM).save(other)
    vc.review_keyframe(shot(), keyframe=other)
    assert len(openai_server.requests) == 3
    # ...another generation (asset key), even of the very same pixels...
    for key in ("gen-1", "gen-1", "gen-2"):
        vc.review_keyframe(shot(), keyframe=media["keyframe"], asset_key=key)
    assert len(openai_server.requests) == 5
    # ...and another reviewer model, even on the same endpoint and image.
    provider = provider_settings(openai_server, api_key=KEY, max_retries=0)
    settings = Settings().model_copy(update={"openai": provider})
    review(vision_critic("fake-vl-2", settings).with_store(store), media)
    assert len(openai_server.requests) == 6 and openai_server.requests[-1]["model"] == "fake-vl-2"


def test_a_fallback_is_not_kept(
    openai_server: FakeOpenAI, media: dict[str, Path], tmp_path: Path
) -> None:
    openai_server.then(invalid_json, invalid_json, json_reply(verdict(0.8)))
    vc = critic(openai_server, "json_mode").with_store(AssetStore(tmp_path / "assets"))
    assert "vision review unavailable" in review(vc, media).issues[-1]
    assert len(openai_server.requests) == 2
    later = review(vc, media)  # asked again, since no verdict was ever given
    assert later.reviewer == "openai:fake-vl" and later.passed and len(openai_server.requests) == 3
    assert review(vc, media) == later and len(openai_server.requests) == 3
