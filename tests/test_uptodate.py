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
from dramaforge.cli.flags import build_settings
from dramaforge.graph.threads import make_options, thread_id
from dramaforge.graph.uptodate import finished
from dramaforge.graph.verbs import render_episode
from dramaforge.media.files import file_lock
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
    # ... answered before the graph, the export libraries or OpenCV are imported
    loaded = _render_in_a_new_process(tmp_path)
    assert loaded["up_to_date"] is True and loaded["heavy"] == [], loaded

    # ... but not while a render of the same episode runs, nor once its checkpoints are gone
    settings = build_settings(resolution="360p")
    script = FIXTURES / "short.zh.txt"
    assert finished(script, tmp_path, settings) is not None
    thread = thread_id(script, make_options(script, tmp_path, settings))
    root = settings.state_root(tmp_path)
    with file_lock(root / "locks" / f"{thread}.lock"):
        assert finished(script, tmp_path, settings) is None
    with file_lock(root / "locks" / f"{thread}.lock", shared=True):
        assert finished(script, tmp_path, settings) is None
    (root / "state.db").rename(root / "moved.db")
    assert finished(script, tmp_path, settings) is None
    (root / "moved.db").rename(root / "state.db")

    forced = _render(tmp_path, "--force")
    assert forced["up_to_date"] is False and episode.stat().st_mtime_ns != written

    # A damaged episode is made again, from the cached shots.
    episode.write_bytes(episode.read_bytes()[:1000])
    repaired = _render(tmp_path)
    assert repaired["up_to_date"] is False
    assert probe(episode).has_video and probe(episode).duration > 1


HEAVY = ("langgraph", "langchain_core", "openai", "cv2", "av", "opentimelineio", "numpy")
ASK = """
import json, sys
from dramaforge.cli.app import app
from dramaforge.cli.flags import build_settings
from dramaforge.graph.threads import make_options, thread_id
from dramaforge.graph.uptodate import finished
from dramaforge.media.files import file_lock
try:
    app(["render", sys.argv[1], "--out", sys.argv[2], "--resolution", "360p", "--json"])
except SystemExit:
    pass
print(json.dumps(sorted({m.split(".")[0] for m in sys.modules} & set(sys.argv[3:]))))
"""


def _render_in_a_new_process(out: Path) -> dict[str, object]:
    """``render --json`` in a fresh interpreter, and which heavy packages it imported."""
    run = subprocess.run(
        [sys.executable, "-c", ASK, str(FIXTURES / "short.zh.txt"), str(out), *HEAVY],
        capture_output=True, text=True, check=True, cwd=ROOT,
    )  # fmt: skip
    *shown, heavy = run.stdout.strip().splitlines()
    data: dict[str, object] = json.loads("\n".join(shown))
    return data | {"heavy": json.loads(heavy)}


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
