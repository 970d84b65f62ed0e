"""Segmented assembly on real files: each shot's segment encoded once with its own subtitles,
the episode joined by stream copy. Every check decodes the output: frame counts at each cut,
text in the subtitle band on both sides of a cut, and which segments an edit encoded again."""

from __future__ import annotations

import os
from pathlib import Path

import av
import numpy as np
import pytest

from dramaforge.errors import AssemblyError
from dramaforge.graph.nodes.assemble import SEGMENTS
from dramaforge.graph.verbs import render_episode
from dramaforge.media import segments
from dramaforge.media.cut import FINAL_X264, Finish, encode_episode
from dramaforge.media.ffmpeg import run_ffmpeg
from dramaforge.media.probe import probe
from dramaforge.media.segments import Segment, build_segments, window
from dramaforge.media.subtitles import ass_filter, write_ass
from dramaforge.media.video import concat_list
from dramaforge.schema import Cue
from tests.helpers import FIXTURES, settings_for

W, H, FPS = 320, 568, 25
X264 = ["-c:v", "libx264", "-preset", "ultrafast", "-pix_fmt", "yuv420p"]
# Three shots of different lengths and colours (dark, so white text stands out): 25, 35, 20 frames.
SHOTS = [("0x400000", 25), ("0x004000", 35), ("0x000040", 20)]
TOTAL = sum(n for _, n in SHOTS) / FPS
CUES = [
    Cue(start=0.6, end=1.6, text="跨过剪辑点的一句"),  # crosses the cut at 1.0 s
    Cue(start=2.6, end=3.1, text="最后一句"),
]


def _clip(dest: Path, colour: str, frames: int) -> Path:
    run_ffmpeg(
        ["-f", "lavfi", "-i", f"color=c={colour}:s={W}x{H}:r={FPS}:d={frames / FPS}",
         *X264, "-frames:v", str(frames), dest],
        what=f"making {dest.name}",
    )  # fmt: skip
    return dest


@pytest.fixture(scope="module")
def parts(tmp_path_factory: pytest.TempPathFactory) -> tuple[list[Path], Path, Path]:
    """The clips, a tone as long as them, and a fourth clip to edit the middle shot with."""
    folder = tmp_path_factory.mktemp("segments")
    clips = [_clip(folder / f"shot{i}.mp4", c, n) for i, (c, n) in enumerate(SHOTS)]
    audio = folder / "mix.wav"
    run_ffmpeg(
        ["-f", "lavfi", "-i", f"sine=f=440:r=48000:d={TOTAL}", "-af", "pan=stereo|c0=c0|c1=c0",
         "-c:a", "pcm_s16le", audio],
        what="making the mix",
    )  # fmt: skip
    other = _clip(folder / "other.mp4", "0x404000", 35)
    return clips, audio, other


def _frames(path: Path) -> list[np.ndarray]:
    with av.open(str(path)) as container:
        return [f.to_ndarray(format="rgb24") for f in container.decode(video=0)]


