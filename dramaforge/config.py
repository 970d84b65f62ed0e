"""One typed Settings object, read once at the edge (CLI, MCP) and passed down.

Sources, strongest first: values given in code (CLI flags), environment variables
(``DRAMAFORGE_*``, nested with ``__``), then ``dramaforge.toml`` in the working directory.
Nothing else in the package reads the environment. Code changes settings with one call,
``settings.with_(render={"resolution": "360p"})`` (or ``**{"render.resolution": "360p"}``),
validated like the file is.

The rule (docs/design/settings.md): **options change the output; settings say how to run.**
A render's options (``graph.state.RenderOptions``) are what its episode is made of: the
frame, the takes, the loudness, the language, the subtitles. They travel in the graph's state
and are part of its thread id, so changing one is a new render (a new thread) and a finished
render with the same options is the same episode. They are the fields of ``OutputSettings``,
declared there once; ``RenderOptions`` is built on them, with their defaults. Everything else
here says how to run: backends and their endpoints, keys, prices, budget, concurrency, the
work made ahead, where state lives. Nodes read those from the render context
(``ctx.settings``), never from the state, and changing them never forks a thread (a changed
backend makes different assets, which the asset store's keys and the up-to-date stamp see).
"""

from __future__ import annotations

import os
import tempfile
from collections.abc import Mapping
from pathlib import Path
from typing import Any, Literal, get_args
from urllib.parse import urlsplit, urlunsplit

from pydantic import BaseModel, Field, SecretStr, ValidationError, field_validator
from pydantic_settings import (
    BaseSettings,
    PydanticBaseSettingsSource,
    SettingsConfigDict,
    TomlConfigSettingsSource,
)

from dramaforge.errors import ConfigError
from dramaforge.schema import Aspect, Language, Resolution, Subtitles

BackendKind = Literal["director", "image", "video", "speech", "sound", "critic", "lipsync"]
"""The jobs a backend does: each is a field of ``Backends``, a Protocol in
``tools/protocols.py`` and a kind in the registry; the CLI flags, ``doctor`` and the render
context go through this list."""
BACKEND_KINDS: tuple[BackendKind, ...] = get_args(BackendKind)


class Backends(BaseModel):
    """Which backend does each job (one field per ``BackendKind``, plus the chat model), as
    ``provider:model``. ``local:*`` needs no key."""

    director: str = "local:rules"
    image: str = "local:storyboard"
    video: str = "local:motion"
    speech: str = "local:tts"
    sound: str = "local:synth"
    critic: str = "local:heuristic"
    lipsync: str | None = None
    """Lips moved with on-screen lines (``dashscope:wan2.2-s2v``, ``dashscope:videoretalk``,
    ``comfyui:WORKFLOW.json``, ``diffusers:wan2.2-s2v``) or ``none``; default: the video model's
    own audio input where it takes one, else none."""
    chat: str | None = None
    """The model ``dramaforge chat`` talks to (``openai:<model>``); default: the director's."""


class ProviderSettings(BaseModel):
    """One provider's endpoint, key and limits. The key is never printed or checkpointed."""

    api_key: SecretStr | None = None
    base_url: str | None = None
    websocket_url: str | None = None
    """DashScope's WebSocket API (CosyVoice), e.g. ``wss://host/api-ws/v1/inference``;
    default: derived from ``base_url``."""
    timeout: float = Field(default=60.0, gt=0)
    """Seconds for one HTTP request."""
    max_retries: int = Field(default=4, ge=0)
    """Retries of 429/5xx/timeouts on requests that are safe to repeat (never a submit)."""
    poll_interval: float = Field(default=2.0, gt=0)
    poll_timeout: float = Field(default=1800.0, gt=0)
    concurrency: dict[str, int] = Field(default_factory=dict)
    """Tasks in flight at once per model, e.g. ``{"wan2.5-i2v-preview" = 2}``."""
    default_concurrency: int = Field(default=2, ge=1)
    structured_output: str = "json_schema"
    """OpenAI-compatible only: json_schema, function_calling or json_mode."""
    compatible_url: str | None = None
    """DashScope only: its OpenAI-compatible endpoint for ``dashscope:<model>`` directors,
    critics and chat models; default: ``base_url``'s host with ``/compatible-mode/v1``."""

    def limit(self, model: str) -> int:
        return self.concurrency.get(model, self.default_concurrency)


