"""ComfyUI workflows as backends, against a fake ComfyUI speaking the real routes.

Every test renders real files through the fake (PNG, H.264 MP4, FLAC turned into WAV) and
checks them by decoding; the paid-once checks read the fake's own count of prompts queued.
"""

from __future__ import annotations

import _thread
import contextlib
import json
import os
import signal
import subprocess
import sys
import threading
import time
import wave
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import av
import numpy as np
import pytest
from PIL import Image

from dramaforge.config import ComfyUISettings, Settings
from dramaforge.errors import ConfigError, ProviderError
from dramaforge.media.probe import probe
from dramaforge.media.store import FileJournal
from dramaforge.tools.comfyui.health import checks
from dramaforge.tools.comfyui.workflow import load
from dramaforge.tools.protocols import (
    ImageRequest,
    LipsyncRequest,
    SpeechRequest,
    VideoRequest,
)
from dramaforge.tools.registry import registry
from tests.fakes.comfyui_server import FakeComfyUI

ROOT = Path(__file__).resolve().parent.parent
BUNDLED = ROOT / "dramaforge" / "tools" / "comfyui" / "workflows"
FRAME = 1 / 25 + 1e-6
"""Clips are conformed to whole frames at 25 fps: within a frame of the shot's length."""
GIVE_UP = {"unreachable_minutes": 0.01}
"""For a background job still waiting when its fake server stops at the end of a test."""
LONG_STEPS = 2000
"""A sampler this many steps of 0.05 s runs until the test stops it: on a loaded machine a
job of a few seconds can end before the Ctrl-C meant for it while it runs or waits."""
STARTUP = 60.0
"""Seconds allowed for a job to start or end on the fake: a bound, not a timing (a loaded
machine takes several seconds to start a server thread; a quiet one, milliseconds)."""


def left_queue(fake: FakeComfyUI, pid: str, within: float = STARTUP) -> bool:
    """Whether ``pid`` leaves the fake's queue (deleted, interrupted or done) ``within``."""
    end = time.monotonic() + within
    while True:
        running, pending = fake.queue_ids()
        if pid not in running + pending:
            return True
        if time.monotonic() > end:
            return False
        time.sleep(0.01)


@pytest.fixture
def comfy(tmp_path: Path) -> Iterator[FakeComfyUI]:
    with FakeComfyUI(tmp_path / "comfyui") as fake:
        yield fake


def settings(*fakes: FakeComfyUI, **comfyui: Any) -> Settings:
    urls = [f.url for f in fakes]
    return Settings(comfyui=ComfyUISettings(urls=urls, poll_seconds=0.1, **comfyui))


def keyframe(path: Path, size: tuple[int, int] = (360, 640)) -> Path:
    img = Image.new("RGB", size, (40, 90, 160))
    img.paste((230, 200, 40), (100, 200, 260, 360))
    img.save(path)
    return path


def voice_wav(path: Path, seconds: float = 1.5) -> Path:
    rate = 16000
    t = np.arange(int(rate * seconds)) / rate
    samples = (0.3 * np.sin(2 * np.pi * 220 * t) * 32767).astype(np.int16)
    with wave.open(str(path), "wb") as w:
        w.setnchannels(1)
        w.setsampwidth(2)
        w.setframerate(rate)
        w.writeframes(samples.tobytes())
    return path


def image_request(**kw: Any) -> ImageRequest:
    base = dict(
        prompt="a rainy street at night",
        width=360,
        height=640,
        seed=7,
        framing="wide",
        scene_heading="EXT. STREET - NIGHT",
    )
    return ImageRequest(**{**base, **kw})


def video_request(tmp_path: Path, **kw: Any) -> VideoRequest:
    base = dict(
        prompt="she turns to the camera",
        keyframe=str(keyframe(tmp_path / "key.png")),
        width=360,
        height=640,
        fps=25,
        duration=2.3,
        camera="static",
        seed=11,
    )
    return VideoRequest(**{**base, **kw})


def queued_prompt(fake: FakeComfyUI, pid: str) -> dict[str, Any]:
    prompt: dict[str, Any] = fake.history[pid]["prompt"][2]
    return prompt


def only_id(fake: FakeComfyUI) -> str:
    assert len(fake.accepted) == 1, fake.accepted
    return next(iter(fake.accepted))


