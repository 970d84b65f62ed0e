"""The critic at episode scope: the assembled file measured against what was asked for.

Shots can each pass and the episode still be wrong: a cut longer than planned, a mix off
its loudness target, audio and video streams of different lengths, a subtitle shown over
silence. These are measured on the final MP4 and its SRT. The result is a report in the
manifest and the storyboard; a failing review never deletes or re-renders anything.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from pydantic import BaseModel

from dramaforge.media.analysis import speech_levels
from dramaforge.media.audio import Loudness, measure_loudness
from dramaforge.media.probe import probe
from dramaforge.media.subtitle_fit import overflows
from dramaforge.media.subtitle_timing import MIN_CUE
from dramaforge.media.subtitles import MAX_LINES, read_srt
from dramaforge.schema import CueSpeech, EpisodeReview, ReviewCheck

HOP = 0.05  # seconds per speech-energy frame


class Targets(BaseModel):
    """What the episode was asked to be."""

    planned: float
    """Seconds the director planned (the sum of the plan's shot durations)."""
    shots: float
    """Seconds of the chosen takes the editor was given."""
    limit: float | None = None
    """The shortest duration a delivery channel of this aspect allows, if the script set one."""
    fps: int
    width: int
    height: int
    lufs: float
    true_peak: float


@dataclass
class EpisodeCritic:
    """Thresholds for the episode review.

    ``plan_tolerance``: shot lengths follow the speech actually made, so they differ from the
    director's estimate (offline renders measured 5 to 23 % short of plan); past 30 % the
    plan (and its cost estimate) was wrong. ``lufs_tolerance`` is EBU R128's ±1 LU;
    ``peak_tolerance`` leaves room for the AAC decoder's overshoot over the ceiling.
    ``bed_margin_db``: a 50 ms frame counts as speech when its speech-band energy is this far
    above the median of the frames outside every cue (the music and ambience alone);
    offline, cues measure 52 to 90 % speech, and a cue whose line is missing from the mix
    has almost none, so a cue under ``min_speech`` is shown over silence or music.
    """

    plan_tolerance: float = 0.30
    lufs_tolerance: float = 1.0
    peak_tolerance: float = 0.5
    bed_margin_db: float = 6.0
    min_speech: float = 0.25

    def review(
        self, video: Path, srt: Path, targets: Targets, loudness: Loudness | None = None
    ) -> EpisodeReview:
        """Measure ``video`` against ``targets``. ``loudness``: the file's loudness if the
        editor already measured it (on the finished file's audio), so it is not read twice."""
        info = probe(video)
        checks = [*self._duration(info.duration, targets)]
        loud = loudness if loudness is not None else measure_loudness(video)
        checks += self._loudness(loud.integrated, loud.true_peak, targets)
        drift = abs(info.video_duration - info.audio_duration)
        frame = 1.0 / targets.fps
        checks.append(
            ReviewCheck(
                name="av_sync",
                passed=drift <= frame + 1e-3,
                measured=round(drift, 3),
                target=round(frame, 3),
                unit="s",
                detail=f"video {info.video_duration:.3f}s, audio {info.audio_duration:.3f}s",
            )
        )
        cues = self._speech_under_cues(video, srt)
        quiet = [c for c in cues if c.speech < self.min_speech]
        checks.append(
            ReviewCheck(
                name="subtitle_timing",
                passed=not quiet,
                measured=round(min((c.speech for c in cues), default=1.0), 2),
                target=self.min_speech,
                detail="; ".join(
                    f"cue {c.index} ({c.start:.2f}-{c.end:.2f}s) has speech under "
                    f"{c.speech:.0%} of it: {c.text[:20]}"
                    for c in quiet
                ),
            )
        )
        short = [c for c in cues if c.end - c.start < MIN_CUE - 1e-3]
        crowded = [c for c in cues if len(c.text.splitlines()) > MAX_LINES]
        checks.append(
            ReviewCheck(
                name="subtitle_reading",
                passed=not short and not crowded,
                measured=round(min((c.end - c.start for c in cues), default=MIN_CUE), 3),
                target=MIN_CUE,
                unit="s",
                detail="; ".join(
                    [f"cue {c.index} is up {c.end - c.start:.2f}s: {c.text[:20]}" for c in short]
                    + [f"cue {c.index} has {len(c.text.splitlines())} lines" for c in crowded]
                ),
            )
        )
        over = [o for c in cues for o in overflows(c.text, targets.width, targets.height)]
        checks.append(
            ReviewCheck(
                name="subtitle_overflow",
                passed=not over,
                measured=float(len(over)),
                target=0.0,
                detail="; ".join(f"{o.text[:40]} ({o.width:.0f} of {o.safe:.0f} px)" for o in over),
            )
        )
        return EpisodeReview(passed=all(c.passed for c in checks), checks=checks, cues=cues)

    def _duration(self, measured: float, t: Targets) -> list[ReviewCheck]:
        off = (measured - t.planned) / t.planned if t.planned else 0.0
        checks = [
            ReviewCheck(
                name="duration",
                passed=abs(off) <= self.plan_tolerance,
                measured=round(measured, 3),
                target=round(t.planned, 3),
                unit="s",
                detail=f"{off:+.0%} against the plan",
            ),
            ReviewCheck(
                name="cut",
                passed=abs(measured - t.shots) <= 1.0 / t.fps + 1e-3,
                measured=round(measured, 3),
                target=round(t.shots, 3),
                unit="s",
                detail="the file against the chosen takes laid end to end",
            ),
        ]
        if t.limit is not None:
            checks.append(
                ReviewCheck(
                    name="channel_limit",
                    passed=measured <= t.limit + 1.0 / t.fps,
                    measured=round(measured, 3),
                    target=t.limit,
                    unit="s",
                    detail="the shortest delivery channel of this aspect",
                )
            )
        return checks

    def _loudness(self, lufs: float, peak: float, t: Targets) -> list[ReviewCheck]:
        heard = math.isfinite(lufs)
        return [
            ReviewCheck(
                name="loudness",
                passed=heard and abs(lufs - t.lufs) <= self.lufs_tolerance,
                measured=round(lufs, 2) if heard else None,
                target=t.lufs,
                unit="LUFS",
                detail="integrated, EBU R128" if heard else "the episode is silent",
            ),
            ReviewCheck(
                name="true_peak",
                passed=not math.isfinite(peak) or peak <= t.true_peak + self.peak_tolerance,
                measured=round(peak, 2) if math.isfinite(peak) else None,
                target=t.true_peak,
                unit="dBTP",
            ),
        ]

    def _speech_under_cues(self, video: Path, srt: Path) -> list[CueSpeech]:
        """Each cue with the share of its frames where the mix carries speech energy."""
        cues = read_srt(srt) if srt.is_file() else []
        if not cues:
            return []
        levels = speech_levels(video, HOP)
        spans = [(int(c.start / HOP), max(int(c.end / HOP), int(c.start / HOP) + 1)) for c in cues]
        outside = np.ones(len(levels), dtype=bool)
        for a, b in spans:
            outside[a:b] = False
        bed = levels[outside] if outside.sum() >= 10 else levels
        floor = float(np.median(bed)) if bed.size else 0.0
        speech = levels > floor + self.bed_margin_db
        return [
            CueSpeech(
                index=n,
                start=c.start,
                end=c.end,
                text=c.text,
                speech=round(float(speech[a:b].mean()) if speech[a:b].size else 0.0, 3),
            )
            for n, ((a, b), c) in enumerate(zip(spans, cues, strict=True), start=1)
        ]