def user_cache_dir() -> Path:
    """dramaforge's folder in the user's cache (``$XDG_CACHE_HOME`` or ``~/.cache``)."""
    base = os.environ.get("XDG_CACHE_HOME") or str(Path.home() / ".cache")
    return Path(base) / "dramaforge"


class DashScopeSettings(ProviderSettings):
    """``[dashscope]``: the provider's endpoint plus what protects the bill and the machine."""

    ledger: Path = Field(default_factory=lambda: user_cache_dir() / "dashscope-tasks.ledger")
    """Task ids adopted or submitted by any render on this machine (every output folder):
    a lost reply is never matched to a task another folder owns."""
    list_lag: float = Field(default=10.0, ge=0)
    """Seconds DashScope's task list may take to show a new task. A lost submit is looked
    up until ``timeout + list_lag`` after it was sent before its state counts as known."""
    download_hosts: list[str] = Field(default_factory=list)
    """Hosts results may be fetched from over plain http or at private addresses (the API
    host of ``base_url`` is always allowed); every other download is https to a public IP."""
    max_download_mb: dict[str, float] = Field(
        default_factory=lambda: {"image": 40.0, "video": 250.0, "audio": 60.0}
    )
    """Largest result file accepted per kind (image, video, audio), in MB."""


class ProviderOverrides(BaseModel):
    """A provider section whose unset fields fall back, one by one, to another section.

    ``[critic_openai]`` is one: the vision critic's own OpenAI-compatible endpoint (say Qwen-VL
    on DashScope's compatible mode) beside the director's ``[openai]`` (say DeepSeek); what it
    leaves out (a shared key, timeouts) comes from ``[openai]``. Same fields as
    ``ProviderSettings``.
    """

    api_key: SecretStr | None = None
    base_url: str | None = None
    websocket_url: str | None = None
    timeout: float | None = Field(default=None, gt=0)
    max_retries: int | None = Field(default=None, ge=0)
    poll_interval: float | None = Field(default=None, gt=0)
    poll_timeout: float | None = Field(default=None, gt=0)
    concurrency: dict[str, int] | None = None
    default_concurrency: int | None = Field(default=None, ge=1)
    structured_output: str | None = None
    compatible_url: str | None = None

    def over(self, base: ProviderSettings) -> ProviderSettings:
        """``base`` with every field this section sets replaced."""
        own = {name: getattr(self, name) for name in type(self).model_fields}
        return base.model_copy(update={k: v for k, v in own.items() if v is not None})

    def is_set(self, name: str) -> bool:
        return getattr(self, name) is not None


class ComfyUISettings(BaseModel):
    """``[comfyui]``: the ComfyUI servers that run ``comfyui:WORKFLOW.json`` backends."""

    url: str = "http://127.0.0.1:8188"
    urls: list[str] = Field(default_factory=list)
    """Several servers (each with its own GPU): shots are spread over them. Replaces ``url``."""
    job_minutes: float = Field(default=60.0, gt=0)
    """Longest wait for one job, queued and running, before it is cancelled."""
    unreachable_minutes: float = Field(default=5.0, gt=0)
    """How long a server may be unreachable mid-job (a restart) before the shot fails."""
    request_seconds: float = Field(default=30.0, gt=0)
    """One HTTP request (upload, queue, history, download)."""
    poll_seconds: float = Field(default=2.0, gt=0)
    """How often the queue and history are checked besides the websocket's messages."""
    requeues: int = Field(default=2, ge=0)
    """Times a job the server forgot (restarted mid-job) is queued again."""
    negative: str | None = None
    """Text for ``{{negative}}`` nodes; unset: each workflow keeps its own."""

    def servers(self) -> list[str]:
        return [u.rstrip("/") for u in (self.urls or [self.url])]


