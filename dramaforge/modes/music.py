"""Music to video: a track's beats and sections decide the cut; the track is the soundtrack.

``render --audio track.mp3 --brief "…"``: librosa finds the tempo, the beats (each snapped to
the nearest onset, so a cut lands on the transient, not on the analysis hop) and the sections
(agglomerative segmentation of MFCCs). Shots span whole bars (two beats where the music is
slow), every cut falls on the frame nearest a beat, and the brief's visuals follow each
other over the track, cycling through framings. All shots are silent: the track plays under
them whole, from its first sample, and ambience is left out.
"""

from __future__ import annotations

import re
import tempfile
from dataclasses import dataclass, replace
from itertools import pairwise
from pathlib import Path
from typing import Any

import numpy as np

from dramaforge import prompts
from dramaforge.agents.director import FRAMING_WORDS
from dramaforge.config import Settings
from dramaforge.errors import ConfigError, ScriptError
from dramaforge.media.audio import RATE, WAV16, fit_audio
from dramaforge.media.ffmpeg import run_ffmpeg
from dramaforge.modes.runner import PLAIN, RunArgs, write_script
from dramaforge.modes.shared import Delegating, FromFile
from dramaforge.schema import CameraMove, Framing, Language, Manifest, Script, ShotPlan
from dramaforge.script.detect import detect_language
from dramaforge.script.prose import split_sentences
from dramaforge.tools.protocols import Generated, SoundRequest, TaskJournal

SR = 22050
SNAP = 0.06  # a beat moves to an onset at most this far away
MIN_SHOT = 0.9
FRAMINGS: tuple[Framing, ...] = ("wide", "medium", "close_up", "insert")
MOVES: tuple[CameraMove, ...] = ("zoom_in", "pan_right", "static", "pan_left", "zoom_out")


@dataclass
class Beats:
    tempo: float
    beats: list[float]
    sections: list[float]
    """Start time of each section, the first at 0."""
    loud: list[bool]
    """Per section: louder than the track's median (shorter shots there)."""
    duration: float


def _librosa() -> Any:
    try:
        import librosa
    except ImportError as err:  # pragma: no cover - depends on the installed extras
        raise ConfigError("music mode needs librosa: pip install 'dramaforge[music]'") from err
    return librosa


def analyse(track: Path) -> Beats:
    """Tempo, beats, sections of ``track`` (any format ffmpeg reads)."""
    librosa = _librosa()
    with tempfile.TemporaryDirectory(prefix="dramaforge-beats-") as tmp:
        wav = Path(tmp) / "mono.wav"
        run_ffmpeg(
            ["-i", track, "-vn", "-ac", "1", "-ar", str(SR), "-c:a", "pcm_s16le", wav],
            what=f"decoding {track.name}",
        )
        y, sr = librosa.load(str(wav), sr=SR, mono=True)
    duration = len(y) / sr
    if duration < 2.0:
        raise ScriptError("the track is under 2 seconds; give a piece of music", path=str(track))
    tempo, beats = librosa.beat.beat_track(y=y, sr=sr, units="time")
    onsets = librosa.onset.onset_detect(y=y, sr=sr, hop_length=128, units="time")
    snapped = [_snap(float(b), onsets) for b in beats]
    mfcc = librosa.feature.mfcc(y=y, sr=sr)
    k = int(min(8, max(1, round(duration / 15))))
    bounds = librosa.frames_to_time(librosa.segment.agglomerative(mfcc, k), sr=sr)
    starts = sorted({0.0, *[float(b) for b in bounds if 2.0 < b < duration - 2.0]})
    rms = librosa.feature.rms(y=y)[0]
    times = librosa.times_like(rms, sr=sr)
    median = float(np.median(rms))
    ends = [*starts[1:], duration]
    loud = [
        float(np.mean(rms[(times >= a) & (times < b)] if b > a else 0)) > median
        for a, b in zip(starts, ends, strict=True)
    ]
    return Beats(float(np.atleast_1d(tempo)[0]), snapped, starts, loud, duration)


def _snap(beat: float, onsets: Any) -> float:
    if len(onsets) == 0:
        return beat
    nearest = float(onsets[int(np.argmin(np.abs(onsets - beat)))])
    return nearest if abs(nearest - beat) <= SNAP else beat