def write_workflow(folder: Path, name: str, graph: dict[str, Any]) -> Path:
    path = folder / f"{name}.json"
    path.write_text(json.dumps(graph), encoding="utf-8")
    return path


def bundled_graph(name: str) -> dict[str, Any]:
    graph: dict[str, Any] = json.loads((BUNDLED / f"{name}.json").read_text(encoding="utf-8"))
    return graph


# -- workflows ----------------------------------------------------------------------------


def test_bundled_workflows_bind_every_marker_a_shot_needs() -> None:
    qwen, wan, s2v = load("qwen_image"), load("wan22_i2v"), load("wan22_s2v_lipsync")
    assert {"prompt", "seed", "width", "height"} <= set(qwen.bindings)
    assert qwen.graph[qwen.output]["class_type"] == "SaveImage"
    # one title holds three markers; the seed goes to both experts' samplers
    assert [(b.node, b.input) for b in wan.bindings["frames"]] == [("50", "length")]
    assert {b.input for b in wan.bindings["width"] + wan.bindings["height"]} == {"width", "height"}
    assert [b.input for b in wan.bindings["seed"]] == ["noise_seed", "noise_seed"]
    assert {"audio", "image", "frames"} <= set(s2v.bindings)
    assert wan.title("50") == "WanImageToVideo"  # markers are not part of the name shown


def test_ui_format_is_refused_with_how_to_export(tmp_path: Path) -> None:
    path = write_workflow(tmp_path, "ui", {"nodes": [{"id": 1}], "links": [], "version": 0.4})
    with pytest.raises(ConfigError, match=r"UI format.*Export \(API\)"):
        load(str(path))


def test_workflow_missing_a_needed_binding_is_refused_before_anything_is_queued(
    comfy: FakeComfyUI, tmp_path: Path
) -> None:
    graph = bundled_graph("wan22_i2v")
    graph["52"]["_meta"]["title"] = "Keyframe"  # the {{image}} marker is gone
    path = write_workflow(tmp_path, "no_image", graph)
    with pytest.raises(ConfigError, match=r"no \{\{image\}\} binding, which a video shot needs"):
        registry().create("video", f"comfyui:{path}", settings(comfy))
    assert not comfy.accepted and not comfy.uploads


def test_unknown_marker_and_two_unmarked_savers_are_refused(tmp_path: Path) -> None:
    graph = bundled_graph("qwen_image")
    graph["6"]["_meta"]["title"] = "Positive {{promt}}"
    with pytest.raises(ConfigError, match=r"unknown marker \{\{promt\}\}"):
        load(str(write_workflow(tmp_path, "typo", graph)))
    graph = bundled_graph("qwen_image")
    graph["60"]["_meta"]["title"] = "Save Image"
    graph["61"] = {"class_type": "SaveImage", "inputs": {"images": ["8", 0]}}
    with pytest.raises(ConfigError, match=r"several saving nodes.*\{\{output\}\}"):
        load(str(write_workflow(tmp_path, "two", graph)))


def test_mapping_file_binds_a_workflow_whose_titles_are_untouched(
    comfy: FakeComfyUI, tmp_path: Path
) -> None:
    graph = bundled_graph("qwen_image")
    for spec in graph.values():
        spec.pop("_meta")
    path = write_workflow(tmp_path, "plain", graph)
    mapping = {"prompt": "6.text", "seed": "3.seed", "width": "58", "height": "58.height"}
    (tmp_path / "plain.bindings.json").write_text(json.dumps(mapping), encoding="utf-8")
    backend = registry().create("image", f"comfyui:{path}", settings(comfy))
    backend.generate(image_request(seed=99), tmp_path / "out.png")
    sent = queued_prompt(comfy, only_id(comfy))
    assert sent["6"]["inputs"]["text"] == "a rainy street at night"
    assert sent["3"]["inputs"]["seed"] == 99
    assert (sent["58"]["inputs"]["width"], sent["58"]["inputs"]["height"]) == (
        368,
        640,
    )  # 360 on its 16-px grid


# -- rendering ----------------------------------------------------------------------------


def test_image_workflow_renders_a_png_of_the_frame(comfy: FakeComfyUI, tmp_path: Path) -> None:
    backend = registry().create("image", "comfyui:qwen_image", settings(comfy))
    dest = tmp_path / "key.png"
    made = backend.generate(image_request(), dest)
    with Image.open(dest) as img:
        assert (img.format, img.size, img.mode) == ("PNG", (360, 640), "RGB")
        assert len(img.getcolors(1 << 16) or []) > 2  # the fake's drawing, not a blank frame
    pid = only_id(comfy)
    sent = queued_prompt(comfy, pid)
    assert sent["6"]["inputs"]["text"] == "a rainy street at night"
    assert sent["3"]["inputs"]["seed"] == 7
    assert made.model.startswith("qwen_image@")


