"""Style variants: the same plan in several looks, sibling folders, voices and music shared."""

from __future__ import annotations

from collections import Counter
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from dramaforge.errors import DramaforgeError
from dramaforge.modes.runner import RunArgs
from dramaforge.modes.styles import render_styles, style_names, style_words
from tests.helpers import FIXTURES, KindCounting, counting_context, settings_for


def test_style_names_and_words() -> None:
    assert style_names("Anime, realistic,ink-wash,anime") == ["anime", "realistic", "ink-wash"]
    assert "ink-wash" in style_words("ink-wash", "en").lower()
    assert style_words("ink-wash", "zh").startswith("中国水墨")
    assert style_words("pixel-art", "en") == "pixel art"
    with pytest.raises(DramaforgeError):
        style_names(" , ")


@pytest.mark.slow
def test_two_styles_share_voices_and_music(tmp_path: Path) -> None:
    out = tmp_path / "out"
    settings = settings_for(max_takes=1)
    ctx, calls = counting_context(settings, out)
    sounds: Counter[str] = Counter()
    ctx.sound = KindCounting(ctx.sound, sounds)
    made = render_styles(
        FIXTURES / "short.zh.txt", ["anime", "ink-wash"], out, settings, run=RunArgs(context=ctx)
    )
    (a_style, a), (b_style, b) = made
    assert (a_style, b_style) == ("anime", "ink-wash")
    assert Path(a.episode.path) == out / "short" / "anime" / "episode.mp4"
    assert Path(b.episode.path) == out / "short" / "ink-wash" / "episode.mp4"
    lines = sum(len(s.lines) for s in a.plan.shots)
    assert calls["speech"] == lines  # not twice
    assert sounds["music"] == len({s.scene_index for s in a.plan.shots if s.music})
    assert calls["image"] == 2 * len(a.shots)
    assert [s.take.voice.key for s in a.shots] == [s.take.voice.key for s in b.shots]
    assert all("动漫" in s.visual_prompt for s in a.plan.shots)
    first_a = np.asarray(Image.open(a.shots[0].take.keyframe.path).convert("RGB"), dtype=float)
    first_b = np.asarray(Image.open(b.shots[0].take.keyframe.path).convert("RGB"), dtype=float)
    assert np.abs(first_b[..., 0] - first_b[..., 2]).mean() < 12  # ink wash: near grey
    assert np.abs(first_a - first_b).mean() > 10


def test_command_line_sorts_modes(tmp_path: Path) -> None:
    """--image is a photo when it names one, else the image backend; one source at a time."""
    from typer.testing import CliRunner

    from dramaforge.cli.app import app
    from dramaforge.modes.entry import photo_path

    photo = tmp_path / "p.png"
    Image.new("RGB", (64, 64)).save(photo)
    assert photo_path(str(photo)) == photo
    assert photo_path("shots/missing.jpg") == Path("shots/missing.jpg")
    assert photo_path("dashscope:qwen-image") is None
    result = CliRunner().invoke(
        app, ["render", str(FIXTURES / "short.zh.txt"), "--idea", "a cat", "--out", str(tmp_path)]
    )
    assert result.exit_code == 1 and "give one of SCRIPT, --idea, not several" in result.output
    result = CliRunner().invoke(app, ["render", "--image", str(photo), "--out", str(tmp_path)])
    assert result.exit_code == 2 and "--brief" in result.output
    result = CliRunner().invoke(app, ["render", "--out", str(tmp_path)])
    assert (
        result.exit_code == 1
        and "give a SCRIPT file, or --idea, --image or --audio" in result.output
    )
