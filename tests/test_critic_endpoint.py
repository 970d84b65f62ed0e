"""The vision critic's own OpenAI-compatible endpoint beside the director's (DeepSeek + Qwen-VL).

Two fake servers on loopback: every director request must land on one, every critic request
on the other, each with its own key unless the critic's section leaves the key to ``[openai]``.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from PIL import Image

from dramaforge.agents.plugin import register
from dramaforge.cli.doctor import settings_report
from dramaforge.config import ProviderOverrides, ProviderSettings, Settings
from dramaforge.errors import ConfigError
from dramaforge.schema import Line, Shot
from dramaforge.script import load_script
from dramaforge.tools.registry import Registry
from tests.fakes.openai_server import FakeOpenAI, image_urls, json_reply
from tests.helpers import FIXTURES, provider_settings

DIRECTOR_KEY = "sk-deepseek-secret-000111"
CRITIC_KEY = "sk-dashscope-vl-secret-222333"
VERDICT = {
    "score": 0.9,
    "character_match": True,
    "style_match": True,
    "artifacts": [],
    "issues": [],
    "revised_prompt": None,
}


@pytest.fixture
def servers() -> Iterator[tuple[FakeOpenAI, FakeOpenAI]]:
    director, critic = FakeOpenAI().start(), FakeOpenAI(json_reply(VERDICT)).start()
    try:
        yield director, critic
    finally:
        director.stop()
        critic.stop()


def two_endpoints(director: FakeOpenAI, critic: FakeOpenAI, critic_key: str | None) -> Settings:
    return Settings().model_copy(
        update={
            "openai": provider_settings(director, api_key=DIRECTOR_KEY, timeout=10, max_retries=0),
            "critic_openai": ProviderOverrides(
                api_key=critic_key, base_url=critic.base_url, structured_output="json_mode"
            ),
        }
    )


def keyframe(tmp_path: Path) -> Path:
    path = tmp_path / "key.png"
    Image.linear_gradient("L").resize((640, 360)).convert("RGB").save(path)
    return path


def shot() -> Shot:
    return Shot(
        id="s01-01", index=1, scene_index=1, scene_heading="EXT. STREET - NIGHT", duration=2.0,
        framing="wide", camera="static", visual_prompt="a street at night, rain",
        action="rain", characters=[], lines=[Line(text="Hello.")],
    )  # fmt: skip


def bearer(request: dict[str, Any]) -> str:
    return str(request["_headers"]["authorization"]).removeprefix("Bearer ")


@pytest.mark.parametrize("critic_key", [CRITIC_KEY, None])
def test_director_and_critic_requests_go_to_their_own_servers(
    servers: tuple[FakeOpenAI, FakeOpenAI], tmp_path: Path, critic_key: str | None
) -> None:
    director_server, critic_server = servers
    settings = two_endpoints(director_server, critic_server, critic_key)
    reg = Registry()
    register(reg)
    director = reg.create("director", "openai:deepseek-chat", settings)
    critic = reg.create("critic", "openai:qwen-vl-max", settings)

    script = load_script(FIXTURES / "short.zh.txt")
    director.direct(script)
    verdict = critic.review_keyframe(shot(), keyframe=keyframe(tmp_path))

    assert verdict.passed and verdict.reviewer == "openai:qwen-vl-max"
    assert len(director_server.requests) == len(script.scenes)
    assert {r["model"] for r in director_server.requests} == {"deepseek-chat"}
    assert not any(image_urls(r) for r in director_server.requests)
    [seen] = critic_server.requests
    assert seen["model"] == "qwen-vl-max" and image_urls(seen)
    assert seen["response_format"] == {"type": "json_object"}  # the critic's own method
    assert {bearer(r) for r in director_server.requests} == {DIRECTOR_KEY}
    assert bearer(seen) == (critic_key or DIRECTOR_KEY)  # an unset key comes from [openai]


def test_unset_fields_fall_back_one_by_one() -> None:
    openai = ProviderSettings(api_key="sk-a", base_url="https://api.deepseek.com", timeout=7.0)
    own = ProviderOverrides(base_url="https://dashscope.aliyuncs.com/compatible-mode/v1")
    settings = Settings().model_copy(update={"openai": openai, "critic_openai": own})
    critic = settings.openai_for("critic")
    assert critic.base_url == "https://dashscope.aliyuncs.com/compatible-mode/v1"
    assert critic.api_key is not None and critic.api_key.get_secret_value() == "sk-a"
    assert critic.timeout == 7.0
    assert settings.openai_for("director") == openai
    assert set(ProviderOverrides.model_fields) == set(ProviderSettings.model_fields)


def test_toml_section_and_env_vars(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.chdir(tmp_path)
    (tmp_path / "dramaforge.toml").write_text(
        '[openai]\nbase_url = "https://api.deepseek.com"\nstructured_output = "json_mode"\n'
        '[critic_openai]\nbase_url = "https://dashscope.aliyuncs.com/compatible-mode/v1"\n'
        "timeout = 30\n",
        encoding="utf-8",
    )
    monkeypatch.setenv("OPENAI_API_KEY", DIRECTOR_KEY)
    monkeypatch.setenv("DRAMAFORGE_CRITIC_OPENAI__API_KEY", CRITIC_KEY)
    monkeypatch.setenv("DRAMAFORGE_CRITIC_OPENAI__STRUCTURED_OUTPUT", "function_calling")
    settings = Settings()
    critic, director = settings.openai_for("critic"), settings.openai_for("director")
    assert critic.base_url == "https://dashscope.aliyuncs.com/compatible-mode/v1"
    assert critic.api_key is not None and critic.api_key.get_secret_value() == CRITIC_KEY
    assert (critic.timeout, critic.structured_output) == (30.0, "function_calling")
    assert director.api_key is not None and director.api_key.get_secret_value() == DIRECTOR_KEY
    assert (director.base_url, director.timeout) == ("https://api.deepseek.com", 60.0)

    rows = {row.name: row.detail for row in settings_report(settings)}
    assert rows["critic_openai key"] == "set (…33) (env DRAMAFORGE_CRITIC_OPENAI__API_KEY)"
    assert rows["critic_openai base URL"].endswith("(dramaforge.toml)")
    assert rows["critic_openai structured output"] == (
        "function_calling (env DRAMAFORGE_CRITIC_OPENAI__STRUCTURED_OUTPUT)"
    )
    assert all(CRITIC_KEY not in d and DIRECTOR_KEY not in d for d in rows.values())

    monkeypatch.delenv("DRAMAFORGE_CRITIC_OPENAI__API_KEY")
    rows = {row.name: row.detail for row in settings_report(Settings())}
    assert rows["critic_openai key"] == "set (…11) (from [openai]: env OPENAI_API_KEY)"


def test_missing_critic_key_names_the_critic_variable(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.delenv("OPENAI_API_KEY", raising=False)
    remote = ProviderOverrides(base_url="https://dashscope.aliyuncs.com/compatible-mode/v1")
    settings = Settings().model_copy(update={"critic_openai": remote})
    reg = Registry()
    register(reg)
    with pytest.raises(ConfigError, match="DRAMAFORGE_CRITIC_OPENAI__API_KEY"):
        reg.create("critic", "openai:qwen-vl-max", settings)
    bad = ProviderOverrides(base_url="http://127.0.0.1:9/v1", structured_output="xml")
    with pytest.raises(ConfigError, match=r"critic_openai\.structured_output"):
        reg.create("critic", "openai:qwen-vl", Settings().model_copy(update={"critic_openai": bad}))
