"""The docs site's reference pages are what the code makes now, and the check says when not."""

from __future__ import annotations

import importlib.util
import shutil
import subprocess
import sys
from pathlib import Path

from tests.helpers import ROOT


def _gen(*args: str, cwd: Path = ROOT) -> subprocess.CompletedProcess[str]:
    script = cwd / "docs" / "gen_reference.py"
    return subprocess.run(
        [sys.executable, str(script), *args], capture_output=True, text=True, timeout=120
    )


def test_the_generated_reference_is_current() -> None:
    result = _gen("--check")
    assert result.returncode == 0, result.stderr  # run `make reference` and commit the pages


def test_a_stale_page_fails_the_check_with_its_diff(tmp_path: Path) -> None:
    shutil.copytree(ROOT / "docs" / "reference", tmp_path / "docs" / "reference")
    shutil.copy(ROOT / "docs" / "gen_reference.py", tmp_path / "docs")
    cli = tmp_path / "docs" / "reference" / "cli.md"
    cli.write_text(cli.read_text(encoding="utf-8").replace("--max-takes", "--takes"))
    stale = _gen("--check", cwd=tmp_path)
    assert stale.returncode == 1
    assert "+  --max-takes" in stale.stderr and "make reference" in stale.stderr


def test_the_nav_lists_the_pages_present_and_adds_unlisted_guides(tmp_path: Path) -> None:
    spec = importlib.util.spec_from_file_location("docs_hooks", ROOT / "docs" / "hooks.py")
    assert spec is not None and spec.loader is not None
    hooks = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(hooks)
    for page in ("index.md", "guides/chat.md", "guides/gpu.md", "guides/new.md", "design/x.md"):
        (tmp_path / page).parent.mkdir(parents=True, exist_ok=True)
        (tmp_path / page).write_text("# page\n", encoding="utf-8")
    nav = [
        {"Home": "index.md"},
        {"Guides": ["guides/chat.md", "guides/comfyui.md", "guides/gpu.md"]},
        {"Design": ["design/graph.md"]},
    ]
    config = hooks.on_config({"docs_dir": str(tmp_path), "nav": nav})
    assert config["nav"] == [
        {"Home": "index.md"},
        {"Guides": ["guides/chat.md", "guides/gpu.md", "guides/new.md"]},
        {"Design": ["design/x.md"]},
    ]
