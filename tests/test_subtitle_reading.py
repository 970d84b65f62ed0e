"""Readable subtitles: cue timing, line breaks, size and place, and clear of the painter's
labels. Unit checks on the timing and layout; burned frames measured with libass itself."""

from __future__ import annotations

import itertools
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from dramaforge.media.analysis import frame_at
from dramaforge.media.ffmpeg import run_ffmpeg
from dramaforge.media.subtitle_fit import break_lines, text_width
from dramaforge.media.subtitle_timing import fit_cues
from dramaforge.media.subtitles import (
    CAMERA_ZOOM,
    Layout,
    ass_filter,
    check_font_log,
    label_floor,
    write_ass,
)
from dramaforge.schema import Cue
from dramaforge.tools.local.motion import ZOOM
from dramaforge.tools.local.storyboard import render as paint
from dramaforge.tools.protocols import ImageRequest

PORTRAIT, LANDSCAPE = Layout(720, 1280), Layout(1280, 720)


def cue(start: float, end: float, text: str) -> Cue:
    return Cue(start=start, end=end, text=text)


def test_a_short_cue_runs_into_the_silence_after_it() -> None:
    [one, two] = fit_cues([cue(1.0, 1.5, "没有。"), cue(4.0, 6.0, "那你去哪了？")], PORTRAIT, 8.0)
    assert (one.start, one.end) == (1.0, 2.0)
    assert (two.start, two.end) == (4.0, 6.0)


def test_short_cues_back_to_back_are_shown_together() -> None:
    fitted = fit_cues([cue(0.0, 0.4, "没有。"), cue(0.4, 0.9, "真的？")], PORTRAIT, 5.0)
    assert [(c.start, c.end, c.text) for c in fitted] == [(0.0, 1.0, "没有。真的？")]
    latin = fit_cues([cue(0.0, 0.4, "No."), cue(0.4, 0.8, "Really?")], LANDSCAPE, 5.0)
    assert [c.text for c in latin] == ["No. Really?"]


def test_two_voices_share_a_cue_one_dashed_line_each() -> None:
    a = Cue(start=2.2, end=2.9, text="For what?", speaker="Maya")
    b = Cue(start=2.9, end=4.1, text="For the rain to stop.", speaker="Leo")
    [both] = fit_cues([a, b], LANDSCAPE, 5.0)
    assert both.text == "- For what?\n- For the rain to stop." and both.speaker is None
    assert (both.start, both.end) == (2.2, 4.1)
    zh = fit_cues(
        [Cue(start=0, end=0.5, text="没有。", speaker="林"), Cue(start=0.5, end=2, text="真的？")],
        PORTRAIT,
        3.0,
    )
    assert [c.text for c in zh] == ["-没有。\n-真的？"]


def test_a_short_cue_borrows_from_a_long_neighbour_when_they_cannot_share() -> None:
    long_line = "这一句很长很长，长到两行都放不下它和前一句加在一起的所有文字，还要更长一点才行"
    fitted = fit_cues([cue(0.0, 0.5, "没有。"), cue(0.5, 6.0, long_line)], PORTRAIT, 6.0)
    assert fitted[0].end - fitted[0].start >= 1.0
    assert all(b.start >= a.end for a, b in itertools.pairwise(fitted))
    assert all(c.end - c.start >= 1.0 for c in fitted)


def test_a_last_short_cue_starts_earlier_when_the_episode_ends() -> None:
    [a, b] = fit_cues([cue(0.0, 2.0, "你好，今天很忙。"), cue(3.6, 4.0, "好。")], PORTRAIT, 4.0)
    assert b.end == 4.0 and b.end - b.start >= 1.0 and b.start >= a.end


def test_every_cue_is_at_most_two_lines_that_fit() -> None:
    text = " ".join(["a fairly ordinary sentence that goes on"] * 5)
    fitted = fit_cues([cue(0.0, 8.0, text)], LANDSCAPE, 8.0)
    assert len(fitted) > 1
    assert all(len(c.text.splitlines()) <= 2 for c in fitted)
    assert all(c.end - c.start >= 1.0 for c in fitted)
    widths = [text_width(ln, 720, 1280) for c in fitted for ln in c.text.splitlines()]
    assert max(widths) <= LANDSCAPE.max_width
    assert " ".join(" ".join(c.text.split()) for c in fitted) == text  # no word lost
    # Two lines are broken evenly, after punctuation where there is some.
    two = break_lines("我知道你一直在等我，可是今天来不了", PORTRAIT)
    assert len(two) == 2 and two[0].endswith("，")


