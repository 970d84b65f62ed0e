"""Image, video, speech and lip-sync backends that run the user's ComfyUI workflow.

Each translates its request into values for the workflow's markers, runs the job (see
``execution``) and turns the file ComfyUI saved into what the Protocol promises: a PNG of the
frame's size, an H.264 MP4 of exactly the shot's length (no audio), a mono WAV.
"""

from __future__ import annotations

import hashlib
import math
import uuid
from pathlib import Path
from typing import Any

from PIL import Image, ImageOps

from dramaforge.errors import ProviderError
from dramaforge.media.ffmpeg import run_ffmpeg
from dramaforge.media.probe import probe
from dramaforge.media.store import content_key
from dramaforge.media.video import normalize_clip
from dramaforge.schema import Language, Voice
from dramaforge.tools.comfyui.execution import Finished, Job, Runner
from dramaforge.tools.comfyui.workflow import Workflow
from dramaforge.tools.protocols import (
    Generated,
    ImageRequest,
    LipsyncRequest,
    SpeechRequest,
    TaskJournal,
    VideoRequest,
)

DEFAULT_FPS = 16.0
"""What a video workflow makes when it names no frame rate (Wan's)."""


class WorkflowBackend:
    """A workflow run for one kind of asset; ``name`` changes when the workflow does."""

    kind = ""

    def __init__(self, spec: str, workflow: Workflow, runner: Runner, negative: str | None) -> None:
        workflow.require(self.kind)
        self.workflow = workflow
        self.runner = runner
        self.negative = negative
        # Everything that changes the picture besides the request: a new asset when it changes.
        ident = hashlib.sha256(f"{workflow.digest}|{negative}".encode()).hexdigest()[:8]
        self.model = f"{workflow.name}@{ident}"
        self.name = f"comfyui:{spec}#{ident}"
        self.price = 0.0
        """Per image, second of clip or thousand characters, from ``prices["comfyui:<spec>"]``
        (what a GPU-hour costs you, spread over what it makes), like every priced backend."""

    def _job(self, request: Any, values: dict[str, Any], files: dict[str, str | None]) -> Job:
        wf = self.workflow
        kept = {m: v for m, v in values.items() if wf.has(m) and v is not None}
        if self.negative is not None and wf.has("negative"):
            kept["negative"] = self.negative
        short = content_key(self.kind, self.name, request)
        return Job(
            workflow=wf,
            key=f"{self.name}:{short}",
            what=f"{wf.name} {short[:6]}",
            values=kept,
            files={m: Path(p) for m, p in files.items() if p and wf.has(m)},
        )

    def _fetch(self, done: Finished, dest: Path) -> Path:
        """The output node's first file, downloaded beside ``dest``."""
        refs = done.files(self.workflow.output)
        if not refs:
            raise ProviderError(
                f"ComfyUI finished {self.workflow.name} but its output node "
                f"{self.workflow.describe(self.workflow.output)} saved no file"
            )
        suffix = Path(str(refs[0]["filename"])).suffix or ".bin"
        raw = dest.with_name(f".{dest.stem}.{uuid.uuid4().hex[:8]}.comfy{suffix}")
        done.client.download(refs[0], raw)
        return raw

    def _frames(self, duration: float, fps: int) -> int:
        """Frames that cover ``duration`` at the rate the workflow plays them: the shot's
        where ``{{fps}}`` is bound, else the workflow's own (a model's native rate)."""
        if self.workflow.has("fps"):
            rate = float(fps)
        else:
            rate = self.workflow.native(("fps", "frame_rate")) or DEFAULT_FPS
        return math.ceil(duration * rate - 1e-6)

    def _clip(
        self, job: Job, dest: Path, journal: TaskJournal | None, w: int, h: int, fps: int, d: float
    ) -> Generated:
        raw = self._fetch(self.runner.run(job, journal), dest)
        try:
            normalize_clip(raw, dest, width=w, height=h, fps=fps, duration=d)
        finally:
            raw.unlink(missing_ok=True)
        duration = probe(dest).duration
        return Generated(duration=duration, model=self.model, cost=self.price * d)


