"""Rendered episodes looked at frame by frame: a Chinese 9:16 and an English 16:9 episode,
every cue read from the SRT and found on the picture, inside the title-safe band, never over
a name label the keyframe painter drew."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from dramaforge.graph.verbs import render_episode
from dramaforge.media.analysis import frame_at
from dramaforge.media.subtitles import MAX_LINES, Layout, read_srt
from dramaforge.schema import Manifest
from tests.helpers import EXAMPLES, FIXTURES, settings_for

pytestmark = pytest.mark.slow


def _source_frame(manifest: Manifest, t: float) -> np.ndarray:
    """The frame under the subtitles at episode time ``t``: from the shot's own clip."""
    start = 0.0
    for result in manifest.shots:
        if t < start + result.duration:
            return frame_at(Path(result.take.motion.path), t - start)
        start += result.duration
    raise AssertionError(f"{t} is past the end")


@pytest.mark.parametrize(
    ("script", "aspect"),
    [(FIXTURES / "short.zh.txt", "9:16"), (EXAMPLES / "rain_stop.en.fountain", "16:9")],
)
def test_every_cue_is_readable_and_clear_of_labels(
    script: Path, aspect: str, tmp_path: Path
) -> None:
    manifest = render_episode(script, tmp_path, settings_for(aspect=aspect))
    ep = manifest.episode
    layout = Layout(ep.width, ep.height)
    cues = read_srt(Path(ep.srt))
    assert cues
    for cue in cues:
        assert cue.end - cue.start >= 1.0 - 1e-3, cue
        assert len(cue.text.splitlines()) <= MAX_LINES, cue
    top, bottom = layout.band(MAX_LINES)
    for cue in cues:
        t = (cue.start + cue.end) / 2
        shown = frame_at(Path(ep.path), t).astype(np.int16)
        under = _source_frame(manifest, t).astype(np.int16)
        ink = (shown.min(axis=2) > 200) & (np.abs(shown - under).max(axis=2) > 80)
        rows, cols = np.flatnonzero(ink.any(axis=1)), np.flatnonzero(ink.any(axis=0))
        assert rows.size, f"cue not on the picture: {cue.text}"
        assert top - 4 <= rows.min() and rows.max() <= bottom + 4, (cue.text, rows.min())
        assert cols.min() >= 0.05 * ep.width and cols.max() <= 0.95 * ep.width
        label = (np.abs(under - 20).max(axis=2) <= 10) & ink
        assert label.sum() <= 0.02 * ink.sum(), f"{cue.text} is drawn over a name label"
