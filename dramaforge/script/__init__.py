"""Script parsers: any script file in, one ``Script`` out.

``load_script`` reads a file (UTF-8, UTF-8 with BOM or GB18030), detects its format (Fountain,
Chinese/English marker script, YAML brief, plain prose) and language, and parses it. Every
problem is a ScriptError naming the file and, where known, the line, so the CLI can print one
line that says what to fix. Any text at all gives a Script or a ScriptError, in time linear in
its size (tests/test_script_fuzz.py holds every parser to that), and no control character or
bidi override from the file survives into the Script.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

from dramaforge.errors import ScriptError
from dramaforge.schema import Language, Script, ScriptFormat
from dramaforge.script import bounded_yaml, brief, fountain, marker, prose, shotlist
from dramaforge.script.clean import check_lines, clean_text
from dramaforge.script.detect import detect_format, detect_language
from dramaforge.script.reader import (
    MAX_BYTES,
    decode,
    normalise_newlines,
    read_excel_file,
    read_script_file,
)

PARSERS: dict[ScriptFormat, Callable[[str, str], Script]] = {
    "fountain": fountain.parse,
    "marker": marker.parse,
    "yaml": brief.parse,
    "prose": prose.parse,
    "shotlist": shotlist.parse,
}
SHOT_LIST_SUFFIXES = (".json", ".csv", ".tsv")
EXCEL_SUFFIXES = (".xlsx", ".xlsm")


def parse_text(
    text: str,
    *,
    source: str = "<text>",
    format: ScriptFormat | None = None,
    language: Language | None = None,
) -> Script:
    """Parse script text already in memory; ``source`` names it in errors and picks the format
    by suffix. ``format`` and ``language`` override detection."""
    text = normalise_newlines(text).removeprefix("\ufeff")
    if not text.strip():
        raise ScriptError("the script is empty; write at least one scene in it", path=source)
    if len(text.encode("utf-8")) > MAX_BYTES:
        raise ScriptError(
            f"the script is over {MAX_BYTES // 2**20} MB; split it into one file per episode",
            path=source,
        )
    check_lines(text, source)
    text = clean_text(text)
    fmt = format or _shape(text, Path(source).suffix.lower(), source)
    try:
        script = PARSERS[fmt](text, source)
    except RecursionError as err:  # a parser's last resort; each limits nesting itself
        raise ScriptError("the script nests too deeply to read", path=source) from err
    return script.model_copy(update={"language": language}) if language else script


def _shape(text: str, suffix: str, source: str) -> ScriptFormat:
    """The format by suffix and content; a YAML whose shots carry shot fields, and any JSON,
    CSV or TSV, is a shot list."""
    if suffix in SHOT_LIST_SUFFIXES:
        return "shotlist"
    fmt = detect_format(text, suffix)
    if fmt == "yaml" and shotlist.is_shot_list(bounded_yaml.load(text, source)[0]):
        return "shotlist"
    if fmt == "prose" and text.lstrip()[:1] in ("{", "["):
        return "shotlist"
    return fmt


def load_script(
    path: Path, *, format: ScriptFormat | None = None, language: Language | None = None
) -> Script:
    """Read, detect and parse ``path``; any problem is a ScriptError naming the file and line."""
    if path.suffix.lower() in EXCEL_SUFFIXES and path.is_file():
        script = shotlist.from_xlsx(read_excel_file(path), str(path))
        return script.model_copy(update={"language": language}) if language else script
    return parse_text(read_script_file(path), source=str(path), format=format, language=language)


__all__ = [
    "PARSERS",
    "decode",
    "detect_format",
    "detect_language",
    "load_script",
    "parse_text",
    "read_script_file",
]
