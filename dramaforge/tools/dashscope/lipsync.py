"""Lips moved with a line on DashScope: ``wan2.2-s2v`` and ``videoretalk``.

Both are async tasks on ``services/aigc/image2video/video-synthesis`` that take only URLs,
so every input goes through DashScope's temporary storage (``uploads``) when, and only when,
a submit goes out; both bill ``usage.video_duration`` seconds.

* ``wan2.2-s2v`` makes a talking clip from one picture and a voice (``input.image_url``,
  ``input.audio_url``, ``parameters.resolution`` 480P or 720P). The audio must be under 20 s
  and the account runs one such task at a time (its concurrency defaults to 1). The picture
  is checked first by ``wan2.2-s2v-detect`` (synchronous ``image2video/face-detect``,
  ``output.check_pass``/``humanoid``): a refused keyframe is not worth a paid clip.
* ``videoretalk`` makes a finished clip's lips follow a voice (``input.video_url``,
  ``input.audio_url``, ``input.ref_image_url`` naming the face when several are in frame,
  ``parameters.video_extension``). It takes 2-120 s of H.264 at 15-60 fps with sides of
  640-2048 px, so a draft's small clip is scaled up for it and the result scaled back.

The result is conformed to the request (size, fps, exact length, no audio) like any clip.
"""

from __future__ import annotations

import uuid
from pathlib import Path
from typing import Any

from PIL import Image

from dramaforge.errors import ProviderError
from dramaforge.media.ffmpeg import run_ffmpeg
from dramaforge.media.probe import probe
from dramaforge.media.store import file_digest
from dramaforge.media.video import normalize_clip
from dramaforge.tools.dashscope.backend import TaskBackend
from dramaforge.tools.dashscope.transport import TaskResult, Transport
from dramaforge.tools.protocols import Generated, LipsyncRequest, TaskJournal

PATH = "services/aigc/image2video/video-synthesis"
DETECT_PATH = "services/aigc/image2video/face-detect"
DETECT_MODEL = "wan2.2-s2v-detect"
S2V_AUDIO_MAX = 20.0  # seconds, exclusive
S2V_IMAGE_SIDES = (400, 7000)
RETALK_SIDES = (640, 2048)
RETALK_SECONDS = (2.0, 120.0)
RETALK_FPS = (15, 60)


def _url(result: TaskResult) -> str:
    """``output.video_url`` (videoretalk) or ``output.results.video_url`` (wan2.2-s2v)."""
    output = result.output
    url = output.get("video_url") or (output.get("results") or {}).get("video_url")
    if not url:
        raise ProviderError(f"DashScope task {result.task_id} succeeded without a video URL")
    return str(url)


def _verify_video(path: Path) -> None:
    info = probe(path)
    if not info.has_video or info.duration <= 0:
        raise ProviderError(f"{path.name} has no video")


def _billed(result: TaskResult, fallback: float) -> float:
    return float(result.usage.get("video_duration") or result.usage.get("duration") or fallback)


def voice_file(src: Path, dest: Path, *, shortest: float = 0.0, longest: float = 600.0) -> None:
    """The voice as a mono 16-bit WAV, padded with silence to ``shortest`` seconds."""
    run_ffmpeg(
        [
            "-i", src, "-af", f"apad=whole_dur={shortest:.3f}", "-t", f"{longest:.3f}",
            "-ac", "1", "-ar", "24000", "-c:a", "pcm_s16le",
            "-fflags", "+bitexact", "-flags:a", "+bitexact", dest,
        ],
        what=f"preparing {src.name} for a lip-sync upload",
    )  # fmt: skip


def picture_file(src: Path, dest: Path, sides: tuple[int, int]) -> None:
    """``src`` as an RGB PNG whose sides lie within ``sides`` (scaled as little as needed)."""
    with Image.open(src) as im:
        img = im.convert("RGB")
    low, high = sides
    scale = max(low / min(img.size), 1.0)
    scale = min(scale, high / max(img.size))
    if scale != 1.0:
        img = img.resize((round(img.width * scale), round(img.height * scale)))
    img.save(dest, format="PNG")


def _tier(width: int, height: int) -> str:
    return "480P" if min(width, height) <= 480 else "720P"


class _LipsyncTask(TaskBackend):
    def _conform(self, raw: Path, dest: Path, request: LipsyncRequest) -> float:
        normalize_clip(
            raw,
            dest,
            width=request.width,
            height=request.height,
            fps=request.fps,
            duration=request.duration,
        )
        return probe(dest).duration


