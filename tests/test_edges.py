"""What a user meets at the edge: a machine that refuses a path, and config or script text
that rich must print as written (``[backends] chat`` is text, not a style to drop)."""

from __future__ import annotations

import io
from pathlib import Path

import pytest
from rich.console import Console
from typer.testing import CliRunner

from dramaforge.chat.terminal import cost_lines, progress, shot_detail
from dramaforge.cli.app import app
from dramaforge.graph.cost import Estimate
from dramaforge.schema import Shot
from tests.helpers import FIXTURES

runner = CliRunner()


@pytest.mark.parametrize("out", ["/proc/dramaforge-nope/out", "/proc/version/out"])
def test_an_out_folder_that_cannot_be_made_is_one_line_and_exit_3(out: str) -> None:
    result = runner.invoke(app, ["render", str(FIXTURES / "short.zh.txt"), "--out", out])
    assert result.exit_code == 3, result.output
    assert "Traceback" not in result.output
    assert result.output.count("\n") == 1  # one line, naming the path and what to do
    assert "cannot create or open /proc/" in result.output and "--out" in result.output


def test_batch_into_an_impossible_folder_is_one_line_and_exit_3(tmp_path: Path) -> None:
    result = runner.invoke(app, ["batch", str(FIXTURES / "short.zh.txt"), "--out", "/proc/x/y"])
    assert result.exit_code == 3, result.output
    assert "Traceback" not in result.output and "/proc/x" in result.output


def _shown(renderable: object) -> str:
    console = Console(file=io.StringIO(), width=200, color_system=None)
    if isinstance(renderable, str):
        console.print(renderable, highlight=False)
    else:
        console.print(renderable)
    return console.file.getvalue()  # type: ignore[attr-defined]


def test_chat_without_a_model_names_the_setting(tmp_path: Path, monkeypatch) -> None:  # type: ignore[no-untyped-def]
    monkeypatch.chdir(tmp_path)  # no dramaforge.toml: no chat model
    result = runner.invoke(
        app,
        ["chat", str(FIXTURES / "short.zh.txt"), "--out", str(tmp_path / "out")],
        input="make it rain\n/quit\n",
    )
    assert result.exit_code == 0, result.output
    assert '[backends] chat = "openai:MODEL"' in result.output
    assert "set  in" not in result.output


def test_cost_lines_keep_the_setting_and_the_model_names() -> None:
    cost = Estimate(
        total=1.5,
        lines={"dashscope:[beta]-image": 1.5},
        one_take={"dashscope:[beta]-image": 1.5},
        one_take_total=1.5,
        max_takes=1,
        unpriced=["x:[red]y"],
    )
    shown = "".join(_shown(line) for line in cost_lines(cost))
    assert "dashscope:[beta]-image: 1.50" in shown
    assert "x:[red]y" in shown and "under [prices] in dramaforge.toml" in shown


def test_a_shot_shows_its_bracketed_id_and_text() -> None:
    shot = Shot(
        id="[i]1",
        index=0,
        scene_index=0,
        scene_heading="[INT] street",
        duration=3.0,
        framing="medium",
        camera="static",
        visual_prompt="[bold]neon[/] street",
        action="walks",
    )
    shown = _shown(shot_detail(shot, None))
    assert "[i]1" in shown and "[bold]neon[/] street" in shown


def test_the_progress_line_shows_bracketed_ids_and_notes() -> None:
    console = Console(file=io.StringIO(), width=200, color_system=None, force_terminal=True)
    with progress(console, True) as on_event:
        on_event({"shot": "[7]", "stage": "voice", "status": "start"})
        on_event({"shot": "[7]", "stage": "critic", "status": "retry", "fault": "motion",
                  "issues": ["[frozen] frames"]})  # fmt: skip
        on_event({"stage": "assemble", "status": "[wait] 12 s"})
    shown = console.file.getvalue()  # type: ignore[attr-defined]
    assert "[7] critic retry motion: [frozen] frames" in shown
    assert "episode: assemble [wait] 12 s" in shown


def test_a_plain_waiting_line_keeps_its_brackets() -> None:
    console = Console(file=io.StringIO(), width=200, color_system=None)
    with progress(console, False) as on_event:
        on_event({"stage": "wait", "status": "waiting for [render] of ep1"})
    assert "waiting for [render] of ep1" in console.file.getvalue()  # type: ignore[attr-defined]


def test_doctor_prints_a_bracketed_backend_name(tmp_path: Path, monkeypatch) -> None:  # type: ignore[no-untyped-def]
    monkeypatch.chdir(tmp_path)
    (tmp_path / "dramaforge.toml").write_text('[backends]\nimage = "nope:[bold]x"\n')
    result = runner.invoke(app, ["doctor"], env={"COLUMNS": "300"})
    assert "FAIL backend image: unknown image backend 'nope:[bold]x'" in result.output


def test_the_batch_table_shows_a_bracketed_script_name(tmp_path: Path) -> None:
    bad = tmp_path / "[ep1].txt"
    bad.write_text("", encoding="utf-8")
    result = runner.invoke(app, ["batch", str(bad), "--out", str(tmp_path / "out")])
    assert result.exit_code == 1
    assert "[ep1].txt" in result.output


def test_any_other_refusal_of_the_machine_is_one_line_too() -> None:
    import errno

    from dramaforge.errors import machine_error

    busy = machine_error(OSError(errno.EADDRINUSE, "Address already in use"))
    assert str(busy) == "the machine refused: Address already in use; fix that and run again"
    assert busy.exit_code == 3
    full = machine_error(OSError(errno.ENOSPC, "No space left on device", "/out/x.mp4"))
    assert "cannot write /out/x.mp4" in str(full) and "free some space" in str(full)


def test_without_a_bar_a_shots_wait_is_said_once() -> None:
    console = Console(file=io.StringIO(), width=200, color_system=None)
    with progress(console, False) as on_event:
        for left in (52, 40, 20):
            status = f"waiting: a submit got no reply; looking ({left}s left)"
            on_event({"shot": "s01-02", "stage": "keyframe", "status": status})
        on_event({"shot": "s01-02", "stage": "keyframe", "status": "done"})
    shown = console.file.getvalue()  # type: ignore[attr-defined]
    assert shown.count("waiting:") == 1 and "s01-02 keyframe: waiting" in shown
