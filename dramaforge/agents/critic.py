"""The critic: cheap, objective checks on every take, naming the stage at fault.

Checks run in pipeline order (voice, keyframe, motion) so the earliest broken stage is the
one sent back: a bad voice track changes the shot's length, which changes the clip.

Subtitle overflow is reported, never failed: ``assemble`` wraps every cue to the safe area
and libass wraps again, so what can still overflow is a run neither can break (a long word,
a URL). That text comes from the script, and no retry of the keyframe, the clip or the voice
would change it, so it is a note on a passing take (and in the episode review), not a retry.
"""

from __future__ import annotations

import dataclasses
import math
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from PIL import Image, ImageStat, UnidentifiedImageError
from pydantic import ValidationError

import dramaforge
from dramaforge.agents import identity
from dramaforge.errors import AssemblyError
from dramaforge.media.analysis import (
    clipped_fraction,
    flicker,
    frame_lumas,
    read_audio,
    rms_dbfs,
    video_stats,
)
from dramaforge.media.audio import measure_loudness
from dramaforge.media.mouths import speaker_sync
from dramaforge.media.probe import MediaInfo, probe
from dramaforge.media.store import AssetStore, atomic_write, content_key, file_digest
from dramaforge.media.subtitle_fit import overflows
from dramaforge.schema import Critique, Cue, Shot, Stage, StyleBible
from dramaforge.tools.protocols import Frame


