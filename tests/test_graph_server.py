"""The graph ``langgraph.json`` serves runs with nothing but its input, as a server calls it."""

from __future__ import annotations

import importlib
import json
import shutil
from pathlib import Path

import pytest

from dramaforge.config import Settings
from dramaforge.graph.threads import make_options
from dramaforge.media.probe import probe
from tests.helpers import FIXTURES, ROOT

pytestmark = pytest.mark.slow


def test_the_served_graph_renders_from_its_input_alone(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    spec = json.loads((ROOT / "langgraph.json").read_text(encoding="utf-8"))
    module, _, name = spec["graphs"]["dramaforge"].partition(":")  # module syntax: any folder
    graph = getattr(importlib.import_module(module), name)

    monkeypatch.setenv("DRAMAFORGE_RENDER__RESOLUTION", "360p")  # the server's own settings
    monkeypatch.setenv("DRAMAFORGE_WORKSPACE", str(tmp_path))  # runs stay inside it
    script = tmp_path / "short.zh.txt"
    shutil.copy(FIXTURES / "short.zh.txt", script)
    options = make_options(script, tmp_path, Settings())
    # JSON in, as over the server's HTTP API: no context, no checkpointer of ours.
    final = graph.invoke({"script_path": str(script), "options": options.model_dump(mode="json")})
    info = probe(Path(final["episode"].path))
    assert info.has_video and info.has_audio and (info.width, info.height) == (360, 640)
    assert Path(final["manifest"]).is_file()