def test_video_workflow_uploads_the_keyframe_and_conforms_the_clip(
    comfy: FakeComfyUI, tmp_path: Path
) -> None:
    priced = settings(comfy).model_copy(update={"prices": {"comfyui:wan22_i2v": 0.5}})
    backend = registry().create("video", "comfyui:wan22_i2v", priced)
    dest = tmp_path / "clip.mp4"
    made = backend.generate(video_request(tmp_path), dest)
    assert made.cost == pytest.approx(0.5 * 2.3)  # priced per second, as the estimate is
    info = probe(dest)
    assert (info.vcodec, info.width, info.height, info.fps) == ("h264", 360, 640, 25.0)
    assert info.duration == pytest.approx(2.3, abs=FRAME) and not info.has_audio
    assert made.duration == pytest.approx(info.duration)
    sent = queued_prompt(comfy, only_id(comfy))
    # Wan's own 16 fps, rounded up to its 4k+1 grid (from /object_info): 37 frames >= 2.3 s
    length = sent["50"]["inputs"]["length"]
    assert length % 4 == 1 and length >= 2.3 * 16 and length - 4 < 2.3 * 16
    assert sent["52"]["inputs"]["image"] in comfy.uploads
    assert sent["57"]["inputs"]["noise_seed"] == sent["58"]["inputs"]["noise_seed"] == 11


def test_videohelpersuite_output_and_the_shots_fps(comfy: FakeComfyUI, tmp_path: Path) -> None:
    graph = {
        "1": {
            "class_type": "LoadImage",
            "inputs": {"image": "x.png"},
            "_meta": {"title": "{{image}}"},
        },
        "2": {
            "class_type": "WanImageToVideo",
            "inputs": {"width": 640, "height": 640, "length": 81},
            "_meta": {"title": "{{width}} {{height}} {{frames}}"},
        },
        "3": {
            "class_type": "VHS_VideoCombine",
            "inputs": {"images": ["1", 0], "frame_rate": 8},
            "_meta": {"title": "Combine {{fps}}"},
        },
    }
    path = write_workflow(tmp_path, "vhs", graph)
    backend = registry().create("video", f"comfyui:{path}", settings(comfy))
    backend.generate(video_request(tmp_path, duration=1.0), tmp_path / "clip.mp4")
    sent = queued_prompt(comfy, only_id(comfy))
    assert sent["3"]["inputs"]["frame_rate"] == 25  # {{fps}} bound: frames at the shot's rate
    assert sent["2"]["inputs"]["length"] == 25
    assert "gifs" in comfy.history[only_id(comfy)]["outputs"]["3"]
    info = probe(tmp_path / "clip.mp4")
    assert info.duration == pytest.approx(1.0, abs=FRAME) and info.vcodec == "h264"


def test_speech_workflow_writes_mono_wav_from_flac(comfy: FakeComfyUI, tmp_path: Path) -> None:
    graph = {
        "1": {
            "class_type": "TextToSpeech",
            "inputs": {"text": "", "seed": 0},
            "_meta": {"title": "TTS {{prompt}} {{seed}}"},
        },
        "2": {
            "class_type": "SaveAudio",
            "inputs": {"audio": ["1", 0], "filename_prefix": "audio/tts"},
        },
    }
    path = write_workflow(tmp_path, "tts", graph)
    backend = registry().create("speech", f"comfyui:{path}", settings(comfy))
    voice = backend.voices("en")[1]
    dest = tmp_path / "line.wav"
    made = backend.synthesize(
        SpeechRequest(text="We leave at dawn.", language="en", voice=voice), dest
    )
    info = probe(dest)
    assert (info.acodec, info.channels) == ("pcm_s16le", 1)
    assert made.duration == pytest.approx(0.06 * len("We leave at dawn."), abs=0.05)
    ref = comfy.history[only_id(comfy)]["outputs"]["2"]["audio"][0]
    assert ref["filename"].endswith(".flac")