@dataclass
class Critic:
    """Heuristic reviewer. Thresholds are loose enough for a still-image animatic.

    ``voice_lufs`` is where a voice take should sit before the mix (EBU R128 integrated):
    offline takes measure -19 to -12 LUFS, and the final loudnorm evens out the rest, so only
    a take outside ``voice_lufs_tolerance`` of it (a whisper, or a track driven into the
    ceiling) is sent back. ``flicker_luma``: offline camera moves change the mean luma by
    under 0.5 (of 255) a frame and never reverse by more than 0.25; a flickering clip reverses
    by several levels on alternate frames, ``flicker_reversals`` times or more.
    """

    name: str = "local:heuristic"
    duration_tolerance: float = 0.15
    black_luma: float = 12.0
    frozen_diff: float = 0.05
    silent_dbfs: float = -50.0
    max_clipped: float = 0.001
    voice_lufs: float = -18.0
    voice_lufs_tolerance: float = 8.0
    flicker_luma: float = 4.0
    flicker_reversals: int = 3
    aspect_tolerance: float = 0.02
    min_scale: float = 0.95  # a clip smaller than this share of the frame would be upscaled
    min_sync: float = 0.5
    """Lowest correlation of an on-screen speaker's mouth opening with their voice's loudness
    (``media/mouths.py``); the offline examples measure 0.92-0.98, a frozen mouth 0."""
    store: AssetStore | None = field(default=None, repr=False, compare=False)
    bible: StyleBible | None = field(default=None, repr=False, compare=False)

    def with_bible(self, bible: StyleBible) -> Critic:
        """The same reviewer, told the characters' reference pictures (the identity check)."""
        return dataclasses.replace(self, bible=bible)

    def with_store(self, store: AssetStore) -> Critic:
        """The same reviewer, keeping each verdict in ``store`` beside the takes it judged.

        After a one-line edit every cached take passes the critic again (the edit is a new
        run of the graph); in a fresh process that meant decoding every clip, keyframe and
        voice again, most of an edit's CPU. A verdict is kept under the files' identity
        (path, size, modification time: store files are never rewritten), the facts checked
        against, these thresholds and the package version, so any change checks again."""
        return dataclasses.replace(self, store=store)

    def review_keyframe(
        self, shot: Shot, *, keyframe: Path, asset_key: str | None = None
    ) -> Critique:
        verdict = self._keyframe_verdict(keyframe)
        references = self._references(shot)
        if not verdict.passed or not references:
            return verdict
        facts = {"references": {n: file_digest(p) for n, p in references.items()}}
        return self._remembered(
            "identity-check",
            [keyframe],
            facts | {"in_frame": len(shot.visible())},
            lambda: self._identity(keyframe, references, len(shot.visible())),
        )

    def _references(self, shot: Shot) -> dict[str, Path]:
        """The reference pictures (series bible) of the characters in frame."""
        if self.bible is None:
            return {}
        looks = self.bible.characters
        return {
            n: Path(ref)
            for n in shot.visible()
            if n in looks and (ref := looks[n].reference_image) and Path(ref).is_file()
        }

    def _identity(self, keyframe: Path, references: dict[str, Path], in_frame: int) -> Critique:
        """Redraw a keyframe whose characters do not look like themselves before the clip is
        paid for. A copy of a reference picture is noted (the episode's identity report
        leaves it out): a redraw from the same reference may well copy it again."""
        seen = identity.judge(keyframe, references, in_frame)
        issues = [
            f"{name} does not look like their reference ({score:.2f}, needs "
            f"{identity.LIKENESS[seen.kinds[name]]:.2f})"
            for name, score in seen.below().items()
        ]
        notes = [f"the keyframe copies {name}'s reference picture" for name in seen.copies]
        likeness = min(seen.scores.values(), default=None)
        if issues:
            return Critique(
                passed=False,
                score=0.0,
                issues=issues + notes,
                stage_at_fault="keyframe",
                reviewer=self.name,
                identity=likeness,
            )
        return Critique(passed=True, score=1.0, issues=notes, reviewer=self.name, identity=likeness)

    def _keyframe_verdict(self, keyframe: Path) -> Critique:
        """The keyframe's check, remembered: the inspect stage asks before the clip is made
        and the take's review asks again, and the second answer costs no decode of the PNG."""
        return self._remembered(
            "keyframe-check", [keyframe], {}, lambda: self._judge_keyframe(keyframe)
        )

    def _judge_keyframe(self, keyframe: Path) -> Critique:
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
        frame: Frame | None = None,
    ) -> Critique:
        """The first failing stage in pipeline order, plus any notes that need no retry.

        Without ``frame`` the clip's size is not checked (nothing to check it against) and
        subtitles are measured at the clip's own size.
        """
        cues = cues or []
        lines = speaking(shot, cues)
        facts = {
            "duration": duration,
            "cues": [c.model_dump(mode="json") for c in cues],
            "frame": list(frame) if frame else None,
            "speaking": lines,
        }
        return self._remembered(
            "take-check",
            [keyframe, motion, voice],
            facts,
            lambda: self._judge(keyframe, motion, voice, duration, cues, frame, lines),
        )

    def _judge(
        self,
        keyframe: Path,
        motion: Path,
        voice: Path,
        duration: float,
        cues: list[Cue],
        frame: Frame | None,
        lines: dict[str, list[tuple[float, float]]] | None = None,
    ) -> Critique:
        sync: list[float] = []
        checks: list[tuple[Stage, Callable[[], list[str]]]] = [
            ("voice", lambda: self._voice(voice, duration, cues)),
            ("keyframe", lambda: self._keyframe_verdict(keyframe).issues),
            ("motion", lambda: self._motion(motion, duration, frame)),
            ("lipsync", lambda: self._sync(motion, voice, lines or {}, sync, notes)),
        ]
        notes = self._subtitles(cues, frame, motion)
        for stage, check in checks:
            issues = check()
            if issues:
                return Critique(
                    passed=False,
                    score=0.0,
                    issues=issues + notes,
                    stage_at_fault=stage,
                    reviewer=self.name,
                    sync=sync[0] if sync else None,
                )
        return Critique(
            passed=True,
            score=1.0,
            issues=notes,
            reviewer=self.name,
            sync=sync[0] if sync else None,
        )

    def _sync(
        self,
        motion: Path,
        voice: Path,
        lines: dict[str, list[tuple[float, float]]],
        measured: list[float],
        notes: list[str],
    ) -> list[str]:
        """Each on-screen speaker's mouth against their voice; the worst goes in ``measured``.
        A clip where no face is found is noted, not failed: no retry would make one found."""
        if not lines:
            return []
        try:
            scores = speaker_sync(motion, voice, round(probe(motion).fps) or 25, lines)
        except AssemblyError as err:
            return [f"lip sync not measured: {err}"]
        if not scores:
            notes.append(
                "lip sync not measured: no face found in the clip (real faces need the "
                "'faces' extra)"
            )
            return []
        worst = min(scores, key=lambda s: scores[s])
        measured.append(round(scores[worst], 3))
        if scores[worst] >= self.min_sync:
            return []
        return [
            f"lips out of sync: {worst}'s mouth follows their voice at {scores[worst]:.2f} "
            f"(needs {self.min_sync:.2f})"
        ]

    def _remembered(
        self, kind: str, files: list[Path], facts: dict[str, object], judge: Callable[[], Critique]
    ) -> Critique:
        """``judge()``, or the verdict kept for the same unchanged files and facts."""
        kept = self._kept(kind, files, facts)
        if kept is not None and kept.is_file():
            try:
                return Critique.model_validate_json(kept.read_text(encoding="utf-8"))
            except (OSError, ValidationError):
                pass  # a damaged entry: judge again and replace it
        critique = judge()
        if kept is not None:
            atomic_write(kept, critique.model_dump_json())
        return critique

    def _kept(self, kind: str, files: list[Path], facts: dict[str, object]) -> Path | None:
        if self.store is None:
            return None
        identity = []
        for path in files:
            try:
                st = path.stat()
            except OSError:
                return None  # a missing file is judged (and reported), never remembered
            identity.append([str(path.resolve()), st.st_size, st.st_mtime_ns])
        thresholds = {f.name: getattr(self, f.name) for f in dataclasses.fields(self)}
        del thresholds["store"], thresholds["bible"]
        payload = {
            "files": identity,
            "facts": facts,
            "critic": thresholds,
            "version": dramaforge.__version__,
        }
        return self.store.path("check", content_key(kind, self.name, payload), "json")

    def _voice(self, path: Path, duration: float, cues: list[Cue]) -> list[str]:
        """Length, clipping, loudness, and speech present while each line's subtitle is up."""
        try:
            samples, rate = read_audio(path)
        except AssemblyError as err:
            return [f"voice track does not decode: {err}"]
        issues = []
        length = samples.shape[1] / rate if rate else 0.0
        if abs(length - duration) > self.duration_tolerance:
            issues.append(f"voice track is {length:.2f}s, shot is {duration:.2f}s")
        spoken = [n for n, c in enumerate(cues, start=1) if any(ch.isalnum() for ch in c.text)]
        for n, cue in enumerate(cues, start=1):
            if n not in spoken:
                continue  # a beat of silence ("……") is meant to be silent
            window = samples[:, int(cue.start * rate) : int(cue.end * rate)]
            level = rms_dbfs(window)
            if level < self.silent_dbfs:
                issues.append(f"line {n} is silent ({level:.0f} dBFS): {cue.text[:20]}")
        clipped = clipped_fraction(samples)
        if clipped > self.max_clipped:
            issues.append(f"voice clips on {clipped:.2%} of samples")
        if spoken and not issues:
            issues += self._loudness(path)
        return issues

    def _loudness(self, path: Path) -> list[str]:
        try:
            lufs = measure_loudness(path).integrated
        except AssemblyError as err:
            return [f"voice loudness cannot be measured: {err}"]
        if not math.isfinite(lufs):
            return ["voice track is silent"]
        off = lufs - self.voice_lufs
        if abs(off) <= self.voice_lufs_tolerance:
            return []
        word = "quiet" if off < 0 else "loud"
        return [
            f"voice is too {word}: {lufs:.1f} LUFS, expected {self.voice_lufs:.0f} "
            f"± {self.voice_lufs_tolerance:.0f}"
        ]

    def _keyframe(self, path: Path) -> list[str]:
        try:
            with Image.open(path) as img:
                luma = ImageStat.Stat(img.convert("L")).mean[0]
        except (OSError, UnidentifiedImageError) as err:
            return [f"keyframe does not decode: {err}"]
        if luma < self.black_luma:
            return [f"keyframe is black (mean luma {luma:.1f})"]
        return []

    def _motion(self, path: Path, duration: float, frame: Frame | None) -> list[str]:
        try:
            info = probe(path)
            stats = video_stats(path)
            lumas = frame_lumas(path)
        except AssemblyError as err:
            return [f"clip does not decode: {err}"]
        issues = []
        if abs(info.duration - duration) > self.duration_tolerance:
            issues.append(f"clip is {info.duration:.2f}s, shot is {duration:.2f}s")
        if frame is not None:
            issues += self._frame(info, frame)
        if stats.black_fraction > 0.5:
            issues.append(f"clip is black in {stats.black_fraction:.0%} of sampled frames")
        elif stats.motion < self.frozen_diff:
            issues.append(f"clip is frozen (mean frame change {stats.motion:.3f})")
        flick = flicker(lumas, self.flicker_luma)
        if flick.reversals >= self.flicker_reversals:
            issues.append(
                f"clip flickers: luma reverses by more than {self.flicker_luma:g} on "
                f"{flick.reversals} of {flick.frames} frames (largest {flick.largest:.1f})"
            )
        return issues

    def _frame(self, info: MediaInfo, frame: Frame) -> list[str]:
        """Aspect (display, with the pixel aspect) and size against the render's frame."""
        width, height = frame
        num, _, den = info.sar.partition(":")
        sar = int(num) / int(den) if num.isdigit() and den.isdigit() and int(num) else 1.0
        shape = info.width * sar / max(info.height, 1)
        want = width / height
        if abs(shape / want - 1) > self.aspect_tolerance:
            lost = 1 - min(shape, want) / max(shape, want)
            return [
                f"clip is {info.width}x{info.height} ({shape:.2f}:1), the render is "
                f"{width}x{height} ({want:.2f}:1): filling the frame would crop {lost:.0%}"
            ]
        if info.width < width * self.min_scale or info.height < height * self.min_scale:
            return [
                f"clip is {info.width}x{info.height}, smaller than the {width}x{height} "
                "render: it would be upscaled"
            ]
        return []

    def _subtitles(self, cues: list[Cue], frame: Frame | None, motion: Path) -> list[str]:
        if not cues:
            return []
        if frame is None:
            try:
                info = probe(motion)
            except AssemblyError:
                return []
            frame = (info.width, info.height)
        if not all(frame):
            return []
        return [
            f"subtitle overflows the safe area ({o.width:.0f} of {o.safe:.0f} px, the script "
            f"must break it): {o.text[:40]}"
            for cue in cues
            for o in overflows(cue.text, *frame)
        ]


def speaking(shot: Shot, cues: list[Cue]) -> dict[str, list[tuple[float, float]]]:
    """On-screen speakers and the spans of their lines: whose lips must move, and when."""
    lines: dict[str, list[tuple[float, float]]] = {}
    for line, cue in zip(shot.lines, cues, strict=False):
        if shot.on_screen(line) and line.speaker:
            lines.setdefault(line.speaker, []).append((cue.start, cue.end))
    return lines


def best_take_index(scores: list[float]) -> int:
    """The best take wins; on a tie, the latest (it had the critic's feedback)."""
    return max(range(len(scores)), key=lambda i: (scores[i], i))