class OutputSettings(BaseModel):
    """The ``[render]`` settings that change the episode: a render's options are these (see
    the module's rule), so each is part of the thread id. Declared here once."""

    aspect: Aspect = "9:16"
    resolution: Resolution = "720p"
    fps: int = Field(default=25, ge=12, le=60)
    language: Language | None = None
    max_takes: int = Field(default=2, ge=1, le=10)
    min_shot: float = Field(default=2.0, gt=0)
    max_shot: float = Field(default=8.0, gt=0)
    target_lufs: float = -14.0
    true_peak: float = -1.5
    subtitles: Subtitles | None = None
    """``zh+en``/``en+zh``: two-line bilingual subtitles; None: the script's language only."""


class RenderSettings(OutputSettings):
    """``[render]``: the output's settings (``OutputSettings``) and how to run the render."""

    concurrency: int | None = Field(default=None, ge=1, le=32)
    """Sets how many shots run at once: up to twice this. Default: enough to keep every paid
    model's slots busy while other shots do local work (``Settings.shot_workers``)."""
    ahead: bool = True
    """When the pictures come from outside this process (a paid model, a GPU server): make the
    score, the finished sound and each kept shot's segment while other shots are still with
    the provider (the episode's tail is then the last segments, a stream copy, the review)."""


class DraftSettings(BaseModel):
    """The cheap pass shown for approval before the full-quality render (``--draft``, /draft).

    Unset backends are the same as the final render's; a turbo model or ``local:*`` here
    makes the draft cheap, a low resolution makes it fast.
    """

    resolution: Resolution = "360p"
    image: str | None = None
    video: str | None = None
    speech: str | None = None
    max_takes: int = Field(default=1, ge=1, le=10)

    def output(self) -> dict[str, Any]:
        """The output settings the draft changes: its fields named like ``OutputSettings``'s."""
        shared = set(type(self).model_fields) & set(OutputSettings.model_fields)
        return {name: getattr(self, name) for name in sorted(shared)}

    def backends(self) -> dict[str, str]:
        """The backends the draft sets (the others are the final render's)."""
        chosen = {"image": self.image, "video": self.video, "speech": self.speech}
        return {kind: spec for kind, spec in chosen.items() if spec is not None}


class DiffusersModelSettings(BaseModel):
    """``[diffusers.models."<name>"]``: one open model's own folder and overrides."""

    path: Path | None = None
    """Its weights (``save_pretrained`` layout); default ``models_dir/<name>``."""
    steps: int | None = Field(default=None, ge=1)
    """Denoising steps; default: the model table's (fewer: a quicker, rougher draft)."""
    frames: int | None = Field(default=None, ge=1)
    """Most frames one clip is made with; default: the model's native count."""
    size: tuple[int, int] | None = None
    """(width, height) generated at; default: the model's native size for the shot's aspect."""


class DiffusersSettings(BaseModel):
    """``[diffusers]``: open models run on this machine's GPUs (``pip install 'dramaforge[gpu]'``).

    Weights are read only from folders the user filled; nothing is ever downloaded.
    """

    models_dir: Path = Field(default_factory=lambda: user_cache_dir() / "models")
    """One folder per model name (``models_dir/wan2.1-t2v-1.3b/``)."""
    models: dict[str, DiffusersModelSettings] = Field(default_factory=dict)
    devices: list[str] = Field(default_factory=list)
    """Torch devices that each take shots (``["cuda:0", "cuda:1"]``); default: every CUDA
    device, else the CPU. On a cluster each GPU actor uses the one GPU Ray gives it, or the
    CPU where this says ``["cpu"]``."""
    offload: Literal["auto", "none", "model", "sequential"] = "auto"
    """Where weights wait between uses: all on the GPU (none), each component moved on when
    used (model), layer by layer (sequential, least VRAM, slowest); auto: chosen from free
    VRAM and the model table."""
    dtype: Literal["auto", "bfloat16", "float16", "float32"] = "auto"
    """auto: bfloat16 on a GPU that has it, float16 on older GPUs, float32 on the CPU."""
    resident: int = Field(default=2, ge=1)
    """Pipelines kept loaded per device (an image and a video model: 2), so switching between
    them does not load weights again."""
    gpu: str | None = None
    """The card ``dramaforge plan`` estimates for (``"RTX 4090"``, ``"H100"``); default: the
    first CUDA device found."""