class ComfyImage(WorkflowBackend):
    kind = "image"

    def generate(
        self, request: ImageRequest, dest: Path, journal: TaskJournal | None = None
    ) -> Generated:
        values = {
            "prompt": request.prompt,
            "seed": request.seed,
            "width": request.width,
            "height": request.height,
        }
        job = self._job(request, values, {"image": request.reference})
        raw = self._fetch(self.runner.run(job, journal), dest)
        try:
            with Image.open(raw) as img:
                img.load()
                frame = ImageOps.fit(img.convert("RGB"), (request.width, request.height))
        except OSError as err:
            raise ProviderError(
                f"ComfyUI's {self.workflow.name} image is unreadable: {err}"
            ) from None
        finally:
            raw.unlink(missing_ok=True)
        frame.save(dest, format="PNG")
        return Generated(model=self.model, cost=self.price)


class ComfyVideo(WorkflowBackend):
    kind = "video"

    def __init__(self, spec: str, workflow: Workflow, runner: Runner, negative: str | None) -> None:
        super().__init__(spec, workflow, runner, negative)
        self.takes_audio = workflow.has("audio")

    def generate(
        self, request: VideoRequest, dest: Path, journal: TaskJournal | None = None
    ) -> Generated:
        frames = self._frames(request.duration, request.fps)
        values = {
            "prompt": request.prompt,
            "seed": request.seed,
            "width": request.width,
            "height": request.height,
            "frames": frames,
            "fps": request.fps,
        }
        job = self._job(request, values, {"image": request.keyframe, "audio": request.audio})
        return self._clip(
            job, dest, journal, request.width, request.height, request.fps, request.duration
        )


class ComfyLipsync(WorkflowBackend):
    kind = "lipsync"

    def generate(
        self, request: LipsyncRequest, dest: Path, journal: TaskJournal | None = None
    ) -> Generated:
        frames = self._frames(request.duration, request.fps)
        values = {
            "prompt": request.prompt or None,
            "seed": request.seed,
            "width": request.width,
            "height": request.height,
            "frames": frames,
            "fps": request.fps,
        }
        files = {"audio": request.audio, "image": request.image, "video": request.video}
        if request.video is None and not self.workflow.has("image"):
            raise ProviderError(
                f"ComfyUI workflow {self.workflow.path.name} lip-syncs a clip ({{{{video}}}}) "
                "but this line has only a keyframe; give the workflow an {{image}} input"
            )
        job = self._job(request, values, files)
        return self._clip(
            job, dest, journal, request.width, request.height, request.fps, request.duration
        )


class ComfySpeech(WorkflowBackend):
    """A text-to-speech workflow: the line's text goes to ``{{prompt}}``; each voice is a
    seed (a workflow with a voice sample or a speaker list keeps its own choice)."""

    kind = "speech"

    def check(self, language: Language) -> None:
        return None

    def voices(self, language: Language) -> list[Voice]:
        return [Voice(id=f"comfyui-{i}") for i in range(4)]

    def synthesize(
        self, request: SpeechRequest, dest: Path, journal: TaskJournal | None = None
    ) -> Generated:
        seed = int(hashlib.sha256(request.voice.id.encode()).hexdigest()[:8], 16)
        job = self._job(request, {"prompt": request.text, "seed": seed}, {})
        raw = self._fetch(self.runner.run(job, journal), dest)
        try:
            run_ffmpeg(
                ["-i", raw, "-vn", "-ac", "1", "-c:a", "pcm_s16le", "-f", "wav", dest],
                what=f"converting {self.workflow.name}'s speech to mono WAV",
            )
        finally:
            raw.unlink(missing_ok=True)
        cost = self.price * len(request.text) / 1000
        return Generated(duration=probe(dest).duration, model=self.model, cost=cost)
