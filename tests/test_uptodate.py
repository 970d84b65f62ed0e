"""An unchanged re-render is a no-op: the CLI says the episode is up to date and touches
nothing; --force, a changed setting, or a damaged episode file make it render again."""

from __future__ import annotations

import json
import subprocess
import sys
import time
from pathlib import Path

import pytest
from typer.testing import CliRunner

from dramaforge.cli.app import app
from dramaforge.graph.verbs import render_episode
from dramaforge.media.probe import probe
from tests.helpers import FIXTURES, ROOT, counting_context, settings_for

runner = CliRunner()


def _render(out: Path, *extra: str) -> dict[str, object]:
    result = runner.invoke(
        app,
        ["render", str(FIXTURES / "short.zh.txt"), "--out", str(out), "--resolution", "360p",
         "--json", *extra],
    )  # fmt: skip
    assert result.exit_code == 0, result.output
    data: dict[str, object] = json.loads(result.output)
    return data


@pytest.mark.slow
def test_unchanged_render_is_up_to_date_and_force_renders_again(tmp_path: Path) -> None:
    first = _render(tmp_path)
    episode = Path(str(first["episode"]))
    written = episode.stat().st_mtime_ns
    assert first["up_to_date"] is False

    again = _render(tmp_path)
    assert again["up_to_date"] is True and again["episode"] == first["episode"]
    assert episode.stat().st_mtime_ns == written  # not re-assembled

    text = runner.invoke(
        app, ["render", str(FIXTURES / "short.zh.txt"), "--out", str(tmp_path),
              "--resolution", "360p"],
    )  # fmt: skip
    assert text.exit_code == 0 and "up to date" in text.output

    forced = _render(tmp_path, "--force")
    assert forced["up_to_date"] is False and episode.stat().st_mtime_ns != written

    # A damaged episode is made again, from the cached shots.
    episode.write_bytes(episode.read_bytes()[:1000])
    repaired = _render(tmp_path)
    assert repaired["up_to_date"] is False
    assert probe(episode).has_video and probe(episode).duration > 1


@pytest.mark.slow
def test_a_changed_setting_renders_again_without_regenerating(tmp_path: Path) -> None:
    script = FIXTURES / "short.zh.txt"
    settings = settings_for()
    ctx, calls = counting_context(settings, tmp_path)
    render_episode(script, tmp_path, settings, context=ctx)
    events: list[dict[str, object]] = []
    render_episode(script, tmp_path, settings, context=ctx, on_event=events.append)
    assert {"stage": "episode", "status": "up_to_date"} in events
    assert not any(e.get("stage") == "assemble" for e in events)

    changed = settings.model_copy(
        update={"draft": settings.draft.model_copy(update={"max_takes": 2})}
    )
    events.clear()
    calls.clear()
    ctx.settings = changed
    render_episode(script, tmp_path, changed, context=ctx, on_event=events.append)
    assert any(e.get("stage") == "assemble" for e in events)
    assert sum(calls.values()) == 0, calls  # every shot from the cache


def test_cli_starts_quickly() -> None:
    """`dramaforge --help` loads no graph, model client or server (lazy imports)."""
    code = "import sys, dramaforge.cli.app; print(sorted(m for m in sys.modules if m in {x}))"
    heavy = {"langgraph", "openai", "mcp", "langchain_core", "av"}
    t = time.perf_counter()
    out = subprocess.run(
        [sys.executable, "-c", code.format(x=heavy)],
        capture_output=True, text=True, check=True, cwd=ROOT,
    )  # fmt: skip
    assert out.stdout.strip() == "[]", out.stdout
    assert time.perf_counter() - t < 10  # generous: the machine is shared; the figure is in bench
