"""A user's ComfyUI workflow (API format) and where a shot's values go in it.

Nodes are found by what the user wrote in their titles, never by id: a title holding
``{{prompt}}`` gets the shot's prompt, ``{{width}} {{height}} {{frames}}`` on a latent or
Wan node gets all three. A mapping file beside the workflow (``<name>.bindings.json``,
``{"prompt": "6.text", "seed": ["3.seed", "9.noise_seed"], "output": "60"}``) names
``node.input`` pairs instead, for workflows whose titles the user does not want to touch.

The output is the node marked ``{{output}}``, else the only saving node (SaveImage,
SaveVideo, SaveAudio, VideoHelperSuite's combine node, ...).
"""

from __future__ import annotations

import copy
import hashlib
import json
import re
from dataclasses import dataclass, field
from importlib import resources
from pathlib import Path
from typing import Any

from dramaforge.errors import ConfigError

MARKER = re.compile(r"\{\{\s*([A-Za-z_]+)\s*\}\}")
INPUTS: dict[str, tuple[str, ...]] = {
    "prompt": ("text", "prompt", "positive_prompt", "text_positive"),
    "negative": ("text", "prompt", "negative_prompt", "text_negative"),
    "image": ("image",),
    "audio": ("audio",),
    "video": ("video", "file"),
    "seed": ("seed", "noise_seed"),
    "width": ("width",),
    "height": ("height",),
    "frames": ("length", "frames", "num_frames", "frame_count", "video_length"),
    "fps": ("fps", "frame_rate"),
}
"""The inputs each marker may set, first match wins (a node's linked inputs never count)."""
MARKERS = (*INPUTS, "output")
SAVERS = {
    "SaveImage": "image",
    "SaveAnimatedWEBP": "video",
    "SaveAnimatedPNG": "video",
    "SaveVideo": "video",
    "SaveWEBM": "video",
    "VHS_VideoCombine": "video",
    "SaveAudio": "audio",
    "SaveAudioMP3": "audio",
    "SaveAudioOpus": "audio",
}
"""Saving nodes by class, with what they save; any other ``Save*`` class counts as one too."""
NEEDS: dict[str, tuple[tuple[str, ...], ...]] = {
    "image": (("prompt",),),
    "video": (("image",),),
    "speech": (("prompt",),),
    "lipsync": (("audio",), ("image", "video")),
}
"""Bindings a shot of each kind cannot do without: every group needs one of its markers."""
BUNDLED = "dramaforge.tools.comfyui"
EXPORT_HINT = (
    "export it in API format: in ComfyUI, Workflow > Export (API) (older menus: Settings > "
    "enable Dev mode, then Save (API Format))"
)


@dataclass(frozen=True)
class Binding:
    node: str
    input: str


@dataclass
class Workflow:
    """One loaded workflow: its graph, where each marker binds and which node is its output."""

    name: str
    path: Path
    graph: dict[str, dict[str, Any]]
    bindings: dict[str, list[Binding]] = field(default_factory=dict)
    output: str = ""

    @property
    def digest(self) -> str:
        """Identifies the workflow's content (a changed workflow is a different asset)."""
        bound = sorted((m, b.node, b.input) for m, bs in self.bindings.items() for b in bs)
        blob = json.dumps([self.graph, bound, self.output], sort_keys=True)
        return hashlib.sha256(blob.encode()).hexdigest()[:16]

    def title(self, node: str) -> str:
        """How the user named ``node`` in ComfyUI (its title), else its class."""
        spec = self.graph.get(node) or {}
        title = MARKER.sub("", str((spec.get("_meta") or {}).get("title") or "")).strip()
        return title or str(spec.get("class_type") or f"node {node}")

    def describe(self, node: str) -> str:
        spec = self.graph.get(node) or {}
        return f"{self.title(node)!r} (node {node}, {spec.get('class_type', '?')})"

    def classes(self) -> set[str]:
        return {str(spec["class_type"]) for spec in self.graph.values()}

    def has(self, marker: str) -> bool:
        return bool(self.bindings.get(marker))

    def require(self, kind: str) -> None:
        """Refuse, before anything is queued, a workflow a shot of ``kind`` cannot drive."""
        for group in NEEDS[kind]:
            if not any(self.has(m) for m in group):
                names = " or ".join("{{" + m + "}}" for m in group)
                raise ConfigError(
                    f"ComfyUI workflow {self.path} has no {names} binding, which a {kind} shot "
                    f"needs: put {names} in the title of the node that takes it, or name it in "
                    f"{mapping_path(self.path).name}"
                )

    def native(self, names: tuple[str, ...]) -> float | None:
        """The first literal number in any node input called one of ``names``."""
        for spec in self.graph.values():
            for name in names:
                value = spec.get("inputs", {}).get(name)
                if isinstance(value, int | float) and not isinstance(value, bool):
                    return float(value)
        return None

    def filled(self, values: dict[str, Any]) -> dict[str, dict[str, Any]]:
        """A copy of the graph with each bound input set to ``values[marker]``."""
        graph = copy.deepcopy(self.graph)
        for marker, value in values.items():
            for b in self.bindings.get(marker, []):
                graph[b.node]["inputs"][b.input] = value
        return graph


