"""What a ``render`` asked for: a script, or one of the modes' inputs; read before anything
heavy is imported, so an unchanged plain render can answer "up to date" at once."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

PHOTO_SUFFIXES = (".png", ".jpg", ".jpeg", ".webp", ".bmp")


def photo_path(value: str | None) -> Path | None:
    """``--image`` names a photo (image mode) when it is a file or has an image suffix;
    otherwise it is the image backend (``provider:model``), as it always was."""
    if value is None:
        return None
    path = Path(value)
    return path if path.is_file() or path.suffix.lower() in PHOTO_SUFFIXES else None


@dataclass
class ModeRequest:
    script: Path | None = None
    idea: str | None = None
    channels: list[str] = field(default_factory=list)
    image: Path | None = None
    audio: Path | None = None
    brief: str | None = None
    duration: float | None = None
    styles: list[str] = field(default_factory=list)
    short_drama: bool = False