def test_lipsync_workflow_takes_the_voice_and_the_keyframe(
    comfy: FakeComfyUI, tmp_path: Path
) -> None:
    backend = registry().create("lipsync", "comfyui:wan22_s2v_lipsync", settings(comfy))
    request = LipsyncRequest(
        image=str(keyframe(tmp_path / "face.png")),
        audio=str(voice_wav(tmp_path / "line.wav")),
        width=360,
        height=640,
        fps=25,
        duration=1.5,
        seed=5,
        prompt="she says goodbye",
    )
    backend.generate(request, tmp_path / "talk.mp4")
    info = probe(tmp_path / "talk.mp4")
    assert info.duration == pytest.approx(1.5, abs=FRAME) and not info.has_audio
    sent = queued_prompt(comfy, only_id(comfy))
    assert sent["58"]["inputs"]["audio"].endswith(".wav")
    assert sent["52"]["inputs"]["image"].endswith(".png")
    assert len(comfy.uploads) == 2


# -- failures -----------------------------------------------------------------------------


def test_failing_node_is_reported_by_its_title_and_a_retry_queues_a_new_id(
    comfy: FakeComfyUI, tmp_path: Path
) -> None:
    comfy.fail_node("KSamplerAdvanced", "CUDA out of memory. Tried to allocate 2.00 GiB")
    backend = registry().create("video", "comfyui:wan22_i2v", settings(comfy))
    journal = FileJournal(tmp_path / "store" / "vi" / "ab" / "clip.task.json", tmp_path / "store")
    with pytest.raises(
        ProviderError,
        match=r"'High noise' \(node 57, KSamplerAdvanced\) failed: "
        r"RuntimeError: CUDA out of memory",
    ):
        backend.generate(video_request(tmp_path), tmp_path / "clip.mp4", journal)
    assert journal.read().task_id is None  # a failed job is never adopted again
    comfy.failing.clear()
    backend.generate(video_request(tmp_path), tmp_path / "clip.mp4", journal)
    assert len(comfy.accepted) == 2 and set(comfy.accepted.values()) == {1}
    assert probe(tmp_path / "clip.mp4").vcodec == "h264"


def test_validation_errors_name_the_node_title(comfy: FakeComfyUI, tmp_path: Path) -> None:
    graph = bundled_graph("qwen_image")
    del graph["6"]["inputs"]["clip"]
    backend = registry().create(
        "image", f"comfyui:{write_workflow(tmp_path, 'broken', graph)}", settings(comfy)
    )
    with pytest.raises(
        ProviderError,
        match=r"'Positive' \(node 6, CLIPTextEncode\): "
        r"Required input is missing: clip",
    ):
        backend.generate(image_request(), tmp_path / "out.png")
    graph = bundled_graph("qwen_image")
    graph["8"]["class_type"] = "VAEDecodeTiledMissing"
    backend = registry().create(
        "image", f"comfyui:{write_workflow(tmp_path, 'gone', graph)}", settings(comfy)
    )
    with pytest.raises(ProviderError, match="VAEDecodeTiledMissing does not exist"):
        backend.generate(image_request(), tmp_path / "out.png")
    comfy.models = {"qwen_image_vae.safetensors", "qwen_2.5_vl_7b_fp8_scaled.safetensors"}
    backend = registry().create("image", "comfyui:qwen_image", settings(comfy))
    with pytest.raises(
        ProviderError,
        match=r"'Load Diffusion Model' \(node 37, UNETLoader\): Value not in list: "
        r"unet_name: 'qwen_image_fp8_e4m3fn.safetensors' not in",
    ):
        backend.generate(image_request(), tmp_path / "out.png")
    assert not comfy.accepted


def test_output_that_fails_validation_beside_a_good_one_is_refused(
    comfy: FakeComfyUI, tmp_path: Path
) -> None:
    """ComfyUI queues a prompt whose other outputs are valid and lists the failed one in
    ``node_errors``: when that is the shot's output, the job is withdrawn and reported."""
    graph = bundled_graph("qwen_image")
    graph["70"] = {"class_type": "EmptyImage", "inputs": {"width": 64, "height": 64}}
    graph["71"] = {
        "class_type": "SaveImage",
        "inputs": {"images": ["70", 0], "filename_prefix": "p"},
    }
    del graph["8"]["inputs"]["vae"]
    backend = registry().create(
        "image", f"comfyui:{write_workflow(tmp_path, 'preview', graph)}", settings(comfy)
    )
    with pytest.raises(ProviderError, match=r"'VAE Decode' \(node 8, VAEDecode\): Required input"):
        backend.generate(image_request(), tmp_path / "out.png")
    pid = only_id(comfy)
    # withdrawn: deleted from the queue, or interrupted (ComfyUI stops a running prompt at
    # its next node, after the interrupt's reply) or done with its other output
    assert left_queue(comfy, pid), comfy.queue_ids()
    if pid in comfy.history:
        assert "60" not in comfy.history[pid]["outputs"]