class ClusterSettings(BaseModel):
    """``[cluster]``: where a season rendered on several machines keeps what they share.

    Used only by ``--cluster`` runs and ``dramaforge cluster``; nothing else reads it.
    """

    address: str | None = Field(default_factory=lambda: os.environ.get("RAY_ADDRESS") or None)
    """The Ray cluster (``ray://host:10001``, ``host:6379`` or ``auto``); default ``RAY_ADDRESS``;
    unset: a one-machine Ray started for the run."""
    database: str | None = None
    """``postgresql://user:password@host:5432/db``: checkpoints, the paid-submit journal, the
    task ledger, budgets, the series bible, provider slots, batch progress. A direct
    connection (advisory locks are session locks: not through a transaction-mode pooler)."""
    store: str | None = None
    """Shared assets and finished episodes: ``s3://bucket/prefix`` or a folder every node mounts."""
    s3_endpoint: str | None = None
    """An S3-compatible server's URL (SeaweedFS, Ceph, MinIO, a cloud's); default: AWS."""
    s3_region: str = "us-east-1"
    s3_access_key: SecretStr | None = None
    s3_secret_key: SecretStr | None = None
    scratch: Path = Field(
        default_factory=lambda: Path(tempfile.gettempdir()) / "dramaforge-cluster"
    )
    """Each node's own working folder (episodes in the making, its copy of the assets)."""
    pool_size: int = Field(default=2, ge=1, le=16)
    """Checkpoint connections per worker process (one saver per process serialises its calls)."""
    episode_retries: int = Field(default=3, ge=0)
    """Times an episode is started again on another node after its node died."""


class CastVoice(BaseModel):
    """One character's voice wish (``[voices.cast."林小雨"]``): words to design it from, or a
    10-20 s sample to clone, which needs ``consent = "yes"`` (the owner affirms it is theirs)."""

    description: str = ""
    sample: Path | None = None
    owner: str = ""
    """Who gave the sample (kept in the manifest); default the character's name."""
    consent: bool = False


class VoiceSettings(BaseModel):
    """Voices made for characters, by name; a script's own cast description is used otherwise."""

    cast: dict[str, CastVoice] = Field(default_factory=dict)


class IdentitySettings(BaseModel):
    """``[identity]``: who each character is, fixed once per series."""

    reference_sheets: bool = True
    """Draw each character's reference sheet (front, three-quarter, outfit) with the image
    backend when a series first meets them, keep it in the series bible, and draw and judge
    every keyframe of theirs from it. Off: the reference is picked from the first episode's
    keyframes, as before."""


