"""The critic: cheap, objective checks on every take, naming the stage at fault.

Checks run in pipeline order (voice, keyframe, motion) so the earliest broken stage is the
one sent back: a bad voice track changes the shot's length, which changes the clip.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Protocol

from PIL import Image, ImageStat, UnidentifiedImageError

from dramaforge.errors import AssemblyError
from dramaforge.schema import Critique, Cue, Shot, Stage, StyleBible
from dramaforge.tools.media.analysis import clipped_fraction, read_audio, rms_dbfs, video_stats
from dramaforge.tools.media.probe import probe


class Reviewer(Protocol):
    """What the graph's critic node needs: the heuristic Critic, a vision critic, a plugin."""

    name: str

    def with_bible(self, bible: StyleBible) -> Reviewer:
        """The same reviewer, told the episode's characters and look."""
        ...

    def review_keyframe(self, shot: Shot, *, keyframe: Path) -> Critique:
        """Judge the keyframe alone, before it is sent to the (far dearer) video model."""
        ...

    def review(
        self,
        shot: Shot,
        *,
        keyframe: Path,
        motion: Path,
        voice: Path,
        duration: float,
        cues: list[Cue] | None = None,
    ) -> Critique: ...


@dataclass
class Critic:
    """Heuristic reviewer. Thresholds are loose enough for a still-image animatic."""

    name: str = "local:heuristic"
    duration_tolerance: float = 0.15
    black_luma: float = 12.0
    frozen_diff: float = 0.05
    silent_dbfs: float = -50.0
    max_clipped: float = 0.001

    def with_bible(self, bible: StyleBible) -> Critic:
        return self  # objective checks need no cast or look

    def review_keyframe(self, shot: Shot, *, keyframe: Path) -> Critique:
        issues = self._keyframe(keyframe)
        if issues:
            return Critique(
                passed=False,
                score=0.0,
                issues=issues,
                stage_at_fault="keyframe",
                reviewer=self.name,
            )
        return Critique(passed=True, score=1.0, reviewer=self.name)

    def review(
        self,
        shot: Shot,
        *,
        keyframe: Path,
        motion: Path,
        voice: Path,
        duration: float,
        cues: list[Cue] | None = None,
    ) -> Critique:
        checks: list[tuple[Stage, Callable[[], list[str]]]] = [
            ("voice", lambda: self._voice(voice, duration, cues or [])),
            ("keyframe", lambda: self._keyframe(keyframe)),
            ("motion", lambda: self._motion(motion, duration)),
        ]
        for stage, check in checks:
            issues = check()
            if issues:
                return Critique(
                    passed=False,
                    score=0.0,
                    issues=issues,
                    stage_at_fault=stage,
                    reviewer=self.name,
                )
        return Critique(passed=True, score=1.0, reviewer=self.name)

    def _voice(self, path: Path, duration: float, cues: list[Cue]) -> list[str]:
        """Length, clipping, and speech actually present while each line's subtitle is up."""
        try:
            samples, rate = read_audio(path)
        except AssemblyError as err:
            return [f"voice track does not decode: {err}"]
        issues = []
        length = samples.shape[1] / rate if rate else 0.0
        if abs(length - duration) > self.duration_tolerance:
            issues.append(f"voice track is {length:.2f}s, shot is {duration:.2f}s")
        for n, cue in enumerate(cues, start=1):
            if not any(ch.isalnum() for ch in cue.text):
                continue  # a beat of silence ("……") is meant to be silent
            window = samples[:, int(cue.start * rate) : int(cue.end * rate)]
            level = rms_dbfs(window)
            if level < self.silent_dbfs:
                issues.append(f"line {n} is silent ({level:.0f} dBFS): {cue.text[:20]}")
        clipped = clipped_fraction(samples)
        if clipped > self.max_clipped:
            issues.append(f"voice clips on {clipped:.2%} of samples")
        return issues

    def _keyframe(self, path: Path) -> list[str]:
        try:
            with Image.open(path) as img:
                luma = ImageStat.Stat(img.convert("L")).mean[0]
        except (OSError, UnidentifiedImageError) as err:
            return [f"keyframe does not decode: {err}"]
        if luma < self.black_luma:
            return [f"keyframe is black (mean luma {luma:.1f})"]
        return []

    def _motion(self, path: Path, duration: float) -> list[str]:
        try:
            info = probe(path)
            stats = video_stats(path)
        except AssemblyError as err:
            return [f"clip does not decode: {err}"]
        issues = []
        if abs(info.duration - duration) > self.duration_tolerance:
            issues.append(f"clip is {info.duration:.2f}s, shot is {duration:.2f}s")
        if stats.black_fraction > 0.5:
            issues.append(f"clip is black in {stats.black_fraction:.0%} of sampled frames")
        elif stats.motion < self.frozen_diff:
            issues.append(f"clip is frozen (mean frame change {stats.motion:.3f})")
        return issues


def best_take_index(scores: list[float]) -> int:
    """The best take wins; on a tie, the latest (it had the critic's feedback)."""
    return max(range(len(scores)), key=lambda i: (scores[i], i))
