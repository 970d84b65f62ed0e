"""The offline animatic talks: mouths open with their own speaker's voice, eyes blink, heads
turn to the speaker; and the critic's sync check measures it from the pixels."""

from __future__ import annotations

import json
import shutil
import wave
from pathlib import Path

import av
import numpy as np
import pytest
from PIL import Image
from starlette.testclient import TestClient

from dramaforge.agents.critic import Critic
from dramaforge.graph.verbs import render_episode
from dramaforge.media.mouths import STRIDE, drawn_faces, frame_loudness, mouth_tracks
from dramaforge.schema import Cue, Line, Manifest, Shot
from dramaforge.serve.studio import create_app
from dramaforge.tools.local.faces import FACES_CHUNK, SKIN
from dramaforge.tools.local.motion import MotionBackend
from dramaforge.tools.local.storyboard import StoryboardBackend
from dramaforge.tools.protocols import ImageRequest, VideoRequest
from tests.helpers import FIXTURES, settings_for

W, H, FPS = 360, 640, 25
CAST = {"阿明": ("#e05030", 0), "小雪": ("#3080b0", 1)}
LINES = [
    Cue(start=0.3, end=1.6, text="早上好。", speaker="阿明"),
    Cue(start=2.0, end=3.3, text="你来晚了。", speaker="小雪"),
]


def _voice(dest: Path, spans: list[tuple[float, float]], seconds: float = 3.8) -> Path:
    """Speech-like bursts: a 220 Hz tone whose loudness rises and falls four times a second
    inside each span, silence elsewhere."""
    rate = 24000
    t = np.arange(int(seconds * rate)) / rate
    envelope = np.zeros_like(t)
    for start, end in spans:
        inside = (t >= start) & (t < end)
        envelope[inside] = 0.15 + 0.85 * np.abs(np.sin(2 * np.pi * 2.0 * (t[inside] - start)))
    samples = (0.5 * envelope * np.sin(2 * np.pi * 220 * t) * 32767).astype(np.int16)
    with wave.open(str(dest), "wb") as w:
        w.setnchannels(1)
        w.setsampwidth(2)
        w.setframerate(rate)
        w.writeframes(samples.tobytes())
    return dest


def _keyframe(tmp_path: Path, framing: str = "medium") -> Path:
    request = ImageRequest(
        prompt="两人在教室",
        width=round(W * 1.2 / 2) * 2,
        height=round(H * 1.2 / 2) * 2,
        seed=7,
        framing=framing,  # type: ignore[arg-type]
        scene_heading="教室 - 白天 - 内",
        characters=CAST,
        focus="阿明" if framing == "close_up" else None,
    )
    dest = tmp_path / f"{framing}.png"
    StoryboardBackend().generate(request, dest)
    return dest


def _clip(tmp_path: Path, key: Path, voice: Path | None, speaking: list[Cue] | None) -> Path:
    request = VideoRequest(
        prompt="",
        keyframe=str(key),
        width=W,
        height=H,
        fps=FPS,
        duration=3.8,
        camera="zoom_in",
        seed=1,
        audio=str(voice) if voice else None,
        speaking=speaking,
    )
    dest = tmp_path / f"clip-{len(list(tmp_path.glob('clip-*')))}.mp4"
    MotionBackend().generate(request, dest)
    return dest


def _envelope(voice: Path, count: int, span: tuple[float, float]) -> np.ndarray:
    """The voice's loudness in the frames the mouths are measured in, inside ``span`` only."""
    level = frame_loudness(voice, FPS, count * STRIDE)[::STRIDE][:count]
    times = np.arange(count) * STRIDE / FPS
    return np.where((times >= span[0]) & (times < span[1]), level, 0.0)


def _frames(clip: Path) -> list[np.ndarray]:
    """Every frame of ``clip`` as RGB."""
    with av.open(str(clip)) as container:
        return [f.to_ndarray(format="rgb24") for f in container.decode(video=0)]


def test_the_storyboard_notes_each_head_it_draws(tmp_path: Path) -> None:
    key = _keyframe(tmp_path)
    with Image.open(key) as im:
        faces = json.loads(im.info[FACES_CHUNK])
        rgb = np.asarray(im.convert("RGB"))
    assert sorted(f[0] for f in faces) == sorted(CAST)
    for _name, x, y, r in faces:
        assert r > 5
        # Between the eyes and the mouth, the face is skin.
        assert tuple(rgb[round(y + 0.3 * r), round(x)]) == SKIN
    assert len(drawn_faces(rgb)) == 2


