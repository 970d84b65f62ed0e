"""The critic's cheap checks on one real take: flicker, voice loudness, frame, subtitle width.

The take is made by the offline backends (a storyboard keyframe, a camera move over it, a
spoken line laid on the shot's timeline); each failure is injected into a copy with ffmpeg.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from dramaforge.agents.critic import Critic
from dramaforge.media.analysis import flicker, frame_at, frame_lumas
from dramaforge.media.audio import measure_loudness, sequence_audio
from dramaforge.media.ffmpeg import run_ffmpeg
from dramaforge.media.store import AssetStore
from dramaforge.media.subtitle_fit import overflows, text_width
from dramaforge.media.subtitles import subtitle_filter, write_srt
from dramaforge.schema import Critique, Cue, Shot
from dramaforge.tools.local.motion import MotionBackend
from dramaforge.tools.local.speech import LocalSpeech
from dramaforge.tools.local.storyboard import StoryboardBackend
from dramaforge.tools.protocols import ImageRequest, SpeechRequest, VideoRequest

FPS = 25
FRAME = (360, 640)
LINE = "早上好，今天的作业你写完了吗？"
URL = "https://www.example.com/products/aurora-thermos"


@dataclass(frozen=True)
class TakeFiles:
    keyframe: Path
    motion: Path
    voice: Path
    duration: float
    cues: list[Cue]


SHOT = Shot(
    id="s01-01",
    index=0,
    scene_index=1,
    scene_heading="教室 - 白天 - 内",
    duration=3.0,
    framing="medium",
    camera="zoom_in",
    visual_prompt="阿明推门进来",
    characters=["阿明"],
)


def _clip(keyframe: Path, dest: Path, size: tuple[int, int], duration: float) -> Path:
    request = VideoRequest(
        prompt="zoom_in", keyframe=str(keyframe), width=size[0], height=size[1], fps=FPS,
        duration=duration, camera="zoom_in", seed=1,
    )  # fmt: skip
    MotionBackend().generate(request, dest)
    return dest


@pytest.fixture(scope="module")
def take(tmp_path_factory: pytest.TempPathFactory) -> TakeFiles:
    root = tmp_path_factory.mktemp("take")
    keyframe = root / "key.png"
    StoryboardBackend().generate(
        ImageRequest(
            prompt="阿明推门进来", width=432, height=768, seed=3, framing="medium",
            scene_heading=SHOT.scene_heading, characters={"阿明": ("#e4572e", 0)}, focus="阿明",
        ),
        keyframe,
    )  # fmt: skip
    speech = LocalSpeech()
    line = root / "line.wav"
    spoken = speech.synthesize(
        SpeechRequest(text=LINE, language="zh", voice=speech.voices("zh")[1]), line
    ).duration
    assert spoken
    duration = round((0.3 + spoken + 0.5) * FPS) / FPS
    voice = root / "voice.wav"
    sequence_audio([(line, 0.3)], duration, voice)
    motion = _clip(keyframe, root / "clip.mp4", FRAME, duration)
    cues = [Cue(start=0.3, end=round(0.3 + spoken, 3), text=LINE)]
    return TakeFiles(keyframe, motion, voice, duration, cues)


def _review(take: TakeFiles, frame: tuple[int, int] | None = FRAME) -> Critique:
    return Critic().review(
        SHOT,
        keyframe=take.keyframe,
        motion=take.motion,
        voice=take.voice,
        duration=take.duration,
        cues=take.cues,
        frame=frame,
    )


def _filtered(src: Path, dest: Path, *, vf: str | None = None, af: str | None = None) -> Path:
    if vf:
        args = ["-i", src, "-vf", vf, "-c:v", "libx264", "-pix_fmt", "yuv420p", "-an", dest]
    else:
        args = ["-i", src, "-af", af or "anull", "-c:a", "pcm_s16le", dest]
    run_ffmpeg(args, what=f"injecting a fault into {src.name}")
    return dest


def test_clean_take_passes(take: TakeFiles) -> None:
    critique = _review(take)
    assert critique.passed and critique.issues == [], critique
    # What the thresholds sit on: an offline camera move never reverses by a quarter level.
    assert flicker(frame_lumas(take.motion), 0.0).largest < 1.0


def test_flicker_is_sent_back_to_motion_and_a_single_flash_is_not(
    take: TakeFiles, tmp_path: Path
) -> None:
    # Brightness +-0.03 on alternate frames: about 8 luma levels of jump each way.
    flickering = _filtered(
        take.motion, tmp_path / "flicker.mp4", vf="eq=brightness='0.03*(2*mod(n,2)-1)':eval=frame"
    )
    lumas = frame_lumas(flickering)
    measured = flicker(lumas, Critic().flicker_luma)
    assert measured.reversals > len(lumas) // 2 and measured.largest > 5
    critique = _review(replace(take, motion=flickering))
    assert not critique.passed and critique.stage_at_fault == "motion"
    assert "flickers" in critique.issues[0]

    # One lightning flash (two bright frames) reverses once: content, not flicker.
    flash = _filtered(
        take.motion, tmp_path / "flash.mp4", vf="eq=brightness='0.3*between(n,20,21)':eval=frame"
    )
    assert flicker(frame_lumas(flash), Critic().flicker_luma).reversals == 1
    assert _review(replace(take, motion=flash)).passed


@pytest.mark.parametrize(
    ("af", "word"),
    [("volume=-24dB", "quiet"), ("volume=14dB,alimiter=limit=0.9:level=disabled", "loud")],
)
def test_voice_loudness_against_target(take: TakeFiles, tmp_path: Path, af: str, word: str) -> None:
    changed = _filtered(take.voice, tmp_path / "voice.wav", af=af)
    level = measure_loudness(changed).integrated
    critic = Critic()
    assert abs(level - critic.voice_lufs) > critic.voice_lufs_tolerance, level
    critique = _review(replace(take, voice=changed))
    assert not critique.passed and critique.stage_at_fault == "voice"
    assert f"too {word}" in critique.issues[0] and f"{level:.1f} LUFS" in critique.issues[0]
    assert "silent" not in " ".join(critique.issues) and "clips" not in " ".join(critique.issues)


def test_clip_frame_against_the_render(take: TakeFiles, tmp_path: Path) -> None:
    landscape = _review(take, frame=(640, 360))
    assert not landscape.passed and landscape.stage_at_fault == "motion"
    assert "crop 68%" in landscape.issues[0], landscape.issues

    small = _clip(take.keyframe, tmp_path / "small.mp4", (240, 426), take.duration)
    upscaled = _review(replace(take, motion=small))
    assert not upscaled.passed and "upscaled" in upscaled.issues[0]
    assert _review(replace(take, motion=small), frame=(240, 426)).passed


def test_pillow_width_matches_libass_on_a_burned_frame(tmp_path: Path) -> None:
    """The measure the critic uses agrees with what libass actually draws."""
    width, height = FRAME
    for text in ("Supercalifragilistic", "你好世界，明天见"):
        srt = tmp_path / "cue.srt"
        write_srt([Cue(start=0.0, end=1.0, text=text)], srt)
        burned = tmp_path / "burned.mp4"
        run_ffmpeg(
            ["-f", "lavfi", "-i", f"color=black:s={width}x{height}:r={FPS}:d=1",
             "-vf", subtitle_filter(srt, width, height), "-pix_fmt", "yuv420p", burned],
            what="burning one cue",
        )  # fmt: skip
        lit = np.flatnonzero((frame_at(burned, 0.5).mean(axis=2) > 60).any(axis=0))
        drawn = lit.max() - lit.min() + 1
        assert abs(drawn - text_width(text, height, width)) <= 4, (text, drawn)


def test_subtitle_overflow_is_a_note_not_a_retry(take: TakeFiles) -> None:
    # A long Chinese line wraps (assemble and libass both break it); a URL cannot break.
    assert overflows(LINE * 4, *FRAME) == []
    [over] = overflows(f"网址是 {URL}", *FRAME)
    assert over.text == URL and over.width > over.safe == pytest.approx(0.84 * FRAME[0])
    assert overflows(f"网址是 {URL}", 1280, 720) == []  # wide enough at 720p landscape

    cues = [take.cues[0].model_copy(update={"text": f"看 {URL}"})]
    critique = _review(replace(take, cues=cues))
    assert critique.passed and critique.stage_at_fault is None
    [note] = critique.issues
    assert "overflows the safe area" in note and URL[:30] in note


def test_a_kept_verdict_is_read_back_until_a_file_or_a_fact_changes(
    take: TakeFiles, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """An edit re-runs the critic over every cached take: with a store, a take whose files,
    facts and thresholds are unchanged is not decoded again, in this process or the next."""
    store = AssetStore(tmp_path / "store")
    critic = Critic().with_store(store)
    args = {"keyframe": take.keyframe, "motion": take.motion, "voice": take.voice}
    first = critic.review(SHOT, **args, duration=take.duration, cues=take.cues, frame=FRAME)
    keyframe_check = critic.review_keyframe(SHOT, keyframe=take.keyframe)
    assert first.passed and keyframe_check.passed

    decoded: list[str] = []
    monkeypatch.setattr(Critic, "_motion", lambda *a: decoded.append("motion") or [])
    monkeypatch.setattr(Critic, "_keyframe", lambda *a: decoded.append("keyframe") or [])
    again = Critic().with_store(store)  # a new process would build a new critic
    assert again.review(SHOT, **args, duration=take.duration, cues=take.cues, frame=FRAME) == first
    assert again.review_keyframe(SHOT, keyframe=take.keyframe) == keyframe_check
    assert decoded == []

    longer = again.review(SHOT, **args, duration=take.duration + 0.5, cues=take.cues, frame=FRAME)
    assert longer.stage_at_fault == "voice"  # another duration: judged again (and too long)
    stricter = Critic(black_luma=13.0).with_store(store)
    stricter.review_keyframe(SHOT, keyframe=take.keyframe)
    assert decoded == ["keyframe"]  # other thresholds: judged again
    copy = tmp_path / "key.png"
    copy.write_bytes(take.keyframe.read_bytes())
    again.review_keyframe(SHOT, keyframe=copy)
    assert decoded == ["keyframe", "keyframe"]  # another file: judged again


def test_the_take_review_reads_the_keyframe_verdict_the_inspect_stage_left(
    take: TakeFiles, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The inspect stage checks a keyframe before its clip is made; the take's review asks
    the same question and gets the kept answer (the PNG is decoded once), failing or not."""
    decoded: list[Path] = []
    real = Critic._keyframe

    def counting(self: Critic, path: Path) -> list[str]:
        decoded.append(path)
        return real(self, path)

    monkeypatch.setattr(Critic, "_keyframe", counting)
    critic = Critic().with_store(AssetStore(tmp_path / "store"))
    args = {"keyframe": take.keyframe, "motion": take.motion, "voice": take.voice}
    assert critic.review_keyframe(SHOT, keyframe=take.keyframe).passed
    assert critic.review(SHOT, **args, duration=take.duration, cues=take.cues, frame=FRAME).passed
    assert decoded == [take.keyframe]

    black = tmp_path / "black.png"
    Image.new("RGB", (432, 768)).save(black)
    early = critic.review_keyframe(SHOT, keyframe=black)
    late = critic.review(
        SHOT, **{**args, "keyframe": black}, duration=take.duration, cues=take.cues, frame=FRAME
    )
    assert not early.passed and late.stage_at_fault == "keyframe"
    assert late.issues[: len(early.issues)] == early.issues
    assert decoded == [take.keyframe, black]
