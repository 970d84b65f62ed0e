"""Channel versions: one brief, several aspects and durations, shared assets made once."""

from __future__ import annotations

from collections import Counter
from pathlib import Path

import pytest

from dramaforge.graph.context import build_context
from dramaforge.media.analysis import frame_at
from dramaforge.media.probe import probe
from dramaforge.media.subtitles import read_srt
from dramaforge.modes.briefs import normalize_brief
from dramaforge.modes.channels import plan_versions, render_versions
from dramaforge.modes.fit import Fit
from dramaforge.modes.runner import RunArgs
from dramaforge.script import load_script, parse_text
from tests.helpers import EXAMPLES, KindCounting, counting_context, settings_for

BRIEF = """\
title: Kettle
product: Pico Kettle
language: en
music: upbeat acoustic guitar
versions:
  - {name: story, ratio: "9:16", seconds: 7}
  - {name: feed, aspect: 9:16, duration_s: 12}
  - {name: page, aspect: "16:9", duration: 9s}
scenes:
  - heading: Kitchen
    visual: Steam curls from the Pico Kettle.
    voiceover: Boiled in a minute.
  - heading: Table
    visual: Two cups on a table.
    voiceover: Pico. Tea, now.
"""


def test_brief_shapes_are_normalised() -> None:
    data = normalize_brief(
        {
            "versions": ["15s 9:16", {"name": "Long cut", "ratio": "16x9", "seconds": 60}],
            "scenes": ["A cold platform at dawn."],
        }
    )
    assert data["channels"] == [
        {"name": "v1", "duration": 15.0, "aspect": "9:16"},
        {"name": "Long cut", "duration": 60, "aspect": "16:9"},
    ]
    assert data["scenes"] == [{"visual": "A cold platform at dawn."}]
    script = parse_text(BRIEF, source="kettle.yaml")
    assert [(c.name, c.aspect, c.duration) for c in script.channels] == [
        ("story", "9:16", 7.0),
        ("feed", "9:16", 12.0),
        ("page", "16:9", 9.0),
    ]


def test_plan_condenses_and_expands_to_each_duration() -> None:
    script = load_script(EXAMPLES / "product_ad.en.yaml")
    assert [(c.aspect, c.duration) for c in script.channels] == [
        ("9:16", 15.0), ("9:16", 60.0), ("16:9", 180.0),
    ]  # fmt: skip
    settings = settings_for()
    plans = plan_versions(
        EXAMPLES / "product_ad.en.yaml", settings, build_context(settings, Path("."))
    )
    shots = [len(p.shots) for _, p in plans]
    assert shots[0] < shots[1] < shots[2]
    for version, plan in plans:
        assert abs(sum(s.duration for s in plan.shots) - (version.duration or 0)) < 0.05
        assert max(s.duration for s in plan.shots if not s.lines) <= 5.0  # b-roll, not a stall
    spoken = [sum(len(s.lines) for s in p.shots) for _, p in plans]
    assert spoken[2] > spoken[0]  # the long cut has a longer voice-over


def test_a_short_cut_drops_middle_lines_and_keeps_the_payoff() -> None:
    script = load_script(EXAMPLES / "product_ad.en.yaml")
    base = build_context(settings_for(), Path(".")).director.direct(script)
    cut = Fit(7.0, fps=25, min_shot=2.0).plan(base, lambda line: 1.2)
    texts = [ln.text for s in cut.shots for ln in s.lines]
    assert texts[-1] == "Aurora. Warm all day."
    assert len(texts) < len([ln for s in base.shots for ln in s.lines])
    assert abs(sum(s.duration for s in cut.shots) - 7.0) < 0.02
    with pytest.raises(Exception, match="longer duration"):
        Fit(2.0, fps=25, min_shot=2.0).plan(base, lambda line: 1.2)


@pytest.mark.slow
def test_three_versions_render_with_shared_assets_made_once(tmp_path: Path) -> None:
    brief = tmp_path / "kettle.yaml"
    brief.write_text(BRIEF, encoding="utf-8")
    settings = settings_for(max_takes=1)
    ctx, calls = counting_context(settings, tmp_path / "out")
    sounds: Counter[str] = Counter()
    ctx.sound = KindCounting(ctx.sound, sounds)
    done = render_versions(brief, tmp_path / "out", settings, run=RunArgs(context=ctx))

    sizes = {"story": (360, 640), "feed": (360, 640), "page": (640, 360)}
    keyframes: set[str] = set()
    used = 0
    for r in done:
        path = Path(r.manifest.episode.path)
        assert path == tmp_path / "out" / "kettle" / r.version.name / "episode.mp4"
        info = probe(path)
        assert (info.width, info.height) == sizes[r.version.name]
        assert abs(info.duration - (r.version.duration or 0)) <= 0.5, (r.version, info.duration)
        # Filled frame: no black bars at the top or bottom.
        frame = frame_at(path, info.duration / 2)
        assert frame[:4].mean() > 8 and frame[-4:].mean() > 8
        assert [c.text for c in read_srt(Path(r.manifest.episode.srt))][-1] == "Pico. Tea, now."
        keyframes |= {res.take.keyframe.key for res in r.manifest.shots}
        used += len(r.manifest.shots)
    # Each line spoken once for all three versions, one music bed per cue, keyframes of the
    # same shot at the same aspect drawn once.
    assert calls["speech"] == 2
    assert sounds["music"] == 1
    assert calls["image"] == len(keyframes) < used


def test_unknown_version_is_one_clear_line(tmp_path: Path) -> None:
    from typer.testing import CliRunner

    from dramaforge.cli.app import app

    brief = tmp_path / "kettle.yaml"
    brief.write_text(BRIEF, encoding="utf-8")
    result = CliRunner().invoke(
        app, ["render", str(brief), "--channel", "tv", "--out", str(tmp_path)]
    )
    assert result.exit_code == 1
    assert "no version named 'tv'; this brief has story, feed, page" in result.output


def test_a_version_with_its_own_script_keeps_every_line(tmp_path: Path) -> None:
    own = BRIEF.replace(
        '  - {name: page, aspect: "16:9", duration: 9s}',
        "  - name: teaser\n    ratio: 1:1\n    seconds: 8\n"
        "    script: |\n      [Scene 1] Kitchen\n      [Narration] Pico is here.\n"
        "      [Narration] Tea in a minute.\n",
    )
    brief = tmp_path / "kettle.yaml"
    brief.write_text(own, encoding="utf-8")
    settings = settings_for()
    plans = dict(
        (v.name, (v, p))
        for v, p in plan_versions(brief, settings, build_context(settings, tmp_path))
    )
    version, plan = plans["teaser"]
    assert version.aspect == "1:1" and version.script.startswith("[Scene 1]")
    assert [ln.text for s in plan.shots for ln in s.lines] == ["Pico is here.", "Tea in a minute."]
    assert abs(sum(s.duration for s in plan.shots) - 8.0) < 0.05


def test_plan_command_shows_every_version_of_the_example() -> None:
    import json

    from typer.testing import CliRunner

    from dramaforge.cli.app import app

    result = CliRunner().invoke(app, ["plan", str(EXAMPLES / "product_ad.en.yaml"), "--json"])
    assert result.exit_code == 0, result.output
    data = json.loads(result.stdout)
    assert [(v["version"], v["aspect"], v["duration"]) for v in data] == [
        ("moments", "9:16", 15.0), ("short_video", "9:16", 60.0), ("product_page", "16:9", 180.0),
    ]  # fmt: skip
    for v in data:
        assert abs(sum(s["duration"] for s in v["shots"]) - v["duration"]) < 0.05
