"""Keeping script text safe to print: control characters and bidi overrides never get through.

A script's text is echoed by ``plan``, the chat and the storyboard, and spoken by a TTS. An
escape sequence (``ESC [2J``) in it would drive the user's terminal, and a right-to-left
override would make a line read differently from what it says, so both are removed when the
script is parsed: everything downstream can print a Script's fields as they are. Newlines and
tabs stay. The same cleaning applies to values a YAML brief spells with escapes (``"\\e[31m"``).
"""

from __future__ import annotations

from typing import Any

from dramaforge.errors import ScriptError
from dramaforge.schema import Script

MAX_LINE = 20_000
"""Characters on one line. A paragraph of a novel is a few hundred; 20,000 is a file whose
newlines were lost, and every parser would read it as one beat."""

_CONTROLS = [*range(0x00, 0x09), 0x0B, 0x0C, *range(0x0D, 0x20), 0x7F, *range(0x80, 0xA0)]
_BIDI = [0x061C, 0x200E, 0x200F, *range(0x202A, 0x202F), *range(0x2066, 0x206A)]
_INVISIBLE = [0xFEFF, 0xFFF9, 0xFFFA, 0xFFFB]
_DROP: dict[int, str | None] = dict.fromkeys([*_CONTROLS, *_BIDI, *_INVISIBLE])
_DROP.update({0x2028: "\n", 0x2029: "\n"})  # line and paragraph separators are newlines


def clean_text(text: str) -> str:
    """``text`` without C0/C1 controls (newline and tab kept), bidi controls or BOMs."""
    return text.translate(_DROP)


def escape_controls(text: str) -> str:
    """For one-line messages that quote the script: each control shown as ``\\x1b``."""
    return "".join(_shown(ch) for ch in text)


def _shown(ch: str) -> str:
    code = ord(ch)
    if code in _DROP or ch in "\n\t":
        return f"\\x{code:02x}" if code < 0x100 else f"\\u{code:04x}"
    return ch


def check_lines(text: str, source: str) -> None:
    """Refuse a line too long to be a script's, naming it, before any parser scans it."""
    for number, line in enumerate(text.split("\n"), start=1):
        if len(line) > MAX_LINE:
            raise ScriptError(
                f"this line is {len(line):,} characters long, more than the {MAX_LINE:,} a "
                "script line may be; check it is the right file, or break the line into "
                "paragraphs",
                path=source,
                line=number,
            )


def clean_script(script: Script) -> Script:
    """The script with every text field cleaned; the same object when nothing needed it."""
    data = script.model_dump()
    cleaned = _clean(data)
    return script if cleaned == data else Script.model_validate(cleaned)


def _clean(value: Any) -> Any:
    if isinstance(value, str):
        return clean_text(value)
    if isinstance(value, dict):
        return {k: _clean(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_clean(v) for v in value]
    return value