def test_unreachable_server_is_one_clear_error(tmp_path: Path) -> None:
    s = Settings(comfyui=ComfyUISettings(url="http://127.0.0.1:9", request_seconds=2))
    backend = registry().create("image", "comfyui:qwen_image", s)
    with pytest.raises(ProviderError, match=r"ComfyUI at http://127.0.0.1:9 did not answer"):
        backend.generate(image_request(), tmp_path / "out.png")


def test_slow_job_past_its_time_is_cancelled_on_the_server(tmp_path: Path) -> None:
    with FakeComfyUI(tmp_path / "comfyui", steps=200, step_seconds=0.05) as fake:
        backend = registry().create("image", "comfyui:qwen_image", settings(fake, job_minutes=0.03))
        with pytest.raises(ProviderError, match=r"did not finish in 0.03 minutes; cancelled"):
            backend.generate(image_request(), tmp_path / "out.png")
        pid = only_id(fake)
        assert fake.interrupts == 1
        fake.history_written.wait(5)
        status = fake.history[pid]["status"]
        assert [m[0] for m in status["messages"]][-1] == "execution_interrupted"


@pytest.fixture
def python_ctrl_c() -> Iterator[None]:
    """Python's own Ctrl-C handler, as a command-line run starts with: a server or client
    that an earlier test ran in this process may have left its own (the product keeps a
    program's own handler, so these tests state the default they are about)."""
    before = signal.getsignal(signal.SIGINT)
    signal.signal(signal.SIGINT, signal.default_int_handler)
    try:
        yield
    finally:
        signal.signal(signal.SIGINT, before)


@pytest.mark.usefixtures("python_ctrl_c")
def test_ctrl_c_interrupts_the_running_job_and_drops_the_journal(tmp_path: Path) -> None:
    with FakeComfyUI(tmp_path / "comfyui", steps=LONG_STEPS, step_seconds=0.05) as fake:
        backend = registry().create("image", "comfyui:qwen_image", settings(fake))
        journal = FileJournal(tmp_path / "store" / "im" / "ab" / "k.task.json", tmp_path / "store")
        fake.started.clear()
        threading.Thread(
            target=lambda: fake.started.wait(STARTUP) and _thread.interrupt_main(), daemon=True
        ).start()
        with pytest.raises(KeyboardInterrupt):
            backend.generate(image_request(), tmp_path / "out.png", journal)
        assert fake.history_written.wait(STARTUP)  # the fake's worker notices the interrupt
        pid = only_id(fake)
        assert fake.interrupts == 1 and fake.queue_ids() == ([], [])
        assert fake.history[pid]["status"]["messages"][-1][0] == "execution_interrupted"
        assert journal.read().task_id is None
        assert not (tmp_path / "out.png").exists()


@pytest.mark.usefixtures("python_ctrl_c")
def test_ctrl_c_during_a_render_cancels_jobs_waited_on_in_worker_threads(tmp_path: Path) -> None:
    """The graph runs shots in worker threads and its main thread waits for them after a
    KeyboardInterrupt: the jobs must notice the Ctrl-C themselves and cancel."""
    with FakeComfyUI(tmp_path / "comfyui", steps=100, step_seconds=0.05) as fake:
        backend = registry().create("image", "comfyui:qwen_image", settings(fake))
        failed: list[BaseException] = []

        def shot() -> None:
            try:
                backend.generate(image_request(), tmp_path / "out.png")
            except ProviderError as err:
                failed.append(err)

        worker = threading.Thread(target=shot)
        worker.start()
        assert fake.started.wait(10)
        with pytest.raises(KeyboardInterrupt):
            signal.raise_signal(signal.SIGINT)
        worker.join(10)
        assert not worker.is_alive() and "cancelled (Ctrl-C)" in str(failed[0])
        assert fake.interrupts == 1


