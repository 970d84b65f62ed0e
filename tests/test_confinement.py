"""Every path the workspace reads or writes stays inside it, including the ones it builds
itself; planted symlinks, foreign manifests and paths outside are refused with messages that
name paths relative to the workspace."""

from __future__ import annotations

import json
import os
import shutil
from collections.abc import Iterator
from pathlib import Path

import pytest

from dramaforge.config import Settings
from dramaforge.errors import WorkspaceError
from dramaforge.serve.langchain import episode_tools
from dramaforge.serve.workspace import Workspace
from tests.helpers import FIXTURES, settings_for


@pytest.fixture(scope="module")
def rendered(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Workspace]:
    root = tmp_path_factory.mktemp("ws")
    shutil.copy(FIXTURES / "short.zh.txt", root / "short.zh.txt")
    workspace = Workspace(root, settings_for())
    workspace.render_episode("short.zh.txt")
    yield workspace


def _outside(tmp_path: Path) -> Path:
    outside = tmp_path / "outside"
    outside.mkdir()
    (outside / "victim.txt").write_text("keep me", encoding="utf-8")
    return outside


def test_a_planted_scripts_symlink_cannot_write_outside(tmp_path: Path) -> None:
    root, outside = tmp_path / "ws", _outside(tmp_path)
    root.mkdir()
    (root / "scripts").symlink_to(outside)
    workspace = Workspace(root, settings_for())
    text = "场景：教室\n林小雨：你好。"
    assert workspace.plan_episode(text=text)["script"] is None  # a free plan saves nothing
    with pytest.raises(WorkspaceError, match="outside the workspace") as caught:
        workspace.render_episode(text=text, name="planned")  # a render saves it: refused
    assert str(root) not in str(caught.value) and str(outside) not in str(caught.value)
    assert sorted(p.name for p in outside.iterdir()) == ["victim.txt"]


def test_a_planted_script_file_symlink_is_not_overwritten(tmp_path: Path) -> None:
    root, outside = tmp_path / "ws", _outside(tmp_path)
    (root / "scripts").mkdir(parents=True)
    (root / "scripts" / "planned.txt").symlink_to(outside / "victim.txt")
    workspace = Workspace(root, settings_for())
    with pytest.raises(WorkspaceError):
        workspace.render_episode(text="场景：教室\n林小雨：你好。", name="planned")
    assert (outside / "victim.txt").read_text(encoding="utf-8") == "keep me"


def test_a_symlinked_out_folder_is_refused_before_rendering(tmp_path: Path) -> None:
    root, outside = tmp_path / "ws", _outside(tmp_path)
    root.mkdir()
    shutil.copy(FIXTURES / "short.zh.txt", root / "short.zh.txt")
    (root / "out").symlink_to(outside)
    workspace = Workspace(root, settings_for())
    with pytest.raises(WorkspaceError, match="outside the workspace"):
        workspace.render_episode("short.zh.txt")
    assert sorted(p.name for p in outside.iterdir()) == ["victim.txt"]


@pytest.mark.parametrize("given", ["../outside/victim.txt", "/etc/passwd", "link/victim.txt"])
def test_script_paths_leading_out_are_refused(tmp_path: Path, given: str) -> None:
    root, outside = tmp_path / "ws", _outside(tmp_path)
    root.mkdir()
    (root / "link").symlink_to(outside)
    with pytest.raises(WorkspaceError, match="outside the workspace"):
        Workspace(root, settings_for()).plan_episode(given)


@pytest.mark.slow
def test_a_symlink_planted_in_an_episode_is_never_served(
    rendered: Workspace, tmp_path: Path
) -> None:
    folder = rendered.episode_dir("short")
    secret = _outside(tmp_path) / "victim.txt"
    board = folder / "storyboard.html"
    saved = board.read_bytes()
    board.unlink()
    board.symlink_to(secret)
    try:
        with pytest.raises(WorkspaceError, match="not a file of the episode"):
            rendered.served_file(folder, "storyboard.html")
    finally:
        board.unlink()
        board.write_bytes(saved)
    assert "<html" in rendered.served_file(folder, "storyboard.html").read_text("utf-8")


@pytest.mark.slow
def test_a_broken_or_foreign_manifest_is_listed_with_a_note(rendered: Workspace) -> None:
    broken = rendered.out / "broken"
    broken.mkdir(exist_ok=True)
    (broken / "manifest.json").write_text("{not json", encoding="utf-8")
    foreign = rendered.out / "foreign"
    foreign.mkdir(exist_ok=True)
    (foreign / "manifest.json").write_text(json.dumps({"hello": "world"}), encoding="utf-8")
    try:
        listed = {e["episode"]: e for e in rendered.list_episodes()}
        assert listed["short"]["shots"] == 5 and "error" not in listed["short"]
        assert "not a dramaforge manifest" in listed["broken"]["error"]
        assert "not a dramaforge manifest" in listed["foreign"]["error"]
        assert str(rendered.root) not in json.dumps(listed)
    finally:
        shutil.rmtree(broken)
        shutil.rmtree(foreign)


@pytest.mark.slow
def test_tool_errors_name_paths_relative_to_the_workspace(rendered: Workspace) -> None:
    tools = {t.name: t for t in episode_tools(rendered)}
    (rendered.root / "bad.fountain").write_bytes(b"\xff\xfe\x00garbage\x00" * 10)
    answer = tools["plan_episode"].invoke({"script": "bad.fountain"})
    assert isinstance(answer, str) and answer
    assert str(rendered.root) not in answer
    missing = tools["get_episode"].invoke({"episode": "nope"})
    assert str(rendered.root) not in missing and "nope" in missing


def test_the_served_graph_stays_in_its_workspace(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from dramaforge.graph.threads import make_options
    from dramaforge.serve.langgraph import graph

    root = tmp_path / "ws"
    root.mkdir()
    monkeypatch.setenv("DRAMAFORGE_WORKSPACE", str(root))
    options = make_options(FIXTURES / "short.zh.txt", root / "out", Settings())
    with pytest.raises(WorkspaceError, match=r"script .* leads outside the workspace"):
        graph.invoke(
            {
                "script_path": str(FIXTURES / "short.zh.txt"),
                "options": options.model_dump(mode="json"),
            }
        )
    inside = root / "short.zh.txt"
    shutil.copy(FIXTURES / "short.zh.txt", inside)
    elsewhere = make_options(inside, tmp_path / "elsewhere", Settings())
    with pytest.raises(WorkspaceError, match=r"output folder .* leads outside"):
        graph.invoke({"script_path": str(inside), "options": elsewhere.model_dump(mode="json")})
    assert not (tmp_path / "elsewhere").exists()
    assert os.listdir(root) == ["short.zh.txt"]
