"""``/voice NAME WORDS`` and ``/voice NAME sample=FILE consent=yes [owner=WHO]``: a voice wish
from chat (the ``id=``/``rate=``/``pitch=`` form stays a plain voice edit)."""

from __future__ import annotations

from pathlib import Path

from dramaforge.config import CastVoice, Settings
from dramaforge.errors import DramaforgeError

EDIT_KEYS = ("id", "rate", "pitch")
YES = ("yes", "y", "true", "1")


def voice_wish(args: list[str]) -> CastVoice | None:
    """The wish ``args`` say, or None when they are a plain edit (``id=V rate=R pitch=P``)."""
    pairs = dict(a.partition("=")[::2] for a in args if "=" in a)
    words = [a for a in args if "=" not in a]
    if not args or (not words and set(pairs) <= set(EDIT_KEYS)):
        return None
    unknown = set(pairs) - {"sample", "consent", "owner"}
    if unknown:
        raise DramaforgeError(
            f"/voice: unknown {', '.join(sorted(unknown))}; use WORDS, or sample=FILE consent=yes"
        )
    sample = Path(pairs["sample"]).expanduser() if pairs.get("sample") else None
    return CastVoice(
        description=" ".join(words),
        sample=sample,
        owner=pairs.get("owner", ""),
        consent=pairs.get("consent", "").lower() in YES,
    )


def cast_flags(voices: list[str], owned: bool) -> dict[str, CastVoice]:
    """``--voice NAME=FILE`` (a sample, cloned only with ``--i-own-this-voice``) or
    ``--voice "NAME=WORDS"`` (a description) for a batch or render."""
    cast: dict[str, CastVoice] = {}
    for given in voices:
        name, sep, value = given.partition("=")
        if not sep or not name.strip() or not value.strip():
            raise DramaforgeError(f"--voice {given!r}: use NAME=sample.wav or NAME=description")
        path = Path(value).expanduser()
        if path.suffix.lower() in (".wav", ".mp3", ".m4a", ".flac", ".aac") or path.is_file():
            cast[name.strip()] = CastVoice(sample=path, consent=owned)
        else:
            cast[name.strip()] = CastVoice(description=value.strip())
    return cast


def with_voices(settings: Settings, voices: list[str] | None, owned: bool) -> Settings:
    """``settings`` with the ``--voice`` flags' wishes over ``[voices.cast]``."""
    if not voices:
        return settings
    cast = settings.voices.cast | cast_flags(voices, owned)
    return settings.model_copy(update={"voices": settings.voices.model_copy(update={"cast": cast})})
