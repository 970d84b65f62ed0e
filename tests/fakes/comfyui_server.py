"""A fake ComfyUI on 127.0.0.1, built from ComfyUI's own ``server.py`` and ``execution.py``.

Routes as the real server serves them: ``POST /prompt`` (``prompt``, ``client_id``, an
optional client-chosen ``prompt_id``; 400 with ``error`` and ``node_errors`` when validation
fails), ``GET /queue`` (``queue_running``/``queue_pending`` items ``[number, prompt_id,
prompt, extra_data, outputs]``), ``POST /queue {"delete"|"clear"}``, ``GET /history/{id}``
(``prompt``, ``outputs`` per node, ``status`` with ``status_str``/``completed``/``messages``),
``POST /upload/image`` (multipart ``image``, ``type``, ``subfolder``, ``overwrite``),
``GET /view``, ``GET /object_info``, ``POST /interrupt`` (optionally only a given
``prompt_id``), ``GET /system_stats`` and ``/ws?clientId=`` with ``status``,
``execution_start``, ``execution_cached``, ``executing``, ``progress``, ``executed``,
``execution_success``, ``execution_error`` and ``execution_interrupted`` sent to the client
that queued the prompt.

One worker runs the queue in order and "executes" a workflow by walking its nodes: samplers
report ``steps`` progress (``step_seconds`` each: a slow job), saving nodes write real files
(PNG with Pillow, H.264 MP4 with PyAV, FLAC) shaped like the real nodes' UI output: SaveImage
``images``, core SaveVideo ``images`` plus ``animated: [true]``, VHS_VideoCombine ``gifs``,
SaveAudio ``audio``. The history entry is written, and the running item dropped, in one step
just after ``execution_success``, as in ComfyUI.

Faults: ``own_ids`` (a server older than client-chosen prompt ids),
``fail_node(class_type, message)`` (that node raises), ``restart()`` (the process
restarts: the socket closes, queue and history are lost, the files stay), ``accepted``
counts each prompt id queued, for paid-once checks.
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import heapq
import json
import socket
import threading
import time
import uuid
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import av
import numpy as np
import uvicorn
from PIL import Image, ImageDraw
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import FileResponse, JSONResponse, Response
from starlette.routing import Route, WebSocketRoute
from starlette.websockets import WebSocket, WebSocketDisconnect

INT = "INT"


def _int(default: int, lo: int, hi: int, step: int = 1) -> list[Any]:
    return [INT, {"default": default, "min": lo, "max": hi, "step": step}]


SEED = _int(0, 0, 0xFFFFFFFFFFFFFFFF)
SAMPLER = {
    "steps": _int(20, 1, 10000),
    "cfg": ["FLOAT", {"default": 8.0}],
    "sampler_name": [["euler", "uni_pc", "dpmpp_2m"]],
    "scheduler": [["simple", "normal", "karras"]],
}
NODES: dict[str, dict[str, Any]] = {
    "CheckpointLoaderSimple": {"required": {"ckpt_name": [["model.safetensors"]]}},
    "UNETLoader": {"required": {"unet_name": [[]], "weight_dtype": [["default"]]}},
    "CLIPLoader": {"required": {"clip_name": [[]], "type": [["wan", "qwen_image"]]}},
    "VAELoader": {"required": {"vae_name": [[]]}},
    "AudioEncoderLoader": {"required": {"audio_encoder_name": [[]]}},
    "AudioEncoderEncode": {"required": {"audio_encoder": ["AUDIO_ENCODER"], "audio": ["AUDIO"]}},
    "ModelSamplingAuraFlow": {"required": {"model": ["MODEL"], "shift": ["FLOAT", {}]}},
    "ModelSamplingSD3": {"required": {"model": ["MODEL"], "shift": ["FLOAT", {}]}},
    "CLIPTextEncode": {"required": {"text": ["STRING", {"multiline": True}], "clip": ["CLIP"]}},
    "EmptyLatentImage": {
        "required": {"width": _int(512, 16, 16384, 8), "height": _int(512, 16, 16384, 8)}
    },
    "EmptySD3LatentImage": {
        "required": {"width": _int(1024, 16, 16384, 16), "height": _int(1024, 16, 16384, 16)}
    },
    "EmptyImage": {
        "required": {"width": _int(512, 1, 16384), "height": _int(512, 1, 16384)},
    },
    "KSampler": {
        "required": {"seed": SEED, **SAMPLER, "model": ["MODEL"], "latent_image": ["LATENT"]}
    },
    "KSamplerAdvanced": {
        "required": {"noise_seed": SEED, **SAMPLER, "model": ["MODEL"], "latent_image": ["LATENT"]}
    },
    "VAEDecode": {"required": {"samples": ["LATENT"], "vae": ["VAE"]}},
    "LoadImage": {"required": {"image": [[]]}},
    "LoadAudio": {"required": {"audio": [[]]}},
    "LoadVideo": {"required": {"file": [[]]}},
    "WanImageToVideo": {
        "required": {
            "width": _int(832, 16, 16384, 16),
            "height": _int(480, 16, 16384, 16),
            "length": _int(81, 1, 16384, 4),
        },
        "optional": {"start_image": ["IMAGE"]},
    },
    "WanSoundImageToVideo": {
        "required": {
            "width": _int(832, 16, 16384, 16),
            "height": _int(480, 16, 16384, 16),
            "length": _int(77, 1, 16384, 4),
        },
        "optional": {"ref_image": ["IMAGE"], "audio_encoder_output": ["AUDIO_ENCODER_OUTPUT"]},
    },
    "CreateVideo": {
        "required": {"images": ["IMAGE"], "fps": ["FLOAT", {"default": 30.0}]},
        "optional": {"audio": ["AUDIO"]},
    },
    "SaveImage": {"required": {"images": ["IMAGE"], "filename_prefix": ["STRING", {}]}},
    "SaveVideo": {"required": {"video": ["VIDEO"], "filename_prefix": ["STRING", {}]}},
    "VHS_VideoCombine": {
        "required": {"images": ["IMAGE"], "frame_rate": ["FLOAT", {"default": 8}]},
    },
    "SaveAudio": {"required": {"audio": ["AUDIO"], "filename_prefix": ["STRING", {}]}},
    "TextToSpeech": {"required": {"text": ["STRING", {}], "seed": SEED}},
}
OUTPUT_NODES = {"SaveImage", "SaveVideo", "VHS_VideoCombine", "SaveAudio"}
MODEL_INPUTS = {"ckpt_name", "unet_name", "clip_name", "vae_name", "audio_encoder_name"}
FILE_INPUTS = {"LoadImage": "image", "LoadAudio": "audio", "LoadVideo": "file"}


def object_info() -> dict[str, Any]:
    info = {}
    for name, inputs in NODES.items():
        info[name] = {
            "input": {
                "required": inputs.get("required", {}),
                "optional": inputs.get("optional", {}),
            },
            "input_order": {k: list(v) for k, v in inputs.items()},
            "output": [],
            "output_is_list": [],
            "output_name": [],
            "name": name,
            "display_name": name,
            "description": "",
            "python_module": "nodes",
            "category": "fake",
            "output_node": name in OUTPUT_NODES,
        }
    return info


class Interrupted(Exception):
    pass


class Restarted(Exception):
    pass


@dataclass(order=True)
class Item:
    number: float
    prompt_id: str = field(compare=False)
    prompt: dict[str, Any] = field(compare=False)
    extra: dict[str, Any] = field(compare=False)
    outputs: list[str] = field(compare=False)
    generation: int = field(compare=False, default=0)

    def wire(self) -> list[Any]:
        return [self.number, self.prompt_id, self.prompt, self.extra, self.outputs]


class FakeComfyUI:
    def __init__(
        self, root: Path, *, steps: int = 3, step_seconds: float = 0.0, own_ids: bool = False
    ) -> None:
        self.root = root
        self.own_ids = own_ids
        self.models: set[str] | None = None
        """Model files the server has; set, loaders' names are checked against it."""
        """Ignore a client's ``prompt_id`` and pick one, as ComfyUI did before spring 2025."""
        for sub in ("input", "output", "temp"):
            (root / sub).mkdir(parents=True, exist_ok=True)
        self.steps = steps
        self.step_seconds = step_seconds
        self.accepted: Counter[str] = Counter()
        """Prompt ids queued by ``POST /prompt`` over the fake's life (restarts included)."""
        self.uploads: list[str] = []
        self.interrupts = 0
        self.failing: dict[str, str] = {}
        self.started = threading.Event()
        """Set when a job starts running (a test kills the client then)."""
        self.history_written = threading.Event()
        """Set when a job's history entry is written."""
        self._cond = threading.Condition()
        self._generation = 0
        self._interrupt = False
        self._pending: list[Item] = []
        self._running: Item | None = None
        self.history: dict[str, dict[str, Any]] = {}
        self._number = 0
        self._counter = 0
        self._sockets: dict[str, WebSocket] = {}
        self._loop: asyncio.AbstractEventLoop | None = None
        self._server: uvicorn.Server | None = None
        self._thread: threading.Thread | None = None
        self._stop = False
        self._sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        self._sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        self._sock.bind(("127.0.0.1", 0))
        self.port = self._sock.getsockname()[1]
        self._worker = threading.Thread(target=self._work, daemon=True)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    # -- life -----------------------------------------------------------------------------

    def __enter__(self) -> FakeComfyUI:
        self._serve()
        self._worker.start()
        return self

    def __exit__(self, *exc: object) -> None:
        with self._cond:
            self._stop = True
            self._cond.notify_all()
        self._shutdown()

    def _serve(self) -> None:
        if self._sock.fileno() == -1:
            self._sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
            self._sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
            self._sock.bind(("127.0.0.1", self.port))
        config = uvicorn.Config(self._app(), log_level="error", lifespan="off", ws="auto")
        self._server = uvicorn.Server(config)
        sock = self._sock
        self._thread = threading.Thread(
            target=self._server.run, kwargs={"sockets": [sock]}, daemon=True
        )
        self._thread.start()
        deadline = time.monotonic() + 10
        while not self._server.started and time.monotonic() < deadline:
            time.sleep(0.01)

    def _shutdown(self) -> None:
        if self._server is not None and self._thread is not None:
            self._server.should_exit = True
            self._server.force_exit = True
            self._thread.join(timeout=10)
        self._sock.close()

    def restart(self, down_seconds: float = 0.3) -> None:
        """The server process restarts: connections drop, queue and history are lost."""
        with self._cond:
            self._generation += 1
            self._pending.clear()
            self._running = None
            self.history.clear()
            self._cond.notify_all()
        self._shutdown()
        self._sockets.clear()
        time.sleep(down_seconds)
        self._serve()

    def fail_node(self, class_type: str, message: str) -> None:
        self.failing[class_type] = message

    def queue_ids(self) -> tuple[list[str], list[str]]:
        with self._cond:
            running = [self._running.prompt_id] if self._running else []
            return running, [i.prompt_id for i in sorted(self._pending)]

    # -- HTTP -----------------------------------------------------------------------------

    def _app(self) -> Starlette:
        routes = [
            Route("/system_stats", self._system_stats),
            Route("/object_info", self._object_info),
            Route("/queue", self._queue, methods=["GET", "POST"]),
            Route("/prompt", self._prompt, methods=["GET", "POST"]),
            Route("/history/{prompt_id}", self._history),
            Route("/upload/image", self._upload, methods=["POST"]),
            Route("/view", self._view),
            Route("/interrupt", self._post_interrupt, methods=["POST"]),
            WebSocketRoute("/ws", self._ws),
        ]
        return Starlette(routes=routes)

    async def _system_stats(self, request: Request) -> Response:
        return JSONResponse(
            {
                "system": {"os": "posix", "comfyui_version": "0.3.99-fake", "ram_total": 1 << 34},
                "devices": [{"name": "cuda:0 Fake GPU", "type": "cuda", "vram_total": 1 << 34}],
            }
        )

    async def _object_info(self, request: Request) -> Response:
        return JSONResponse(object_info())

    async def _queue(self, request: Request) -> Response:
        if request.method == "POST":
            body = await request.json()
            with self._cond:
                if body.get("clear"):
                    self._pending.clear()
                for pid in body.get("delete", []):
                    self._pending = [i for i in self._pending if i.prompt_id != pid]
                heapq.heapify(self._pending)
            return Response(status_code=200)
        with self._cond:
            running = [self._running.wire()] if self._running else []
            pending = [i.wire() for i in self._pending]
        return JSONResponse({"queue_running": running, "queue_pending": pending})

    async def _prompt(self, request: Request) -> Response:
        if request.method == "GET":
            with self._cond:
                left = len(self._pending) + (self._running is not None)
            return JSONResponse({"exec_info": {"queue_remaining": left}})
        body = await request.json()
        if "prompt" not in body:
            no = {
                "type": "no_prompt",
                "message": "No prompt provided",
                "details": "No prompt provided",
                "extra_info": {},
            }
            return JSONResponse({"error": no, "node_errors": []}, status_code=400)
        prompt = body["prompt"]
        pid = str(uuid.uuid4() if self.own_ids else body.get("prompt_id", uuid.uuid4()))
        refused, node_errors, outputs = self.validate(prompt)
        if refused is not None:
            return JSONResponse(refused, status_code=400)
        extra = dict(body.get("extra_data") or {})
        if "client_id" in body:
            extra["client_id"] = body["client_id"]
        with self._cond:
            number = self._number
            self._number += 1
            item = Item(number, pid, prompt, extra, outputs, self._generation)
            heapq.heappush(self._pending, item)
            self.accepted[pid] += 1
            self._cond.notify_all()
        return JSONResponse({"prompt_id": pid, "number": number, "node_errors": node_errors})

    def validate(self, prompt: Any) -> tuple[dict[str, Any] | None, dict[str, Any], list[str]]:
        """``execution.validate_prompt``'s answer for what this fake checks: a refusal, or the
        node errors of the outputs that failed and the outputs that will run (a prompt with
        at least one good output is queued, its failed outputs reported in ``node_errors``)."""
        if not isinstance(prompt, dict):
            return _invalid("invalid_prompt", "Prompt is not a dict", ""), {}, []
        for node, spec in prompt.items():
            cls = spec.get("class_type") if isinstance(spec, dict) else None
            if cls not in NODES:
                refused = _invalid(
                    "invalid_prompt",
                    f"Cannot execute because node {cls} does not exist.",
                    f"Node ID '#{node}'",
                )
                return refused, {}, []
        outputs = [n for n, s in prompt.items() if s["class_type"] in OUTPUT_NODES]
        if not outputs:
            return _invalid("prompt_no_outputs", "Prompt has no outputs", ""), {}, []
        node_errors: dict[str, Any] = {}
        good = []
        for output in outputs:
            bad = [n for n in _upstream(prompt, [output]) if self._node_errors(prompt, prompt[n])]
            if not bad:
                good.append(output)
            for node in bad:
                info = node_errors.setdefault(
                    node,
                    {
                        "errors": self._node_errors(prompt, prompt[node]),
                        "dependent_outputs": [],
                        "class_type": prompt[node]["class_type"],
                    },
                )
                info["dependent_outputs"].append(output)
        if not good:
            refused = _invalid(
                "prompt_outputs_failed_validation", "Prompt outputs failed validation", ""
            )
            refused["node_errors"] = node_errors
            return refused, node_errors, []
        return None, node_errors, good

    def _node_errors(self, prompt: dict[str, Any], spec: dict[str, Any]) -> list[dict[str, Any]]:
        errors = []
        inputs = spec.get("inputs", {})
        for name in NODES[spec["class_type"]].get("required", {}):
            if name not in inputs:
                errors.append(_reason("required_input_missing", "Required input is missing", name))
            elif isinstance(inputs[name], list) and inputs[name] and inputs[name][0] not in prompt:
                errors.append(_reason("bad_linked_input", "Bad linked input", name))
        for name, value in inputs.items():
            if self.models is not None and name in MODEL_INPUTS and value not in self.models:
                listed = sorted(self.models)
                detail = f"{name}: '{value}' not in {listed}"
                errors.append(_reason("value_not_in_list", "Value not in list", detail))
        field_name = FILE_INPUTS.get(spec["class_type"])
        if field_name and not (self.root / "input" / str(inputs.get(field_name, ""))).is_file():
            detail = f"{field_name} - Invalid image file: {inputs.get(field_name)}"
            errors.append(
                _reason("custom_validation_failed", "Custom validation failed for node", detail)
            )
        return errors

    async def _history(self, request: Request) -> Response:
        pid = request.path_params["prompt_id"]
        with self._cond:
            entry = self.history.get(pid)
            return JSONResponse({pid: entry} if entry is not None else {})

    async def _upload(self, request: Request) -> Response:
        form = await request.form()
        image = form.get("image")
        if image is None or isinstance(image, str) or not image.filename:
            return Response(status_code=400)
        sub = str(form.get("subfolder") or "")
        folder = self.root / str(form.get("type") or "input") / sub
        folder.mkdir(parents=True, exist_ok=True)
        name = Path(image.filename).name
        data = await image.read()
        target = folder / name
        if form.get("overwrite") not in ("true", "1"):
            i = 1
            while target.exists() and target.read_bytes() != data:
                target = folder / f"{Path(name).stem} ({i}){Path(name).suffix}"
                i += 1
        target.write_bytes(data)
        self.uploads.append(target.name)
        return JSONResponse({"name": target.name, "subfolder": sub, "type": "input"})

    async def _view(self, request: Request) -> Response:
        q = request.query_params
        name = q.get("filename", "")
        if not name or name.startswith("/") or ".." in name:
            return Response(status_code=400)
        folder = self.root / q.get("type", "output") / q.get("subfolder", "")
        path = folder / Path(name).name
        if not path.resolve().is_relative_to(self.root.resolve()):
            return Response(status_code=403)
        if not path.is_file():
            return Response(status_code=404)
        return FileResponse(path, headers={"Content-Disposition": f'filename="{path.name}"'})

    async def _post_interrupt(self, request: Request) -> Response:
        try:
            body = await request.json()
        except json.JSONDecodeError:
            body = {}
        pid = body.get("prompt_id") if isinstance(body, dict) else None
        with self._cond:
            if pid is None or (self._running is not None and self._running.prompt_id == pid):
                self._interrupt = True
                self.interrupts += 1
        return Response(status_code=200)

    async def _ws(self, ws: WebSocket) -> None:
        await ws.accept()
        self._loop = asyncio.get_running_loop()
        sid = ws.query_params.get("clientId") or uuid.uuid4().hex
        self._sockets[sid] = ws
        with self._cond:
            left = len(self._pending) + (self._running is not None)
        await ws.send_text(
            json.dumps(
                {
                    "type": "status",
                    "data": {"status": {"exec_info": {"queue_remaining": left}}, "sid": sid},
                }
            )
        )
        try:
            while True:
                await ws.receive_text()
        except WebSocketDisconnect:
            pass
        finally:
            if self._sockets.get(sid) is ws:
                del self._sockets[sid]

    def _send(self, sid: str | None, kind: str, data: dict[str, Any]) -> None:
        ws = self._sockets.get(sid or "")
        loop = self._loop
        if ws is None or loop is None:
            return
        text = json.dumps({"type": kind, "data": data})
        with contextlib.suppress(Exception):
            asyncio.run_coroutine_threadsafe(ws.send_text(text), loop).result(timeout=2)

    # -- the worker -----------------------------------------------------------------------

    def _work(self) -> None:
        while True:
            with self._cond:
                while not self._pending and not self._stop:
                    self._cond.wait()
                if self._stop:
                    return
                item = heapq.heappop(self._pending)
                self._running = item
                self._interrupt = False
            self.started.set()
            sid = item.extra.get("client_id")
            try:
                outputs, status = self._execute(item, sid)
            except Restarted:
                continue
            with self._cond:
                if item.generation != self._generation:
                    continue
                self.history[item.prompt_id] = {
                    "prompt": item.wire(),
                    "outputs": outputs,
                    "status": status,
                    "meta": {n: {"node_id": n, "display_node": n} for n in outputs},
                }
                self._running = None
            self.history_written.set()
            self._send(sid, "executing", {"node": None, "prompt_id": item.prompt_id})

    def _check(self, item: Item) -> None:
        with self._cond:
            if item.generation != self._generation or self._stop:
                raise Restarted
            if self._interrupt:
                raise Interrupted

    def _execute(self, item: Item, sid: str | None) -> tuple[dict[str, Any], dict[str, Any]]:
        pid = item.prompt_id
        messages: list[list[Any]] = []

        def note(kind: str, data: dict[str, Any]) -> None:
            data = {"prompt_id": pid, **data, "timestamp": int(time.time() * 1000)}
            messages.append([kind, data])
            self._send(sid, kind, data)

        note("execution_start", {})
        note("execution_cached", {"nodes": []})
        outputs: dict[str, Any] = {}
        executed: list[str] = []
        for node in _upstream(item.prompt, item.outputs):
            spec = item.prompt[node]
            cls = spec["class_type"]
            self._send(sid, "executing", {"node": node, "display_node": node, "prompt_id": pid})
            try:
                self._check(item)
                if cls in self.failing:
                    raise RuntimeError(self.failing[cls])
                if cls.startswith("KSampler"):
                    for step in range(1, self.steps + 1):
                        time.sleep(self.step_seconds)
                        self._check(item)
                        self._send(
                            sid,
                            "progress",
                            {"value": step, "max": self.steps, "prompt_id": pid, "node": node},
                        )
                ui = self._save(item.prompt, spec)
            except Interrupted:
                note(
                    "execution_interrupted",
                    {"node_id": node, "node_type": cls, "executed": executed},
                )
                return outputs, {"status_str": "error", "completed": False, "messages": messages}
            except RuntimeError as err:
                note(
                    "execution_error",
                    {
                        "node_id": node,
                        "node_type": cls,
                        "executed": executed,
                        "exception_message": str(err),
                        "exception_type": "RuntimeError",
                        "traceback": [
                            "Traceback (most recent call last):\n",
                            f"RuntimeError: {err}\n",
                        ],
                        "current_inputs": {},
                        "current_outputs": {},
                    },
                )
                return outputs, {"status_str": "error", "completed": False, "messages": messages}
            executed.append(node)
            if ui:
                outputs[node] = ui
                self._send(
                    sid,
                    "executed",
                    {"node": node, "display_node": node, "output": ui, "prompt_id": pid},
                )
        note("execution_success", {})
        return outputs, {"status_str": "success", "completed": True, "messages": messages}

    # -- media ----------------------------------------------------------------------------

    def _file(self, prefix: str, ext: str) -> tuple[Path, str, str]:
        sub, _, stem = prefix.rpartition("/")
        with self._cond:
            self._counter += 1
            n = self._counter
        name = f"{stem or 'ComfyUI'}_{n:05d}_.{ext}"
        folder = self.root / "output" / sub
        folder.mkdir(parents=True, exist_ok=True)
        return folder / name, name, sub

    def _save(self, prompt: dict[str, Any], spec: dict[str, Any]) -> dict[str, Any]:
        cls = spec["class_type"]
        if cls not in OUTPUT_NODES:
            return {}
        look = Look.of(prompt, self.root / "input")
        prefix = str(spec["inputs"].get("filename_prefix", "ComfyUI"))
        if cls == "SaveImage":
            path, name, sub = self._file(prefix, "png")
            look.frame(0).save(path)
            return {"images": [{"filename": name, "subfolder": sub, "type": "output"}]}
        if cls == "SaveAudio":
            path, name, sub = self._file(prefix, "flac")
            look.flac(path)
            return {"audio": [{"filename": name, "subfolder": sub, "type": "output"}]}
        if cls == "SaveVideo":
            path, name, sub = self._file(prefix, "mp4")
            look.mp4(path)
            ref = {"filename": name, "subfolder": sub, "type": "output"}
            return {"images": [ref], "animated": [True]}
        path, name, sub = self._file("AnimateDiff", "mp4")  # VHS_VideoCombine
        look.mp4(path)
        gif = {
            "filename": name,
            "subfolder": sub,
            "type": "output",
            "format": "video/h264-mp4",
            "frame_rate": look.fps,
            "workflow": name.replace(".mp4", ".png"),
            "fullpath": str(path),
        }
        return {"gifs": [gif]}