class Settings(BaseSettings):
    model_config = SettingsConfigDict(
        env_prefix="DRAMAFORGE_",
        env_nested_delimiter="__",
        toml_file="dramaforge.toml",
        extra="ignore",
    )

    backends: Backends = Field(default_factory=Backends)
    render: RenderSettings = Field(default_factory=RenderSettings)
    draft: DraftSettings = Field(default_factory=DraftSettings)
    dashscope: DashScopeSettings = Field(default_factory=DashScopeSettings)
    openai: ProviderSettings = Field(default_factory=ProviderSettings)
    comfyui: ComfyUISettings = Field(default_factory=ComfyUISettings)
    critic_openai: ProviderOverrides = Field(default_factory=ProviderOverrides)
    """The vision critic's endpoint when it is not the director's; unset fields: ``openai``."""
    diffusers: DiffusersSettings = Field(default_factory=DiffusersSettings)
    prices: dict[str, float] = Field(default_factory=dict)
    """``provider:model`` -> price per unit (image, second of video, 1k characters of speech,
    voice designed or cloned: ``dashscope:qwen-voice-design``, ``dashscope:voice-enrollment``)."""
    budget: float | None = None
    state_dir: Path | None = None
    """Checkpoints and the asset cache; default ``<out>/.dramaforge``."""
    cluster: ClusterSettings = Field(default_factory=ClusterSettings)
    voices: VoiceSettings = Field(default_factory=VoiceSettings)
    identity: IdentitySettings = Field(default_factory=IdentitySettings)
    workspace: Path | None = None
    """When set, every script read and every output written must stay inside this folder
    (``DRAMAFORGE_WORKSPACE``); a graph served by LangGraph Server defaults to its working
    folder."""

    @classmethod
    def settings_customise_sources(
        cls,
        settings_cls: type[BaseSettings],
        init_settings: PydanticBaseSettingsSource,
        env_settings: PydanticBaseSettingsSource,
        dotenv_settings: PydanticBaseSettingsSource,
        file_secret_settings: PydanticBaseSettingsSource,
    ) -> tuple[PydanticBaseSettingsSource, ...]:
        return (
            init_settings,
            env_settings,
            ProviderEnvSource(settings_cls),
            TomlConfigSettingsSource(settings_cls),
        )

    def with_(self, changes: Mapping[str, Any] | None = None, /, **more: Any) -> Settings:
        """These settings with some changed, validated as ``dramaforge.toml`` is.

        A section given as a mapping is merged into the section, not put in its place:
        ``with_(render={"resolution": "360p"})`` keeps the other render settings. A dotted
        name reaches into a section: ``with_(**{"render.resolution": "360p"})``. A wrong name
        or value is a ``ConfigError`` naming it.
        """
        try:
            return type(self).model_validate(_merged(self, {**(changes or {}), **more}))
        except ValidationError as err:
            first = err.errors()[0]
            where = ".".join(str(p) for p in first["loc"])
            raise ConfigError(f"setting {where}: {first['msg']}") from None

    def for_draft(self) -> Settings:
        """These settings with the draft pass's resolution, takes and backends."""
        return self.with_(render=self.draft.output(), backends=self.draft.backends())

    @field_validator("dashscope", mode="before")
    @classmethod
    def _dashscope(cls, value: Any) -> Any:
        """A plain ``ProviderSettings`` given in code gets the DashScope defaults added."""
        if isinstance(value, ProviderSettings) and not isinstance(value, DashScopeSettings):
            return dict(value)
        return value

    def state_root(self, out: Path) -> Path:
        return self.state_dir if self.state_dir is not None else out / ".dramaforge"

    def shot_workers(self) -> int:
        """``render.concurrency``, or what keeps the providers' slots full.

        Up to twice the result runs at once. With a paid DashScope image or video model that
        is four shots per slot of the two together: besides the shots holding a slot, as many
        wait for the next free one while others are in local work (speech, checks,
        conforming), so a slot never waits for a shot to start. A waiting shot costs only a
        parked thread. Otherwise 2: local keyframes and clips are bound by the CPU (a paid
        voice alone runs beside the keyframe and does not set the pace).
        """
        if self.render.concurrency is not None:
            return self.render.concurrency
        paid = [n for n in (self.backends.image, self.backends.video) if n.startswith("dashscope:")]
        slots = sum(self.dashscope.limit(n.split(":", 1)[1]) for n in paid)
        return min(32, 2 * slots) if slots else 2

    def openai_for(self, role: str) -> ProviderSettings:
        """The OpenAI-compatible endpoint ``role`` talks to: the critic's own, else ``openai``."""
        if role == "critic":
            return self.critic_openai.over(self.openai)
        return self.openai