def test_sizes_follow_broadcast_and_platform_practice() -> None:
    assert 0.05 <= LANDSCAPE.em / 720 <= 0.06
    assert 0.035 <= PORTRAIT.em / 1280 <= 0.045
    for layout in (LANDSCAPE, PORTRAIT, Layout(1080, 1080)):
        top, bottom = layout.band()
        assert bottom <= 0.95 * layout.height  # title-safe: 5 % in from the edge
        assert layout.margin_x >= 0.05 * layout.width
        # The painter's floor, zoomed in by the camera, stays above two lines of subtitles.
        floor = label_floor(layout.width, layout.height)
        assert 0.5 + (floor - 0.5) * CAMERA_ZOOM <= top / layout.height
    assert CAMERA_ZOOM == ZOOM


def _labels_bottom(image: Image.Image) -> float:
    """Lowest row (fraction) of the painter's label boxes (fill exactly (20, 20, 20))."""
    px = np.asarray(image)
    rows = np.flatnonzero((np.abs(px.astype(int) - 20).max(axis=2) == 0).sum(axis=1) > 8)
    return float(rows.max() + 1) / image.height if rows.size else 0.0


@pytest.mark.parametrize("size", [(720, 1280), (1280, 720), (720, 720)])
@pytest.mark.parametrize("framing", ["wide", "medium", "close_up", "reaction"])
def test_painter_keeps_labels_above_the_subtitles(size: tuple[int, int], framing: str) -> None:
    width, height = size
    request = ImageRequest(
        prompt="教室",
        width=width,
        height=height,
        seed=3,
        framing=framing,
        scene_heading="教室 白天 内",
        characters={"阿明": ("#3366cc", 0), "小雪": ("#cc3366", 1)},
        focus="小雪",
    )
    bottom = _labels_bottom(paint(request))
    assert 0 < bottom <= label_floor(width, height), (framing, bottom)


def _burn(cues: list[Cue], size: tuple[int, int], dest: Path) -> np.ndarray:
    width, height = size
    ass = dest.with_suffix(".ass")
    write_ass(cues, width, height, ass)
    log = run_ffmpeg(
        ["-f", "lavfi", "-i", f"color=black:s={width}x{height}:r=25:d=1",
         "-vf", ass_filter(ass), "-pix_fmt", "yuv420p", dest],
        what="burning cues",
    )  # fmt: skip
    check_font_log(log, "burning cues")
    return frame_at(dest, 0.5).mean(axis=2)


@pytest.mark.parametrize("size", [(360, 640), (640, 360)])
def test_burned_lines_are_sized_placed_and_measured(size: tuple[int, int], tmp_path: Path) -> None:
    width, height = size
    layout = Layout(width, height)
    for text in ("你好世界，明天见", "Mind if I share your roof?"):
        grey = _burn([cue(0.0, 1.0, text)], size, tmp_path / "one.mp4")
        lit_rows = np.flatnonzero((grey > 150).any(axis=1))
        lit_cols = np.flatnonzero((grey > 150).any(axis=0))
        drawn = lit_cols.max() - lit_cols.min() + 1
        # Ink against advance width: the side bearings of the first and last letter differ.
        assert abs(drawn - text_width(text, height, width)) <= 5, (text, drawn)
        top, bottom = layout.band(1)
        assert top - 2 <= lit_rows.min() and lit_rows.max() <= bottom + 2
        if text.startswith("你"):  # a CJK character is drawn about 0.9 em tall
            assert 0.8 * layout.em <= lit_rows.max() - lit_rows.min() + 1 <= 1.05 * layout.em
        else:  # word spaces are a third of an em, not Noto's narrow 0.22
            gaps = np.diff(lit_cols)
            assert np.sort(gaps)[-5:].min() - 1 >= 0.25 * layout.em


def test_two_lines_stay_inside_the_title_safe_band(tmp_path: Path) -> None:
    width, height = 640, 360
    text = "\n".join(break_lines("Then I'm a very lucky public. " * 3, Layout(width, height)))
    grey = _burn([cue(0.0, 1.0, text)], (width, height), tmp_path / "two.mp4")
    rows = np.flatnonzero((grey > 150).any(axis=1))
    cols = np.flatnonzero((grey > 150).any(axis=0))
    top, bottom = Layout(width, height).band(2)
    assert top - 2 <= rows.min() and rows.max() <= min(bottom + 2, 0.95 * height)
    assert cols.min() >= 0.05 * width and cols.max() <= 0.95 * width