def test_each_mouth_moves_with_its_own_speaker_and_the_critic_measures_it(
    tmp_path: Path,
) -> None:
    voice = _voice(tmp_path / "voice.wav", [(c.start, c.end) for c in LINES])
    clip = _clip(tmp_path, _keyframe(tmp_path), voice, LINES)
    tracks = mouth_tracks(clip)
    assert len(tracks) == 2
    left, right = sorted(tracks, key=lambda m: float(np.argmax(m)))  # 阿明 speaks first
    count = len(left)
    first, second = (_envelope(voice, count, (c.start, c.end)) for c in LINES)
    assert np.corrcoef(left, first)[0, 1] >= 0.8
    assert np.corrcoef(right, second)[0, 1] >= 0.8
    assert np.corrcoef(left, second)[0, 1] < 0.2  # shut while the other one speaks

    shot = Shot(
        id="s01-01",
        index=0,
        scene_index=1,
        scene_heading="教室",
        duration=3.8,
        framing="medium",
        camera="zoom_in",
        visual_prompt="",
        characters=list(CAST),
        lines=[Line(text=c.text, speaker=c.speaker) for c in LINES],
    )
    critic = Critic()
    kept = critic.review(
        shot, keyframe=_keyframe(tmp_path), motion=clip, voice=voice, duration=3.8, cues=LINES
    )
    assert kept.passed and kept.sync is not None and kept.sync >= 0.8

    frozen = _clip(tmp_path, _keyframe(tmp_path), None, None)  # faces that never talk
    sent_back = critic.review(
        shot, keyframe=_keyframe(tmp_path), motion=frozen, voice=voice, duration=3.8, cues=LINES
    )
    assert not sent_back.passed and sent_back.stage_at_fault == "lipsync"
    assert sent_back.sync is not None and sent_back.sync < 0.5
    assert "lips out of sync" in sent_back.issues[0]

    narrated = shot.model_copy(update={"lines": [Line(text=c.text, narration=True) for c in LINES]})
    heard = critic.review(
        narrated, keyframe=_keyframe(tmp_path), motion=frozen, voice=voice, duration=3.8, cues=LINES
    )
    assert heard.passed and heard.sync is None  # nobody on screen speaks: nothing to sync


def _eye_band(rgb: np.ndarray, box: tuple[int, int, int, int]) -> np.ndarray:
    x0, y0, x1, y1 = box
    h = y1 - y0
    band = rgb[y0 + int(0.2 * h) : y0 + int(0.45 * h), x0:x1].astype(float).mean(axis=2)
    return band < 100


def _eyes(clip: Path) -> list[list[tuple[int, float | None]]]:
    """Per frame, per face (left to right): dark pixels in the eye band, and where they sit
    across the face (-0.5 left edge .. 0.5 right edge)."""
    found = []
    for rgb in _frames(clip):
        faces = []
        for box in sorted(drawn_faces(rgb)):
            eyes = _eye_band(rgb, box)
            cols = np.flatnonzero(eyes.any(axis=0))
            centre = (
                (cols.mean() - (box[2] - box[0]) / 2) / (box[2] - box[0]) if cols.size else None
            )
            faces.append((int(eyes.sum()), centre))
        found.append(faces)
    return found


def test_eyes_blink_now_and_then(tmp_path: Path) -> None:
    voice = _voice(tmp_path / "voice.wav", [(LINES[0].start, LINES[0].end)])
    clip = _clip(tmp_path, _keyframe(tmp_path, "close_up"), voice, LINES[:1])
    dark = [faces[0][0] for faces in _eyes(clip) if len(faces) == 1]
    shut = [d for d in dark if d < 0.5 * float(np.median(dark))]
    assert 0 < len(shut) < len(dark) / 5  # lids shut in a few frames, open in most


def test_heads_turn_to_each_other_while_they_talk(tmp_path: Path) -> None:
    voice = _voice(tmp_path / "voice.wav", [(c.start, c.end) for c in LINES])
    clip = _clip(tmp_path, _keyframe(tmp_path), voice, LINES)
    talk, idle = [], []
    for i, faces in enumerate(_eyes(clip)):
        if len(faces) == 2 and None not in (faces[0][1], faces[1][1]):
            t = i / FPS
            pair = (faces[0][1], faces[1][1])
            if 0.4 < t < 3.2 and not 1.6 <= t < 2.0:
                talk.append(pair)
            elif t < 0.25 or t > 3.4:
                idle.append(pair)
    he, she = np.mean(talk, axis=0)
    assert he > 0.03 and she < -0.03  # 阿明 (left) looks right, 小雪 (right) looks left
    assert np.abs(np.mean(idle, axis=0)).max() < 0.02  # both face front when nobody speaks


@pytest.mark.parametrize("framing", ["close_up", "wide"])
def test_narration_moves_no_mouth(tmp_path: Path, framing: str) -> None:
    voice = _voice(tmp_path / "voice.wav", [(0.3, 3.3)])
    clip = _clip(tmp_path, _keyframe(tmp_path, framing), voice, [])
    tracks = mouth_tracks(clip)
    assert tracks and all(float(np.ptp(m)) < 0.05 for m in tracks)


@pytest.mark.slow
def test_the_studio_shows_each_takes_lip_sync(tmp_path: Path) -> None:
    (tmp_path / "scripts").mkdir()
    script = tmp_path / "scripts" / "talk.zh.txt"
    shutil.copyfile(FIXTURES / "short.zh.txt", script)
    manifest = render_episode(script, tmp_path / "out", settings_for())
    measured = [r.take.critique.sync for r in manifest.shots if r.take.critique.sync is not None]
    assert measured and min(measured) >= 0.8
    on_disk = Manifest.model_validate_json(
        Path(manifest.episode.path).with_name("manifest.json").read_text("utf-8")
    )
    assert [r.take.critique.sync for r in on_disk.shots] == [
        r.take.critique.sync for r in manifest.shots
    ]
    # Identity: every character's chosen keyframes against their reference, in the manifest
    # and the review (the painter draws a character the same in every shot).
    assert on_disk.identity is not None and on_disk.identity.cross_worst == pytest.approx(1.0)
    assert on_disk.identity.self_worst == pytest.approx(1.0) and not on_disk.identity.copies
    assert on_disk.review is not None
    assert any(c.name == "identity" and c.passed for c in on_disk.review.checks)
    client = TestClient(create_app(tmp_path, settings_for()), base_url="http://127.0.0.1")
    page = client.get("/e/out/talk", headers={"accept-language": "en"}).text
    for sync in measured:
        assert f"lip sync {sync:.2f}" in page