def cut_frames(grid: Beats, fps: int, until: float | None = None) -> list[int]:
    """Frame numbers of the cuts (the first 0, the last the end): a cut every bar (four
    beats; two in loud sections of slow music, so a chorus moves faster), each on the frame
    nearest its beat, never leaving a shot under MIN_SHOT."""
    end = min(grid.duration, until or grid.duration)
    spb = 60.0 / grid.tempo if grid.tempo > 0 else 0.5
    cuts, last = [0], 0.0
    for beat in grid.beats:
        section = max(j for j, s in enumerate(grid.sections) if s <= beat)
        per = 2 if grid.loud[section] and 4 * spb > 2.4 else 4
        if beat - last < max(per * spb * 0.9, MIN_SHOT) or end - beat < MIN_SHOT:
            continue
        cuts.append(round(beat * fps))
        last = beat
    return sorted({*cuts, round(end * fps)})


@dataclass
class MusicDirector(Delegating):
    """Plans shots to the beat grid; the visuals come from the inner director's plan of the
    brief, in order over the track, each held for several shots that cycle through framings
    and camera moves."""

    grid: Beats
    fps: int
    until: float | None = None

    def __post_init__(self) -> None:
        self.name = f"{self.inner.name}+beats"

    def direct(self, script: Script) -> ShotPlan:
        base = self.inner.direct(script).shots
        cuts = cut_frames(self.grid, self.fps, self.until)
        shots = []
        for n, (a, b) in enumerate(pairwise(cuts)):
            # The brief's visuals follow each other over the length of the track.
            source = base[min(a * len(base) // max(cuts[-1], 1), len(base) - 1)]
            framing = FRAMINGS[n % len(FRAMINGS)]
            prompt = prompts.render(
                "shot",
                script.language,
                framing=FRAMING_WORDS[script.language][framing],
                setting=source.scene_heading,
                cast="",
                action=source.action,
            )
            shots.append(
                source.model_copy(
                    update={
                        "id": f"m{n + 1:03d}",
                        "index": n + 1,
                        "scene_index": 1,
                        "duration": (b - a) / self.fps,
                        "framing": framing,
                        "camera": MOVES[n % len(MOVES)],
                        "visual_prompt": prompt,
                        "lines": [],
                        "sfx": [],
                        "music": "track",
                        "characters": [],
                        "focus": None,
                    }
                )
            )
        return ShotPlan(
            title=script.title, language=script.language, shots=shots, director=self.name
        )


@dataclass
class TrackSound(FromFile):
    """The sound backend for a music video: the track (``source``) itself as the music, from
    its start, and silence for ambience and effects (the track is the whole soundtrack)."""

    KIND = "track"

    def generate(
        self, request: SoundRequest, dest: Path, journal: TaskJournal | None = None
    ) -> Generated:
        if request.kind == "music":
            fit_audio(self.source, request.duration, dest)
        else:
            samples = round(request.duration * RATE)
            run_ffmpeg(
                [
                    *("-f", "lavfi", "-i", f"anullsrc=r={RATE}:cl=stereo"),
                    *("-af", f"atrim=end_sample={samples}"),
                    *WAV16,
                    dest,
                ],
                what="silence under a music video",
            )
        return Generated(duration=request.duration, model=self.name)


def music_script(brief: str, title: str, language: Language) -> str:
    """One scene per sentence of the brief: what each section of the track shows."""
    sentences = [s.strip() for _, s in split_sentences(brief) if s.strip()] or [title]
    scene, visual = (
        ("[Scene {n}] {t}", "[Visual] {s}")
        if language == "en"
        else ("【场景{n}】{t}", "【画面】{s}")
    )
    lines = [f"[Title] {title}" if language == "en" else f"【标题】{title}"]
    for n, s in enumerate(sentences, start=1):  # the sentence names its place, too
        lines += [scene.format(n=n, t=s.rstrip("。.!！?？")[:40]), visual.format(s=s)]
    return "\n".join(lines)


def render_music(
    track: Path,
    brief: str,
    out: Path,
    settings: Settings,
    *,
    duration: float | None = None,
    run: RunArgs = PLAIN,
) -> tuple[Path, Manifest]:
    """Cut a video to ``track`` into ``OUT/<track name>/`` (up to ``duration`` seconds)."""
    if not track.is_file():
        raise ScriptError("no such audio file", path=str(track))
    if not brief.strip():
        raise ScriptError('give --brief "what the video shows"')
    grid = analyse(track)
    name = re.sub(r"[^\w\-]+", "_", track.stem).strip("_") or "music"
    language = settings.render.language or detect_language(brief)
    script_path = write_script(out, name, music_script(brief, name, language))
    base = run.base(settings, out)
    director = MusicDirector(base.director, grid, settings.render.fps, duration)
    ctx = replace(base, director=director, sound=TrackSound(track.resolve()))
    return script_path, run.render(script_path, out, settings, context=ctx, episode=name)