def _band_text(frame: np.ndarray) -> int:
    """Bright pixels in the lower third, where the subtitles sit (the shots have none)."""
    band = frame[H * 2 // 3 :].astype(np.int16)
    return int((band.min(axis=2) > 180).sum())


def _runs(frames: list[np.ndarray]) -> list[tuple[int, int]]:
    """(dominant channel, frame count) of each run of same-coloured frames, read above the text."""
    runs: list[tuple[int, int]] = []
    for f in frames:
        ch = int(np.argmax(f[: H // 3].reshape(-1, 3).mean(axis=0)))
        if runs and runs[-1][0] == ch:
            runs[-1] = (ch, runs[-1][1] + 1)
        else:
            runs.append((ch, 1))
    return runs


def _encode(clips: list[Path], audio: Path, dest: Path, cache: Path, force: bool = False) -> None:
    encode_episode(
        clips=clips, audio=audio, cues=CUES, finish=Finish(W, H, FPS), dest=dest,
        segment_cache=cache, force=force,
    )  # fmt: skip


def _one_pass(clips: list[Path], dest: Path) -> None:
    """The reference: the clips joined and the whole episode's ASS burned in one encode."""
    dest.parent.mkdir(parents=True, exist_ok=True)
    listing, ass = concat_list(clips, dest.with_suffix(".txt")), dest.with_suffix(".ass")
    write_ass(CUES, W, H, ass)
    run_ffmpeg(
        ["-f", "concat", "-safe", "0", "-i", listing, "-vf", f"{ass_filter(ass)},fps={FPS}",
         *FINAL_X264, "-r", str(FPS), dest],
        what="one-pass reference",
    )  # fmt: skip


def test_window_splits_a_cue_at_the_cut() -> None:
    left, right = window(CUES, 0.0, 1.0), window(CUES, 1.0, 2.4)
    assert [(c.start, c.end, c.text) for c in left] == [(0.6, 1.0, CUES[0].text)]
    assert [(round(c.start, 6), round(c.end, 6)) for c in right] == [(0.0, 0.6)]
    assert window(CUES, 2.4, 3.2)[0].start == pytest.approx(0.2)


def test_segmented_episode_matches_one_pass(
    parts: tuple[list[Path], Path, Path], tmp_path: Path
) -> None:
    clips, audio, _ = parts
    cache = tmp_path / "cache"
    seg, whole = tmp_path / "seg" / "episode.mp4", tmp_path / "whole" / "episode.mp4"
    _encode(clips, audio, seg, cache)
    _one_pass(clips, whole)
    info = probe(seg)
    assert (info.vcodec, info.acodec, info.fps) == ("h264", "aac", FPS)
    assert info.duration == pytest.approx(TOTAL, abs=1 / FPS)
    assert abs(info.video_duration - info.audio_duration) <= 1 / FPS
    frames = _frames(seg)
    # Every shot keeps its own frame count at each cut: red 25, green 35, blue 20.
    assert _runs(frames) == [(0, 25), (1, 35), (2, 20)]
    text = [_band_text(f) for f in frames]
    # The cue crossing the cut at frame 25 is drawn on both sides of it, and only while it runs.
    assert text[10] == 0 and text[20] > 50 and text[24] > 50 and text[25] > 50 and text[35] > 50
    assert text[45] == 0
    # Drawn as the one-pass burn draws it, on each side of the cut.
    reference = [_band_text(f) for f in _frames(whole)]
    for i in (20, 24, 25, 30, 70):
        assert text[i] == pytest.approx(reference[i], rel=0.1, abs=20)
    assert os.listdir(seg.parent) == ["episode.mp4"]
    assert sorted(p.suffix for p in cache.iterdir()) == [".mp4"] * 3  # no temp files left


def test_an_edit_encodes_one_segment(parts: tuple[list[Path], Path, Path], tmp_path: Path) -> None:
    clips, _, other = parts
    cache = tmp_path / "cache"
    windows = [
        Segment(c, s, n / FPS) for c, s, (_, n) in zip(clips, (0, 1.0, 2.4), SHOTS, strict=True)
    ]
    (cache / ".segments-killed").mkdir(parents=True)  # what a killed encode left
    (cache / ".segments-killed" / "half.mp4").write_bytes(b"\0" * 100)
    first, made = build_segments(windows, CUES, cache, width=W, height=H, fps=FPS)
    assert made == 3 and sorted(cache.iterdir()) == sorted(first)
    before = {p: p.stat().st_mtime_ns for p in first}
    again, made = build_segments(windows, CUES, cache, width=W, height=H, fps=FPS)
    assert (again, made) == (first, 0)
    edited = [windows[0], Segment(other, 1.0, 1.4), windows[2]]
    after, made = build_segments(edited, CUES, cache, width=W, height=H, fps=FPS)
    assert made == 1
    assert after[0] == first[0] and after[2] == first[2] and after[1] != first[1]
    assert {p: p.stat().st_mtime_ns for p in (after[0], after[2])} == {
        first[0]: before[first[0]],
        first[2]: before[first[2]],
    }
    assert sorted(cache.iterdir()) == sorted(after)  # the old middle segment is swept
    # A changed cue in the last shot's window re-encodes that segment alone.
    moved = [*CUES[:1], CUES[1].model_copy(update={"text": "改过的一句"})]
    _, made = build_segments(edited, moved, cache, width=W, height=H, fps=FPS)
    assert made == 1
    _, made = build_segments(edited, moved, cache, width=W, height=H, fps=FPS, force=True)
    assert made == 3


def test_font_fallback_in_a_segment_is_an_error(
    parts: tuple[list[Path], Path, Path], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    clips, _, _ = parts
    real = segments.ass_script

    def wrong_font(cues: list[Cue], width: int, height: int, title: str = "") -> str:
        return real(cues, width, height, title).replace("Noto Sans CJK SC", "No Such Font")

    monkeypatch.setattr(segments, "ass_script", wrong_font)
    cache = tmp_path / "cache"
    with pytest.raises(AssemblyError, match="font fallback"):
        build_segments([Segment(clips[0], 0.0, 1.0)], CUES, cache, width=W, height=H, fps=FPS)
    assert list(cache.iterdir()) == []  # nothing half-made is kept


@pytest.mark.slow
def test_render_edit_and_force_through_the_cache(tmp_path: Path) -> None:
    """A rendered episode keeps one segment per shot; a one-line edit encodes that shot's
    segment alone (the others are the same files); --force encodes them all again."""
    script = tmp_path / "short.zh.txt"
    script.write_text((FIXTURES / "short.zh.txt").read_text(encoding="utf-8"), encoding="utf-8")
    settings = settings_for()
    first = render_episode(script, tmp_path / "out", settings)
    cache = Path(first.episode.path).parent / SEGMENTS
    before = {p.name: p.stat().st_mtime_ns for p in cache.iterdir()}
    assert len(before) == len(first.shots)
    script.write_text(
        script.read_text(encoding="utf-8").replace("你来晚了。", "你今天又来晚了。"),
        encoding="utf-8",
    )
    edited = render_episode(script, tmp_path / "out", settings)
    after = {p.name: p.stat().st_mtime_ns for p in cache.iterdir()}
    kept = {n for n in after if before.get(n) == after[n]}
    assert len(after) == len(edited.shots) and len(kept) == len(after) - 1
    info = probe(Path(edited.episode.path))
    assert info.duration == pytest.approx(sum(r.duration for r in edited.shots), abs=1 / 25)
    assert abs(info.video_duration - info.audio_duration) <= 1 / 25
    assert "你今天又来晚了" in Path(edited.episode.srt).read_text(encoding="utf-8")
    # A damaged cached segment is encoded again, not joined into the episode.
    damaged = cache / sorted(kept)[0]
    whole = damaged.stat().st_size
    damaged.write_bytes(damaged.read_bytes()[:500])
    script.write_text(
        script.read_text(encoding="utf-8").replace("你今天又来晚了。", "你来晚了。"),
        encoding="utf-8",
    )
    reverted = render_episode(script, tmp_path / "out", settings)
    assert damaged.stat().st_size > whole // 2 and probe(damaged).video_duration > 0.5
    assert {p.name for p in cache.iterdir()} == set(before)  # the first render's segments again
    assert probe(Path(reverted.episode.path)).duration == pytest.approx(
        sum(r.duration for r in reverted.shots), abs=1 / 25
    )
    now = {p.name: p.stat().st_mtime_ns for p in cache.iterdir()}
    render_episode(script, tmp_path / "out", settings, force=True)
    forced = {p.name: p.stat().st_mtime_ns for p in cache.iterdir()}
    assert set(forced) == set(now) and all(forced[n] != now[n] for n in forced)
