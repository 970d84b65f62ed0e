"""The offline animatic's lips pass the critic's sync check in every framing, by day and by
night: the storyboard draws every on-screen speaker's face where the check can read it, and
the shot's idea of who is on screen is the face the storyboard drew."""

from __future__ import annotations

from pathlib import Path

import pytest

from dramaforge.agents.critic import Critic, speaking
from dramaforge.schema import Line, Shot
from dramaforge.tools.local.motion import MotionBackend
from dramaforge.tools.local.storyboard import StoryboardBackend
from dramaforge.tools.protocols import ImageRequest, VideoRequest
from tests.test_talking_animatic import CAST, FPS, LINES, H, W, _voice

HEADINGS = {"day": "教室 - 白天 - 内", "night": "教室 - 夜 - 内"}


@pytest.mark.parametrize("time", ["day", "night"])
@pytest.mark.parametrize("framing", ["wide", "medium", "close_up", "reaction"])
def test_every_framing_talks_in_sync_by_day_and_by_night(
    tmp_path: Path, framing: str, time: str
) -> None:
    # No focus named: a close-up or a reaction shows the first character up close (as a
    # shot edited from a medium to a close-up does), both speakers still have lines.
    shot = Shot(
        id="s01-02",
        index=1,
        scene_index=1,
        scene_heading=HEADINGS[time],
        duration=3.8,
        framing=framing,  # type: ignore[arg-type]
        camera="zoom_in",
        visual_prompt="",
        characters=list(CAST),
        time_of_day=time,
        lines=[Line(text=c.text, speaker=c.speaker) for c in LINES],
    )
    key = tmp_path / "key.png"
    StoryboardBackend().generate(
        ImageRequest(
            prompt="两人在教室",
            width=round(W * 1.2 / 2) * 2,
            height=round(H * 1.2 / 2) * 2,
            seed=7,
            framing=shot.framing,
            scene_heading=shot.scene_heading,
            time_of_day=time,
            characters=CAST,
            focus=shot.focus,
        ),
        key,
    )
    voice = _voice(tmp_path / "voice.wav", [(c.start, c.end) for c in LINES])
    on_screen = [c for line, c in zip(shot.lines, LINES, strict=True) if shot.on_screen(line)]
    clip = tmp_path / "clip.mp4"
    MotionBackend().generate(
        VideoRequest(
            prompt="",
            keyframe=str(key),
            width=W,
            height=H,
            fps=FPS,
            duration=3.8,
            camera="zoom_in",
            seed=1,
            audio=str(voice),
            speaking=on_screen,
        ),
        clip,
    )
    expected = ["阿明"] if framing == "close_up" else sorted(CAST)
    assert sorted(speaking(shot, LINES)) == expected
    verdict = Critic().review(
        shot, keyframe=key, motion=clip, voice=voice, duration=3.8, cues=LINES
    )
    assert verdict.sync is not None and verdict.sync >= 0.8, verdict.issues
    assert verdict.passed, verdict.issues