def resolve(spec: str) -> Path:
    """The workflow file a backend spec names: a path, or the name of a bundled workflow."""
    if not spec:
        raise ConfigError(
            "a comfyui backend needs a workflow: comfyui:path/to/workflow.json, or one of "
            f"the bundled ones ({', '.join(bundled())})"
        )
    path = Path(spec).expanduser()
    if path.is_file():
        return path
    name = path.name if path.suffix == ".json" else f"{path.name}.json"
    if len(path.parts) == 1 or path.parts[0] == "bundled":
        candidate = Path(str(resources.files(BUNDLED).joinpath("workflows", name)))
        if candidate.is_file():
            return candidate
    raise ConfigError(
        f"ComfyUI workflow {spec} not found; give a path to an API-format workflow file or a "
        f"bundled one: {', '.join(bundled())}"
    )


def bundled() -> list[str]:
    folder = resources.files(BUNDLED).joinpath("workflows")
    return sorted(
        p.name.removesuffix(".json")
        for p in folder.iterdir()
        if p.name.endswith(".json") and not p.name.endswith(".bindings.json")
    )


def mapping_path(path: Path) -> Path:
    return path.with_name(f"{path.stem}.bindings.json")


def load(spec: str) -> Workflow:
    """Read, check and bind the workflow ``spec`` names; ConfigError says what is wrong."""
    path = resolve(spec)
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError) as err:
        raise ConfigError(f"cannot read ComfyUI workflow {path}: {err}") from None
    except json.JSONDecodeError as err:
        raise ConfigError(f"ComfyUI workflow {path} is not JSON: {err}") from None
    graph = api_graph(data, path)
    wf = Workflow(name=path.stem, path=path, graph=graph)
    for marker, bindings in title_bindings(wf).items():
        wf.bindings.setdefault(marker, []).extend(bindings)
    mapped, output = file_bindings(wf)
    wf.bindings.update(mapped)
    wf.output = output or wf.output or find_output(wf)
    return wf


def api_graph(data: Any, path: Path) -> dict[str, dict[str, Any]]:
    """The API-format graph in ``data``; the UI format is refused with how to export."""
    if isinstance(data, dict) and "nodes" in data and "links" in data:
        raise ConfigError(f"ComfyUI workflow {path} is in the UI format; {EXPORT_HINT}")
    if isinstance(data, dict) and isinstance(data.get("prompt"), dict):
        data = data["prompt"]  # a saved /prompt body
    if not isinstance(data, dict) or not data:
        raise ConfigError(f"ComfyUI workflow {path} is empty or not a workflow; {EXPORT_HINT}")
    for node, spec in data.items():
        if (
            not isinstance(spec, dict)
            or not isinstance(spec.get("class_type"), str)
            or not isinstance(spec.get("inputs", {}), dict)
        ):
            raise ConfigError(
                f"ComfyUI workflow {path}: node {node} has no class_type/inputs, so this is "
                f"not the API format; {EXPORT_HINT}"
            )
        spec.setdefault("inputs", {})
    return {str(k): v for k, v in data.items()}


