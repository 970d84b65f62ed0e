"""One typed Settings object, read once at the edge (CLI, MCP) and passed down.

Sources, strongest first: values given in code (CLI flags), environment variables
(``DRAMAFORGE_*``, nested with ``__``), then ``dramaforge.toml`` in the working directory.
Nothing else in the package reads the environment.
"""

from __future__ import annotations

from pathlib import Path

from pydantic import BaseModel, Field
from pydantic_settings import (
    BaseSettings,
    PydanticBaseSettingsSource,
    SettingsConfigDict,
    TomlConfigSettingsSource,
)

from dramaforge.schema import Aspect, Language, Resolution


class Backends(BaseModel):
    """Which backend does each job, as ``provider:model``. ``local:*`` needs no key."""

    director: str = "local:rules"
    image: str = "local:storyboard"
    video: str = "local:motion"
    speech: str = "local:tts"
    sound: str = "local:synth"
    critic: str = "local:heuristic"


class RenderSettings(BaseModel):
    aspect: Aspect = "9:16"
    resolution: Resolution = "720p"
    fps: int = Field(default=25, ge=12, le=60)
    language: Language | None = None
    max_takes: int = Field(default=2, ge=1, le=10)
    concurrency: int = Field(default=2, ge=1, le=32)
    min_shot: float = Field(default=2.0, gt=0)
    max_shot: float = Field(default=8.0, gt=0)
    target_lufs: float = -14.0
    true_peak: float = -1.5


class Settings(BaseSettings):
    model_config = SettingsConfigDict(
        env_prefix="DRAMAFORGE_",
        env_nested_delimiter="__",
        toml_file="dramaforge.toml",
        extra="ignore",
    )

    backends: Backends = Field(default_factory=Backends)
    render: RenderSettings = Field(default_factory=RenderSettings)
    state_dir: Path | None = None
    """Checkpoints and the asset cache; default ``<out>/.dramaforge``."""

    @classmethod
    def settings_customise_sources(
        cls,
        settings_cls: type[BaseSettings],
        init_settings: PydanticBaseSettingsSource,
        env_settings: PydanticBaseSettingsSource,
        dotenv_settings: PydanticBaseSettingsSource,
        file_secret_settings: PydanticBaseSettingsSource,
    ) -> tuple[PydanticBaseSettingsSource, ...]:
        return (init_settings, env_settings, TomlConfigSettingsSource(settings_cls))

    def state_root(self, out: Path) -> Path:
        return self.state_dir if self.state_dir is not None else out / ".dramaforge"


RESOLUTIONS: dict[Resolution, int] = {"360p": 360, "480p": 480, "720p": 720, "1080p": 1080}


def frame_size(aspect: Aspect, resolution: Resolution) -> tuple[int, int]:
    """Width and height for an aspect at a resolution (the short side is the resolution)."""
    short = RESOLUTIONS[resolution]
    if aspect == "1:1":
        return short, short
    long = round(short * 16 / 9)
    long += long % 2
    return (short, long) if aspect == "9:16" else (long, short)
