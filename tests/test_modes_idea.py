"""Idea to script: expanded, saved next to the episode, kept when edited, then rendered."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from typer.testing import CliRunner

from dramaforge.agents.director import RuleDirector
from dramaforge.agents.plugin import openai_director
from dramaforge.cli.app import app
from dramaforge.config import Settings
from dramaforge.media.probe import probe
from dramaforge.media.subtitles import read_srt
from dramaforge.modes.idea import expand, idea_name, read_idea, write_script
from dramaforge.script import load_script
from tests.fakes.openai_server import FakeOpenAI, Request, completion, first_user
from tests.helpers import provider_settings

IDEA = "A lonely robot learns to paint."
MODEL_SCRIPT = """[Title] Brushes
[Scene 1] Scrapyard - dawn
[Visual] A rusty robot finds a paintbrush.
[Narration] Nobody ever taught Unit 7 to paint.
[Scene 2] Workshop - night
[Visual] Canvas after canvas.
Unit 7: Again.
"""


@pytest.fixture
def writer(openai_server: FakeOpenAI) -> FakeOpenAI:
    """The shared fake chat server, answering every request with MODEL_SCRIPT."""
    openai_server.handler = lambda r: completion(r, content=MODEL_SCRIPT)
    return openai_server


def test_offline_idea_becomes_a_narrated_script(tmp_path: Path) -> None:
    made = write_script(IDEA, tmp_path / "ep", RuleDirector(), None)
    assert made.path == tmp_path / "ep" / "script.txt" and made.written_by == "rules"
    script = load_script(made.path)
    assert script.language == "en" and len(script.scenes) == 3
    assert IDEA in [b.text for b in script.spoken_lines()]
    # Edited by hand, the same idea keeps the edit; another idea writes a new script.
    made.path.write_text(made.text.replace("Then, one day", "Until, one night"), encoding="utf-8")
    again = write_script(IDEA, tmp_path / "ep", RuleDirector(), None)
    assert again.written_by == "edited" and "Until, one night" in again.text
    other = write_script("A cat waits out the rain.", tmp_path / "ep", RuleDirector(), None)
    assert "Until, one night" not in other.text


def test_idea_from_a_one_line_file_and_names(tmp_path: Path) -> None:
    f = tmp_path / "idea.txt"
    f.write_text("\n  一个孤独的机器人学画画。\n", encoding="utf-8")
    assert read_idea(str(f)) == "一个孤独的机器人学画画。"
    assert idea_name("一个孤独的机器人学画画。") == "一个孤独的机器人"
    assert idea_name(IDEA) == "a_lonely_robot_learns_to"
    zh = write_script(read_idea(str(f)), tmp_path / "zh", RuleDirector(), None)
    assert load_script(zh.path).language == "zh"


def test_llm_director_writes_the_script_with_the_idea_as_data(writer: FakeOpenAI) -> None:
    provider = provider_settings(writer, api_key="k", timeout=10, max_retries=0)
    director = openai_director("fake-chat", Settings().model_copy(update={"openai": provider}))
    text, who = expand(IDEA, director, None)
    assert text.strip() == MODEL_SCRIPT.strip() and who == director.name
    asked: Request = writer.requests[0]
    assert "<<<IDEA\n" + IDEA + "\nIDEA>>>" in first_user(asked)


def test_llm_reply_that_is_no_script_falls_back_to_rules(writer: FakeOpenAI) -> None:
    writer.then(lambda r: completion(r, content="Sure! Here is an idea."))
    provider = provider_settings(writer, api_key="k", timeout=10, max_retries=0)
    director = openai_director("fake-chat", Settings().model_copy(update={"openai": provider}))
    text, who = expand(IDEA, director, None)
    assert who == "rules" and IDEA in text


@pytest.mark.slow
def test_render_idea_from_the_command_line(tmp_path: Path) -> None:
    args = ["render", "--idea", IDEA, "--out", str(tmp_path), "--resolution", "360p", "--json"]
    result = CliRunner().invoke(app, args)
    assert result.exit_code == 0, result.output
    row = json.loads(result.stdout)[0]
    assert "[Title]" in result.stderr  # the script is shown before rendering
    folder = tmp_path / "a_lonely_robot_learns_to"
    assert row["script"] == str(folder / "script.txt") and row["episode"] == str(
        folder / "episode.mp4"
    )
    assert probe(folder / "episode.mp4").duration > 5
    assert " ".join(read_srt(folder / "episode.srt")[0].text.split()) == IDEA