@pytest.mark.usefixtures("python_ctrl_c")
def test_ctrl_c_while_queued_behind_another_job_deletes_it_from_the_queue(
    tmp_path: Path,
) -> None:
    with FakeComfyUI(tmp_path / "comfyui", steps=LONG_STEPS, step_seconds=0.05) as fake:
        other = registry().create("image", "comfyui:qwen_image", settings(fake, **GIVE_UP))
        blocker = threading.Thread(  # runs until the fake stops: ours stays queued behind it
            target=lambda: _quietly(other.generate, image_request(seed=1), tmp_path / "x.png"),
            daemon=True,
        )
        blocker.start()
        assert fake.started.wait(STARTUP)

        def interrupt_once_pending() -> None:
            while len(fake.queue_ids()[1]) < 1:
                time.sleep(0.02)
            _thread.interrupt_main()

        threading.Thread(target=interrupt_once_pending, daemon=True).start()
        backend = registry().create("image", "comfyui:qwen_image", settings(fake))
        with pytest.raises(KeyboardInterrupt):
            backend.generate(image_request(seed=2), tmp_path / "y.png")
        running, pending = fake.queue_ids()
        assert len(running) == 1 and pending == [] and fake.interrupts == 0
        assert len(fake.accepted) == 2


def test_server_restart_mid_job_queues_it_once_more(tmp_path: Path) -> None:
    with FakeComfyUI(tmp_path / "comfyui", steps=20, step_seconds=0.05) as fake:
        backend = registry().create("video", "comfyui:wan22_i2v", settings(fake))
        fake.started.clear()

        def restart() -> None:
            if fake.started.wait(10):
                fake.restart()

        threading.Thread(target=restart, daemon=True).start()
        backend.generate(video_request(tmp_path), tmp_path / "clip.mp4")
        pid = only_id(fake)
        assert fake.accepted[pid] == 2  # lost by the restart, queued once more, same id
        assert probe(tmp_path / "clip.mp4").duration == pytest.approx(2.3, abs=FRAME)


KILLED = """
import sys
from pathlib import Path
from dramaforge.config import ComfyUISettings, Settings
from dramaforge.media.store import FileJournal
from dramaforge.tools.protocols import VideoRequest
from dramaforge.tools.registry import registry

url, folder, request = sys.argv[1], Path(sys.argv[2]), sys.argv[3]
s = Settings(comfyui=ComfyUISettings(url=url, poll_seconds=0.1))
backend = registry().create("video", "comfyui:wan22_i2v", s)
journal = FileJournal(folder / "vi" / "ab" / "clip.task.json", folder)
backend.generate(VideoRequest.model_validate_json(request), folder / "clip.mp4", journal)
"""


@pytest.mark.parametrize(
    "finished",
    [False, pytest.param(True, marks=pytest.mark.slow)],
    ids=["still-running", "finished-meanwhile"],
)
def test_killed_mid_job_then_resumed_queues_nothing_twice(tmp_path: Path, finished: bool) -> None:
    with FakeComfyUI(tmp_path / "comfyui", steps=20, step_seconds=0.05) as fake:
        request = video_request(tmp_path)
        store = tmp_path / "store"
        fake.started.clear()
        proc = subprocess.Popen(
            [sys.executable, "-c", KILLED, fake.url, str(store), request.model_dump_json()],
            cwd=ROOT,
            env={**os.environ, "PYTHONPATH": str(ROOT)},
        )
        try:
            assert fake.started.wait(60), "the job never started"
        finally:
            os.kill(proc.pid, signal.SIGKILL)
            proc.wait()
        journal = FileJournal(store / "vi" / "ab" / "clip.task.json", store)
        pid = only_id(fake)
        assert journal.read().task_id == f"{pid}@{fake.url}"  # journaled before it was sent
        if finished:
            assert fake.history_written.wait(30)
        backend = registry().create("video", "comfyui:wan22_i2v", settings(fake))
        backend.generate(request, tmp_path / "clip.mp4", journal)
        assert fake.accepted == {pid: 1}
        info = probe(tmp_path / "clip.mp4")
        assert (info.vcodec, info.width, info.height) == ("h264", 360, 640)


