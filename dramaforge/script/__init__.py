"""Script parsers. ``load_script`` reads a file, detects its format and language, parses it."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

from dramaforge.schema import Language, Script, ScriptFormat
from dramaforge.script import brief, fountain, marker, prose
from dramaforge.script.detect import detect_format
from dramaforge.script.reader import decode, read_script_file

PARSERS: dict[ScriptFormat, Callable[[str, str], Script]] = {
    "fountain": fountain.parse,
    "marker": marker.parse,
    "yaml": brief.parse,
    "prose": prose.parse,
}


def parse_text(
    text: str,
    *,
    source: str = "<text>",
    format: ScriptFormat | None = None,
    language: Language | None = None,
) -> Script:
    fmt = format or detect_format(text, Path(source).suffix)
    script = PARSERS[fmt](text, source)
    return script.model_copy(update={"language": language}) if language else script


def load_script(
    path: Path, *, format: ScriptFormat | None = None, language: Language | None = None
) -> Script:
    """Read, detect and parse ``path``; any problem is a ScriptError naming the file and line."""
    return parse_text(read_script_file(path), source=str(path), format=format, language=language)


__all__ = ["decode", "load_script", "parse_text"]