class DashScopeTalking(_LipsyncTask):
    """``dashscope:wan2.2-s2v``: keyframe + voice -> a talking clip (speech-to-video)."""

    speech_to_video = True

    def __init__(self, model: str, transport: Transport, price: float = 0.0) -> None:
        super().__init__(model or "wan2.2-s2v", "talking clip", transport, price)
        self._passed: set[str] = set()
        """Pictures (by content) the check passed: a split shot asks once, not per turn."""

    def check(self, picture: Path) -> None:
        """``wan2.2-s2v-detect`` on the picture: a ProviderError when it would be refused."""
        digest = file_digest(picture)
        if digest in self._passed:
            return
        body = {"model": DETECT_MODEL, "input": {}}
        reply = self.transport.post_sync(
            DETECT_PATH, body, f"{DETECT_MODEL} check", files={"input.image_url": picture}
        )
        output = reply.get("output") or {}
        if not output.get("check_pass"):
            found = "no person" if output.get("humanoid") is False else "a face it cannot animate"
            raise ProviderError(
                f"DashScope {DETECT_MODEL}: the keyframe shows {found}; {self.model} needs a "
                "clear, frontal character (use videoretalk or redraw the keyframe)"
            )
        self._passed.add(digest)

    def generate(
        self, request: LipsyncRequest, dest: Path, journal: TaskJournal | None = None
    ) -> Generated:
        seconds = probe(Path(request.audio)).duration
        if seconds >= S2V_AUDIO_MAX:
            raise ProviderError(
                f"{self.model} takes under {S2V_AUDIO_MAX:.0f} s of speech, this line has "
                f"{seconds:.1f} s; split the shot or use dashscope:videoretalk"
            )
        tag = uuid.uuid4().hex[:8]
        picture = dest.with_name(f".{dest.stem}.{tag}.picture.png")
        sound = dest.with_name(f".{dest.stem}.{tag}.voice.wav")
        raw = dest.with_name(f".{dest.stem}.{tag}.download.mp4")
        body: dict[str, Any] = {
            "model": self.model,
            "input": {},
            "parameters": {"resolution": _tier(request.width, request.height)},
        }
        try:
            picture_file(Path(request.image), picture, S2V_IMAGE_SIDES)
            voice_file(Path(request.audio), sound)
            entry = journal.read() if journal is not None else None
            if entry is None or (entry.task_id is None and entry.intent is None):
                self.check(picture)  # a task already sent was checked before it went
            files = {"input.image_url": picture, "input.audio_url": sound}
            result = self.fetch(PATH, body, _url, raw, _verify_video, journal=journal, files=files)
            length = self._conform(raw, dest, request)
        finally:
            for path in (picture, sound, raw):
                path.unlink(missing_ok=True)
        billed = _billed(result, seconds)
        return Generated(duration=length, cost=self.price * billed, model=self.model)


class DashScopeRetalk(_LipsyncTask):
    """``dashscope:videoretalk``: a finished clip + voice -> the same clip lip-synced."""

    speech_to_video = False

    def __init__(self, model: str, transport: Transport, price: float = 0.0) -> None:
        super().__init__(model or "videoretalk", "lip-sync pass", transport, price)

    def generate(
        self, request: LipsyncRequest, dest: Path, journal: TaskJournal | None = None
    ) -> Generated:
        if request.video is None:
            raise ProviderError(f"{self.model} moves lips in a finished clip; none was given")
        low, high = RETALK_SIDES
        scale = max(low / min(request.width, request.height), 1.0)
        scale = min(scale, high / max(request.width, request.height))
        length = min(max(request.duration, RETALK_SECONDS[0]), RETALK_SECONDS[1])
        tag = uuid.uuid4().hex[:8]
        clip = dest.with_name(f".{dest.stem}.{tag}.clip.mp4")
        sound = dest.with_name(f".{dest.stem}.{tag}.voice.wav")
        face = dest.with_name(f".{dest.stem}.{tag}.face.png")
        raw = dest.with_name(f".{dest.stem}.{tag}.download.mp4")
        body: dict[str, Any] = {
            "model": self.model,
            "input": {},
            "parameters": {"video_extension": False},
        }
        try:
            normalize_clip(
                Path(request.video),
                clip,
                width=2 * round(request.width * scale / 2),
                height=2 * round(request.height * scale / 2),
                fps=min(max(request.fps, RETALK_FPS[0]), RETALK_FPS[1]),
                duration=length,
            )
            voice_file(Path(request.audio), sound, shortest=length, longest=length)
            files = {"input.video_url": clip, "input.audio_url": sound}
            if request.face:
                picture_file(Path(request.face), face, (1, 4096))
                files["input.ref_image_url"] = face
            result = self.fetch(PATH, body, _url, raw, _verify_video, journal=journal, files=files)
            made = self._conform(raw, dest, request)
        finally:
            for path in (clip, sound, face, raw):
                path.unlink(missing_ok=True)
        billed = _billed(result, length)
        return Generated(duration=made, cost=self.price * billed, model=self.model)