def test_a_server_that_picks_its_own_prompt_ids_is_journaled_with_its_id(tmp_path: Path) -> None:
    with FakeComfyUI(tmp_path / "comfyui", own_ids=True) as fake:
        backend = registry().create("image", "comfyui:qwen_image", settings(fake))
        journal = FileJournal(tmp_path / "store" / "im" / "ab" / "k.task.json", tmp_path / "store")
        backend.generate(image_request(), tmp_path / "out.png", journal)
        assert journal.read().task_id == f"{only_id(fake)}@{fake.url}"
        backend.generate(image_request(), tmp_path / "again.png", journal)  # resumed: found
        assert len(fake.accepted) == 1
        assert (tmp_path / "again.png").read_bytes() == (tmp_path / "out.png").read_bytes()


def test_shots_go_to_the_server_with_the_shorter_queue(tmp_path: Path) -> None:
    with (
        FakeComfyUI(tmp_path / "a", steps=100, step_seconds=0.05) as busy,
        FakeComfyUI(tmp_path / "b") as idle,
    ):
        other = registry().create("image", "comfyui:qwen_image", settings(busy, **GIVE_UP))
        blocker = threading.Thread(
            target=lambda: _quietly(other.generate, image_request(seed=1), tmp_path / "x.png"),
            daemon=True,
        )
        blocker.start()
        assert busy.started.wait(10)
        backend = registry().create("image", "comfyui:qwen_image", settings(busy, idle))
        backend.generate(image_request(seed=2), tmp_path / "y.png")
        assert len(idle.accepted) == 1 and len(busy.accepted) == 1
        with Image.open(tmp_path / "y.png") as img:
            assert img.size == (360, 640)


def _quietly(fn: Any, *args: Any) -> None:
    with contextlib.suppress(ProviderError):  # cancelled when the test ends
        fn(*args)


# -- doctor -------------------------------------------------------------------------------


def test_doctor_reaches_each_server_and_finds_missing_node_classes(
    comfy: FakeComfyUI, tmp_path: Path
) -> None:
    graph = bundled_graph("wan22_s2v_lipsync")
    graph["70"] = {"class_type": "LatentSyncNode", "inputs": {}}
    custom = write_workflow(tmp_path, "latentsync", graph)
    s = settings(comfy).model_copy(deep=True)
    s.comfyui.urls.append("http://127.0.0.1:9")
    s.backends.image = "comfyui:qwen_image"
    s.backends.lipsync = f"comfyui:{custom}"
    results: dict[str, tuple[bool, str]] = {}
    for name, check in checks(s):
        try:
            results[name] = (True, check())
        except (ProviderError, ConfigError) as err:
            results[name] = (False, str(err))
    assert results[f"comfyui {comfy.url}"] == (
        True,
        "ComfyUI 0.3.99-fake on cuda:0 Fake GPU; queue: 0 running, 0 pending",
    )
    ok, detail = results["comfyui http://127.0.0.1:9"]
    assert not ok and "did not answer" in detail
    assert results["comfyui image workflow"][0]
    assert (
        "binds {{height}} {{negative}} {{prompt}} {{seed}} {{width}}"
        in (results["comfyui image workflow"][1])
    )
    ok, detail = results["comfyui lipsync workflow"]
    assert not ok and f"{comfy.url} lacks LatentSyncNode" in detail
    assert checks(Settings()) == []  # no ComfyUI backend configured: no rows


def test_progress_is_reported_per_node_and_step(comfy: FakeComfyUI, tmp_path: Path) -> None:
    from dramaforge.tools.comfyui.execution import Runner

    lines: list[str] = []
    backend = registry().create("image", "comfyui:qwen_image", settings(comfy))
    backend.runner = Runner(settings(comfy).comfyui, lines.append)
    backend.generate(image_request(), tmp_path / "out.png")
    assert any(line.endswith(": KSampler 3/3") for line in lines), lines
    assert any(line.endswith(": Save Image") for line in lines), lines


def test_progress_streams_from_inside_a_graph_run_without_markup() -> None:
    from typing import TypedDict

    from langgraph.graph import StateGraph

    from dramaforge.tools.comfyui.reporting import report

    class State(TypedDict):
        n: int

    def node(state: State) -> State:
        report("wan22_i2v 3fa2b1: Upscale [2x] 3/20")
        return state

    graph = StateGraph(State)
    graph.add_node("motion", node)
    graph.set_entry_point("motion")
    events = list(graph.compile().stream({"n": 0}, stream_mode="custom"))
    assert events == [{"stage": "comfyui", "status": "wan22_i2v 3fa2b1: Upscale (2x) 3/20"}]
    report("outside a run: logged only")