def _invalid(kind: str, message: str, details: str) -> dict[str, Any]:
    error = {"type": kind, "message": message, "details": details, "extra_info": {}}
    return {"error": error, "node_errors": {}}


def _reason(kind: str, message: str, details: str) -> dict[str, Any]:
    return {"type": kind, "message": message, "details": details, "extra_info": {}}


def _upstream(prompt: dict[str, Any], outputs: list[str]) -> list[str]:
    """The nodes ``outputs`` need, each after the nodes it takes inputs from."""
    done: list[str] = []
    seen: set[str] = set()

    def visit(node: str) -> None:
        if node in seen:
            return
        seen.add(node)
        for value in prompt[node].get("inputs", {}).values():
            if isinstance(value, list) and len(value) == 2 and str(value[0]) in prompt:
                visit(str(value[0]))
        done.append(node)

    for node in outputs:
        visit(node)
    return done


@dataclass
class Look:
    """What the workflow's values say the result looks like."""

    width: int
    height: int
    frames: int
    fps: float
    seed: int
    text: str
    image: Path | None
    audio: Path | None

    @classmethod
    def of(cls, prompt: dict[str, Any], inputs: Path) -> Look:
        found: dict[str, Any] = {}
        texts = []
        for spec in prompt.values():
            values = spec.get("inputs", {})
            for name in ("width", "height", "length", "fps", "frame_rate", "seed", "noise_seed"):
                if isinstance(values.get(name), int | float) and name not in found:
                    found[name] = values[name]
            if isinstance(values.get("text"), str):
                texts.append(values["text"])
            file_input = FILE_INPUTS.get(spec["class_type"])
            if file_input:
                found[spec["class_type"]] = inputs / str(values[file_input])
        return cls(
            width=int(found.get("width", 512)),
            height=int(found.get("height", 512)),
            frames=int(found.get("length", 17)),
            fps=float(found.get("fps", found.get("frame_rate", 16))),
            seed=int(found.get("seed", found.get("noise_seed", 0))),
            text=" ".join(texts),
            image=found.get("LoadImage"),
            audio=found.get("LoadAudio"),
        )

    def frame(self, i: int) -> Image.Image:
        digest = hashlib.sha256(f"{self.text}|{self.seed}".encode()).digest()
        size = (self.width, self.height)
        if self.image is not None:
            with Image.open(self.image) as src:
                base = src.convert("RGB").resize(size)
        else:
            base = Image.new("RGB", size, tuple(digest[:3]))
        draw = ImageDraw.Draw(base)
        x = (i * 7 + digest[3]) % max(self.width - 40, 1)
        draw.rectangle([x, self.height // 3, x + 40, self.height // 3 + 40], fill=(250, 250, 250))
        draw.ellipse([10, 10, 10 + self.width // 4, 10 + self.height // 4], fill=tuple(digest[4:7]))
        return base

    def mp4(self, path: Path) -> None:
        with av.open(str(path), "w") as out:
            stream = out.add_stream("libx264", rate=round(self.fps))
            stream.width, stream.height = self.width - self.width % 2, self.height - self.height % 2
            stream.pix_fmt = "yuv420p"
            for i in range(self.frames):
                frame = av.VideoFrame.from_image(
                    self.frame(i).crop((0, 0, stream.width, stream.height))
                )
                for packet in stream.encode(frame):
                    out.mux(packet)
            for packet in stream.encode(None):
                out.mux(packet)

    def flac(self, path: Path) -> None:
        rate = 44100
        seconds = max(0.5, 0.06 * len(self.text))
        t = np.arange(int(rate * seconds)) / rate
        pitch = 180 + self.seed % 200
        wave = 0.3 * np.sin(2 * np.pi * pitch * t) * (1 + np.sin(2 * np.pi * 3 * t)) / 2
        samples = (wave * 32767).astype(np.int16).reshape(1, -1)
        with av.open(str(path), "w", format="flac") as out:
            stream = out.add_stream("flac", rate=rate)
            stream.layout = "mono"
            frame = av.AudioFrame.from_ndarray(samples, format="s16", layout="mono")
            frame.sample_rate = rate
            for packet in stream.encode(frame):
                out.mux(packet)
            for packet in stream.encode(None):
                out.mux(packet)
