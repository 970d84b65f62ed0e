"""One DashScope account is enough: ``dashscope:<model>`` directors, critics and chat models go
to DashScope's OpenAI-compatible mode with ``DASHSCOPE_API_KEY`` alone."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from dramaforge.chat.agent import chat_model
from dramaforge.config import ProviderSettings, Settings
from dramaforge.errors import ConfigError
from dramaforge.media.probe import probe
from dramaforge.schema import Manifest
from dramaforge.tools.openai.client import dashscope_endpoint
from tests.fakes.openai_server import (
    FakeOpenAI,
    Reply,
    Request,
    cover_all,
    fake_openai,
    image_urls,
    json_reply,
)
from tests.helpers import FIXTURES

KEY = "sk-dashscope-test-0123456789"


def compatible_mode(request: Request) -> Reply:
    """Qwen-VL judging a keyframe when the request carries an image; Qwen planning otherwise."""
    if image_urls(request):
        return json_reply({"score": 0.9, "issues": []})(request)
    return cover_all(request)


@pytest.fixture
def dashscope() -> Iterator[FakeOpenAI]:
    with fake_openai(compatible_mode, prefix="/compatible-mode/v1") as fake:
        yield fake


def test_the_compatible_endpoint_comes_from_the_dashscope_base_url() -> None:
    intl = ProviderSettings(base_url="https://dashscope-intl.aliyuncs.com/api/v1")
    endpoint = dashscope_endpoint(Settings().model_copy(update={"dashscope": intl}))
    assert endpoint.base_url == "https://dashscope-intl.aliyuncs.com/compatible-mode/v1"
    assert endpoint.structured_output == "json_mode"  # every Qwen model takes JSON object
    own = ProviderSettings(
        compatible_url="https://proxy.example/v1", structured_output="json_schema"
    )
    endpoint = dashscope_endpoint(Settings().model_copy(update={"dashscope": own}))
    assert (endpoint.base_url, endpoint.structured_output) == (
        "https://proxy.example/v1",
        "json_schema",
    )


def test_a_dashscope_chat_model_needs_only_the_dashscope_key() -> None:
    backends = Settings().backends.model_copy(update={"chat": "dashscope:qwen-plus"})
    keyless = Settings().model_copy(update={"backends": backends})
    with pytest.raises(ConfigError, match="DASHSCOPE_API_KEY"):
        chat_model(keyless)
    keyed = keyless.model_copy(update={"dashscope": ProviderSettings(api_key=KEY)})
    model = chat_model(keyed)
    assert model is not None and "compatible-mode" in str(getattr(model, "openai_api_base", ""))


@pytest.mark.slow
def test_a_render_with_dashscope_director_and_critic_and_no_openai_variables(
    tmp_path: Path, dashscope: FakeOpenAI
) -> None:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("DRAMAFORGE_", "OPENAI_"))}
    env |= {"DASHSCOPE_API_KEY": KEY, "DASHSCOPE_HTTP_BASE_URL": f"{dashscope.host_url}/api/v1"}
    out = tmp_path / "out"
    result = subprocess.run(
        [sys.executable, "-m", "dramaforge", "render", str(FIXTURES / "short.zh.txt"),
         "--out", str(out), "--resolution", "360p", "--json",
         "--director", "dashscope:qwen-plus", "--critic", "dashscope:qwen-vl-max"],
        capture_output=True, text=True, env=env, timeout=600, cwd=tmp_path,
    )  # fmt: skip
    assert result.returncode == 0, result.stderr
    made = json.loads(result.stdout)
    info = probe(Path(made["episode"]))
    assert info.has_video and info.has_audio
    manifest = Manifest.model_validate_json(Path(made["manifest"]).read_text("utf-8"))
    assert manifest.backends["director"] == "dashscope:qwen-plus"
    assert manifest.backends["critic"] == "dashscope:qwen-vl-max"
    planned = [r for r in dashscope.requests if not image_urls(r)]
    judged = [r for r in dashscope.requests if image_urls(r)]
    assert planned and judged
    assert all(r["_headers"]["authorization"] == f"Bearer {KEY}" for r in dashscope.requests)
    assert {r["model"] for r in planned} == {"qwen-plus"}
    assert {r["model"] for r in judged} == {"qwen-vl-max"}
    assert all(r["response_format"]["type"] == "json_object" for r in dashscope.requests)
