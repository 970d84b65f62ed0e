"""Fountain's non-dialogue elements: centred text and a scene that is only a forced heading
become title cards (never an empty shot), transitions are the cuts, and the cards are on
screen in the render."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from dramaforge.agents.director import RuleDirector
from dramaforge.graph.verbs import render_episode
from dramaforge.media.ffmpeg import run_ffmpeg
from dramaforge.media.subtitles import read_srt
from dramaforge.script import parse_text
from tests.helpers import settings_for

SCREENPLAY = """\
Title: The Last Train

.OPENING TITLES

INT. STATION - NIGHT

MAYA (20s, yellow raincoat) runs onto the empty platform.

MAYA
Is this the last train?

CUT TO:

EXT. PLATFORM - NIGHT

The train pulls away.

> FADE OUT.

> THE END <
"""


def test_cards_and_cuts_and_never_an_empty_shot() -> None:
    script = parse_text(SCREENPLAY, source="train.fountain")
    cards = [(s.index, b.text) for s in script.scenes for b in s.beats if b.kind == "card"]
    assert cards == [(1, "OPENING TITLES"), (3, "THE END")]
    assert not any("FADE" in b.text or "CUT TO" in b.text for s in script.scenes for b in s.beats)
    plan = RuleDirector().direct(script)
    assert [(s.framing, s.card) for s in plan.shots] == [
        ("insert", "OPENING TITLES"),
        ("wide", None),
        ("medium", None),
        ("wide", None),
        ("insert", "THE END"),
    ]
    assert plan.shots[3].action == "The train pulls away."  # before the end card, not after
    assert all(s.lines or s.action or s.card for s in plan.shots)  # nothing empty
    assert "THE END" in plan.shots[-1].visual_prompt and plan.shots[-1].camera == "static"


def test_a_forced_heading_with_a_scene_under_it_stays_a_place() -> None:
    script = parse_text(".ROOFTOP\n\nThe wind howls.\n", source="roof.fountain")
    assert script.scenes[0].location == "ROOFTOP"
    assert [b.kind for b in script.scenes[0].beats] == ["action"]


def _brightness(video: Path, at: float, tmp_path: Path) -> np.ndarray:
    frame = tmp_path / f"f{at}.pgm"
    run_ffmpeg(["-ss", f"{at}", "-i", video, "-frames:v", "1", "-pix_fmt", "gray", frame],
               what="grabbing a frame")  # fmt: skip
    data = frame.read_bytes()
    header_end = data.index(b"\n255\n") + 5
    width, height = map(int, data.split(b"\n")[1].split())
    return np.frombuffer(data[header_end:], np.uint8).reshape(height, width)


@pytest.mark.slow
def test_title_cards_are_on_screen_in_the_render(tmp_path: Path) -> None:
    script = tmp_path / "cards.fountain"
    script.write_text(
        ".OPENING TITLES\n\nINT. STATION - NIGHT\n\nMAYA\nLast train?\n\n> THE END <\n"
    )
    manifest = render_episode(script, tmp_path / "out", settings_for())
    cues = read_srt(Path(manifest.episode.srt))
    assert cues[0].text == "OPENING TITLES" and cues[0].start < 0.2
    assert cues[-1].text == "THE END"
    first = manifest.shots[0]
    assert cues[0].end == pytest.approx(first.duration - 0.1, abs=0.05)
    middle = _brightness(Path(manifest.episode.path), first.duration / 2, tmp_path)
    band = middle[middle.shape[0] // 3 : 2 * middle.shape[0] // 3]
    assert band.std() > 10  # words drawn on the card, not a flat frame