def test_decoded_clip_moves(comfy: FakeComfyUI, tmp_path: Path) -> None:
    backend = registry().create("video", "comfyui:wan22_i2v", settings(comfy))
    backend.generate(video_request(tmp_path, duration=1.0), tmp_path / "clip.mp4")
    with av.open(str(tmp_path / "clip.mp4")) as container:
        frames = [f.to_ndarray(format="gray") for f in container.decode(video=0)]
    assert len(frames) == 25
    assert np.abs(frames[0].astype(int) - frames[12].astype(int)).mean() > 0.5


@pytest.mark.slow
def test_episode_renders_end_to_end_through_comfyui_workflows(
    comfy: FakeComfyUI, tmp_path: Path
) -> None:
    from dramaforge.graph.verbs import render_episode
    from tests.helpers import FIXTURES, settings_for

    base = settings_for()
    s = base.model_copy(
        update={
            "backends": base.backends.model_copy(
                update={"image": "comfyui:qwen_image", "video": "comfyui:wan22_i2v"}
            ),
            "comfyui": ComfyUISettings(url=comfy.url, poll_seconds=0.1),
        }
    )
    events: list[dict[str, Any]] = []
    manifest = render_episode(
        FIXTURES / "short.zh.txt", tmp_path / "out", s, on_event=events.append
    )
    shots = len(manifest.plan.shots)
    steps = [e["status"] for e in events if e.get("stage") == "comfyui"]
    assert any(status.endswith("KSampler 3/3") for status in steps)  # sampler steps, live
    ids = {shot.id for shot in manifest.plan.shots}  # each on the line of the shot it is for
    assert {e.get("shot") for e in events if e.get("stage") == "comfyui"} <= ids
    assert set(comfy.accepted.values()) == {1}  # every job queued once
    assert len(comfy.accepted) >= 2 * shots  # a keyframe and a clip per shot (and retakes)
    assert manifest.backends["video"].startswith("comfyui:wan22_i2v#")
    episode = probe(Path(manifest.episode.path))
    assert episode.has_video and episode.has_audio and episode.vcodec == "h264"
    assert episode.duration == pytest.approx(sum(r.duration for r in manifest.shots), abs=0.2)
    again = render_episode(FIXTURES / "short.zh.txt", tmp_path / "out", s)
    assert len(again.plan.shots) == shots and set(comfy.accepted.values()) == {1}


@pytest.mark.slow
def test_render_killed_mid_job_then_resumed_queues_each_job_once(tmp_path: Path) -> None:
    """``dramaforge render`` SIGKILLed while ComfyUI runs its jobs, then ``--resume``: the
    store's journal finds every job on the server, none is queued twice."""
    from tests.helpers import FIXTURES

    with FakeComfyUI(tmp_path / "comfyui", steps=10, step_seconds=0.05) as fake:
        env = {
            **os.environ,
            "PYTHONPATH": str(ROOT),
            "DRAMAFORGE_COMFYUI__URL": fake.url,
            "DRAMAFORGE_COMFYUI__POLL_SECONDS": "0.1",
            "DRAMAFORGE_BACKENDS__IMAGE": "comfyui:qwen_image",
            "DRAMAFORGE_BACKENDS__VIDEO": "comfyui:wan22_i2v",
        }
        out = tmp_path / "out"
        cmd = [sys.executable, "-m", "dramaforge", "render", str(FIXTURES / "short.zh.txt")]
        cmd += ["--out", str(out), "--resolution", "360p", "--json"]
        first = subprocess.Popen(cmd, env=env, cwd=tmp_path, stdout=subprocess.PIPE)
        try:
            while len(fake.accepted) < 3 and first.poll() is None:
                time.sleep(0.02)
        finally:
            first.send_signal(signal.SIGKILL)
            first.wait()
        assert len(fake.accepted) >= 3, "the render ended before the kill"
        journaled = [p for p in out.rglob("*.task.json") if "@http" in p.read_text()]
        assert journaled, "the kill should leave jobs journaled"
        second = subprocess.run(
            [*cmd, "--resume"], env=env, cwd=tmp_path, capture_output=True, text=True, timeout=300
        )
        assert second.returncode == 0, second.stdout[-2000:] + second.stderr[-2000:]
        shots = json.loads(second.stdout)["shots"]
        assert set(fake.accepted.values()) == {1}  # no job queued twice
        assert len(fake.accepted) >= 2 * shots
