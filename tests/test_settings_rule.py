"""Options change the output and the thread id; settings say how to run (config.py's rule)."""

from __future__ import annotations

import hashlib
import shutil
from pathlib import Path

import pytest
from langgraph.checkpoint.memory import InMemorySaver
from typer.testing import CliRunner

from dramaforge.cli.app import app
from dramaforge.config import BACKEND_KINDS, Backends, OutputSettings, RenderSettings, Settings
from dramaforge.errors import ConfigError
from dramaforge.graph.build import build_graph
from dramaforge.graph.context import build_context
from dramaforge.graph.state import RenderOptions
from dramaforge.graph.threads import make_options, thread_id
from dramaforge.graph.uptodate import settings_digest
from dramaforge.tools.registry import PROTOCOLS
from tests.helpers import FIXTURES

LEGACY_OPTIONS = (
    '{"episode":"ep01","aspect":"9:16","resolution":"720p","width":720,"height":1280,"fps":25,'
    '"max_takes":2,"min_shot":2.0,"max_shot":8.0,"target_lufs":-14.0,"true_peak":-1.5,'
    '"language":null,"format":null,"series":null,"series_file":null,"approve":false}'
)
"""What 0.1 hashed for a default render of ep01 (the options, out_dir and unset subtitles
left out), printed by the code before RenderOptions was built on OutputSettings."""


def test_with_merges_sections_follows_dotted_names_and_validates() -> None:
    base = Settings(budget=3.0)
    changed = base.with_(render={"resolution": "360p"}, **{"backends.image": "local:x"})
    assert changed.render.resolution == "360p" and changed.render.fps == base.render.fps
    assert changed.backends.image == "local:x" and changed.backends.video == "local:motion"
    assert changed.budget == 3.0
    assert base.render.resolution == "720p" and base.backends.image == "local:storyboard"
    assert base.with_(budget=None).budget is None
    with pytest.raises(ConfigError, match=r"render\.resolution"):
        base.with_(render={"resolution": "999p"})
    with pytest.raises(ConfigError, match=r"no setting 'render\.nope'"):
        base.with_(**{"render.nope": 1})
    with pytest.raises(ConfigError, match="budget"):
        base.with_(budget="a lot")


def test_the_draft_changes_its_own_output_fields_and_backends() -> None:
    settings = Settings().with_(draft={"resolution": "480p", "image": "local:cheap"})
    draft = settings.for_draft()
    assert (draft.render.resolution, draft.render.max_takes) == ("480p", 1)
    assert draft.backends.image == "local:cheap" and draft.backends.video == "local:motion"
    assert draft.render.aspect == settings.render.aspect


def test_every_option_has_the_settings_default() -> None:
    partial = RenderOptions.model_validate({"resolution": "360p"})  # as a server sends it
    defaults = RenderSettings()
    for name in OutputSettings.model_fields:
        if name != "resolution":
            assert getattr(partial, name) == getattr(defaults, name), name
    assert (partial.width, partial.height) == (360, 640)  # the frame follows the resolution
    assert set(OutputSettings.model_fields) < set(RenderOptions.model_fields)
    run_only = set(RenderSettings.model_fields) - set(OutputSettings.model_fields)
    assert run_only == {"concurrency", "ahead"} and not run_only & set(RenderOptions.model_fields)


def test_options_keep_the_thread_ids_of_earlier_renders(tmp_path: Path) -> None:
    script = tmp_path / "ep01.zh.txt"
    shutil.copyfile(FIXTURES / "short.zh.txt", script)
    options = make_options(script, tmp_path / "out", Settings())
    h = hashlib.sha256(str(script.resolve()).encode() + script.read_bytes())
    h.update(LEGACY_OPTIONS.encode())
    assert thread_id(script, options) == f"ep01-{h.hexdigest()[:16]}"


def test_output_settings_fork_the_thread_and_run_settings_do_not(tmp_path: Path) -> None:
    script = tmp_path / "ep01.zh.txt"
    shutil.copyfile(FIXTURES / "short.zh.txt", script)
    base = Settings()

    def tid(settings: Settings) -> str:
        return thread_id(script, make_options(script, tmp_path, settings))

    changed = {
        "aspect": "16:9",
        "resolution": "1080p",
        "fps": 30,
        "language": "en",
        "max_takes": 3,
        "min_shot": 1.5,
        "max_shot": 6.0,
        "target_lufs": -16.0,
        "true_peak": -2.0,
        "subtitles": "zh+en",
    }
    assert set(changed) == set(OutputSettings.model_fields)
    for name, value in changed.items():
        assert tid(base.with_(render={name: value})) != tid(base), name
    for how in (
        {"render": {"concurrency": 4, "ahead": False}},
        {"budget": 1.0, "prices": {"dashscope:qwen-image": 0.2}},
        {"backends": {"image": "dashscope:qwen-image"}},
    ):
        assert tid(base.with_(how)) == tid(base), how


def test_a_served_run_given_part_of_its_options_completes_them_from_its_settings(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("DRAMAFORGE_WORKSPACE", str(tmp_path))
    monkeypatch.setenv("DRAMAFORGE_RENDER__FPS", "30")  # the server's own settings fill the rest
    script = tmp_path / "ep07.zh.txt"
    shutil.copyfile(FIXTURES / "short.zh.txt", script)
    graph = build_graph(InMemorySaver())
    config = {"configurable": {"thread_id": "served"}}
    given = {"resolution": "360p", "out_dir": str(tmp_path / "out")}
    graph.invoke(
        {"script_path": str(script), "options": given}, config, interrupt_before=["direct"]
    )
    options = graph.get_state(config).values["options"]
    assert (options.episode, options.width, options.height) == ("ep07", 360, 640)
    assert options.fps == 30 and options.max_takes == RenderSettings().max_takes


def test_the_backend_kinds_are_declared_once(tmp_path: Path) -> None:
    assert set(Backends.model_fields) == {*BACKEND_KINDS, "chat"}
    assert set(PROTOCOLS) == set(BACKEND_KINDS)
    ctx = build_context(Settings(), tmp_path)
    assert set(ctx.backend_names()) == set(BACKEND_KINDS) - {"lipsync"}  # no lip-sync agent yet
    shown = CliRunner().invoke(app, ["plan", "--help"], terminal_width=200).output
    for kind in BACKEND_KINDS:
        assert f"--{kind}" in shown, kind


def test_the_up_to_date_stamp_follows_the_same_rule() -> None:
    base = Settings()
    for how in ({"render": {"concurrency": 4, "ahead": False}}, {"budget": 2.0}):
        assert settings_digest(base.with_(how)) == settings_digest(base), how
    for what in ({"render": {"fps": 30}}, {"backends": {"sound": "local:other"}}):
        assert settings_digest(base.with_(what)) != settings_digest(base), what