def _merged(model: BaseModel, changes: Mapping[str, Any], within: str = "") -> dict[str, Any]:
    """``model``'s fields with ``changes`` applied: sections merged, dotted names followed
    (``within``: the section's own dotted name, for messages)."""
    data = {name: getattr(model, name) for name in type(model).model_fields}
    for key, value in changes.items():
        head, _, rest = key.partition(".")
        if head not in data:
            raise ConfigError(f"no setting {within + key!r}")
        current, change = data[head], {rest: value} if rest else value
        if isinstance(current, BaseModel) and isinstance(change, Mapping):
            try:
                data[head] = type(current).model_validate(_merged(current, change, f"{head}."))
            except ValidationError as err:
                first = err.errors()[0]
                where = within + ".".join(str(p) for p in (head, *first["loc"]))
                raise ConfigError(f"setting {where}: {first['msg']}") from None
        elif rest:
            raise ConfigError(f"setting {within + head!r} has no field {rest!r}")
        else:
            data[head] = change
    return data


STANDARD_ENV = {
    ("dashscope", "api_key"): "DASHSCOPE_API_KEY",
    ("dashscope", "base_url"): "DASHSCOPE_HTTP_BASE_URL",
    ("dashscope", "websocket_url"): "DASHSCOPE_WEBSOCKET_BASE_URL",
    ("openai", "api_key"): "OPENAI_API_KEY",
    ("openai", "base_url"): "OPENAI_BASE_URL",
}


class ProviderEnvSource(PydanticBaseSettingsSource):
    """The variables users already have (DASHSCOPE_API_KEY, OPENAI_BASE_URL, ...).

    They rank below ``DRAMAFORGE_*`` variables and above dramaforge.toml.
    """

    def get_field_value(self, field: Any, field_name: str) -> tuple[Any, str, bool]:
        return None, field_name, False

    def __call__(self) -> dict[str, Any]:
        found: dict[str, Any] = {}
        for (provider, key), var in STANDARD_ENV.items():
            value = os.environ.get(var)
            if value:
                found.setdefault(provider, {})[key] = value
        return found


RESOLUTIONS: dict[Resolution, int] = {"360p": 360, "480p": 480, "720p": 720, "1080p": 1080}


def frame_size(aspect: Aspect, resolution: Resolution) -> tuple[int, int]:
    """Width and height for an aspect at a resolution (the short side is the resolution)."""
    short = RESOLUTIONS[resolution]
    if aspect == "1:1":
        return short, short
    long = round(short * 16 / 9)
    long += long % 2
    return (short, long) if aspect == "9:16" else (long, short)


def origin(path: tuple[str, ...], flags: set[str] | None = None) -> str:
    """Where the setting at ``path`` (e.g. ``("backends", "image")``) came from."""
    if ".".join(path) in (flags or set()):
        return "flag"
    env = "DRAMAFORGE_" + "__".join(p.upper() for p in path)
    if env in os.environ:
        return f"env {env}"
    standard = STANDARD_ENV.get((path[0], path[-1])) if len(path) == 2 else None
    if standard and os.environ.get(standard):
        return f"env {standard}"
    toml = Path("dramaforge.toml")
    if toml.is_file():
        import tomllib

        node: Any = tomllib.loads(toml.read_text(encoding="utf-8"))
        for part in path:
            node = node.get(part) if isinstance(node, dict) else None
        if node is not None:
            return "dramaforge.toml"
    return "default"


def masked(secret: SecretStr | None) -> str:
    """A key as doctor shows it: whether it is set, and its last two characters at most."""
    if secret is None or not secret.get_secret_value():
        return "not set"
    value = secret.get_secret_value()
    return f"set (…{value[-2:]})" if len(value) >= 12 else "set"


def without_password(url: str | None) -> str | None:
    """``url`` with any ``user:password@`` taken out, for showing it (doctor, errors)."""
    if not url:
        return url
    parts = urlsplit(url)
    if not (parts.username or parts.password):
        return url
    host = parts.hostname or ""
    netloc = f"***@{host}" + (f":{parts.port}" if parts.port else "")
    return urlunsplit(parts._replace(netloc=netloc))