def _linked(value: Any) -> bool:
    return isinstance(value, list) and len(value) == 2 and isinstance(value[1], int)


def _bind(wf: Workflow, node: str, marker: str) -> Binding:
    inputs = wf.graph[node]["inputs"]
    for name in INPUTS[marker]:
        if name in inputs and not _linked(inputs[name]):
            return Binding(node, name)
    raise ConfigError(
        f"ComfyUI workflow {wf.path}: node {wf.describe(node)} is marked {{{{{marker}}}}} but "
        f"has none of the inputs it sets ({', '.join(INPUTS[marker])}) as a value; move the "
        f"marker to the node that holds it, or map it in {mapping_path(wf.path).name}"
    )


def title_bindings(wf: Workflow) -> dict[str, list[Binding]]:
    found: dict[str, list[Binding]] = {}
    for node in sorted(wf.graph, key=_order):
        title = str((wf.graph[node].get("_meta") or {}).get("title") or "")
        for marker in MARKER.findall(title):
            marker = marker.lower()
            if marker not in MARKERS:
                raise ConfigError(
                    f"ComfyUI workflow {wf.path}: node {wf.describe(node)} has an unknown marker "
                    f"{{{{{marker}}}}}; known: {', '.join(MARKERS)}"
                )
            if marker == "output":
                if wf.output and wf.output != node:
                    raise ConfigError(
                        f"ComfyUI workflow {wf.path}: two nodes are marked {{{{output}}}} "
                        f"({wf.describe(wf.output)} and {wf.describe(node)}); keep one"
                    )
                wf.output = node
                continue
            found.setdefault(marker, []).append(_bind(wf, node, marker))
    return found


def _order(node: str) -> tuple[int, str]:
    return (int(node), node) if node.isdigit() else (1 << 30, node)


def file_bindings(wf: Workflow) -> tuple[dict[str, list[Binding]], str]:
    """The mapping file's bindings (each replaces the titles' for its marker) and output."""
    path = mapping_path(wf.path)
    if not path.is_file():
        return {}, ""
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError) as err:
        raise ConfigError(f"cannot read ComfyUI bindings {path}: {err}") from None
    if not isinstance(data, dict):
        raise ConfigError(f'ComfyUI bindings {path}: expected {{"prompt": "6.text", ...}}')
    found: dict[str, list[Binding]] = {}
    output = ""
    for marker, targets in data.items():
        if marker not in MARKERS:
            raise ConfigError(f"ComfyUI bindings {path}: unknown binding {marker!r}")
        for target in [targets] if isinstance(targets, str) else list(targets):
            node, _, name = str(target).partition(".")
            if node not in wf.graph:
                raise ConfigError(f"ComfyUI bindings {path}: {marker} names node {node}, absent")
            if marker == "output":
                output = node
            elif name:
                if name not in wf.graph[node]["inputs"]:
                    raise ConfigError(
                        f"ComfyUI bindings {path}: node {wf.describe(node)} has no input {name!r}"
                    )
                found.setdefault(marker, []).append(Binding(node, name))
            else:
                found.setdefault(marker, []).append(_bind(wf, node, marker))
    return found, output


def find_output(wf: Workflow) -> str:
    savers = [n for n, s in wf.graph.items() if _saves(str(s["class_type"]))]
    if len(savers) == 1:
        return savers[0]
    if not savers:
        raise ConfigError(
            f"ComfyUI workflow {wf.path} has no saving node (SaveImage, SaveVideo, SaveAudio, "
            "VHS_VideoCombine): add one, or mark the output node's title {{output}}"
        )
    names = ", ".join(wf.describe(n) for n in sorted(savers, key=_order))
    raise ConfigError(
        f"ComfyUI workflow {wf.path} has several saving nodes ({names}); put {{{{output}}}} "
        "in the title of the one whose file is the shot's"
    )


def _saves(class_type: str) -> bool:
    return class_type in SAVERS or class_type.startswith("Save")
