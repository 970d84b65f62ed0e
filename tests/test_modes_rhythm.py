"""Short-drama rhythm: a hook inside the first three seconds, a cliffhanger hold at the end."""

from __future__ import annotations

from pathlib import Path

import pytest

from dramaforge.agents.director import RuleDirector, speech_seconds
from dramaforge.media.probe import probe
from dramaforge.media.subtitles import read_srt
from dramaforge.modes.rhythm import RhythmDirector, render_short_drama
from dramaforge.script import load_script
from tests.helpers import EXAMPLES, FIXTURES, settings_for


def test_plan_opens_on_a_charged_line_and_ends_on_a_hold() -> None:
    script = load_script(EXAMPLES / "campus_ep01.zh.txt")
    plain = RuleDirector().direct(script)
    plan = RhythmDirector(RuleDirector(), 25).direct(script)
    hook, cliff = plan.shots[0], plan.shots[-1]
    assert [s.id for s in plan.shots[1:-1]] == [s.id for s in plain.shots]
    assert hook.id == "hook" and len(hook.lines) == 1 and hook.framing == "close_up"
    text = hook.lines[0].text
    assert text[-1] in "?!？！" and 0.3 + speech_seconds(text, "zh") + 0.5 <= 3.0
    assert any(hook.lines[0].text in ln.text for s in plain.shots[1:] for ln in s.lines)
    assert cliff.id == "cliff" and not cliff.lines and cliff.framing == "close_up"
    assert cliff.duration == 2.0 and "heartbeat" in cliff.sfx


@pytest.mark.slow
def test_short_drama_render_hooks_within_three_seconds(tmp_path: Path) -> None:
    manifest = render_short_drama(FIXTURES / "short.zh.txt", tmp_path, settings_for(max_takes=1))
    first, last = manifest.shots[0], manifest.shots[-1]
    assert first.shot_id == "hook" and first.duration <= 3.0
    cues = read_srt(Path(manifest.episode.srt))
    assert cues[0].end <= 3.0
    assert last.shot_id == "cliff" and abs(last.duration - 2.0) < 1e-6
    assert cues[-1].end <= probe(Path(manifest.episode.path)).duration - 2.0 + 0.05
    # The hook's line is the same speech as where it comes back: one voice made for both.
    hook_line = manifest.plan.shots[0].lines[0].text
    assert [c.text for c in cues].count(hook_line) == 2
