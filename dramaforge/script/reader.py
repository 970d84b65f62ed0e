"""Reading script files: encodings, and refusing what is not a script before parsing starts."""

from __future__ import annotations

from pathlib import Path

from dramaforge.errors import ScriptError

MAX_BYTES = 2 * 1024 * 1024


def decode(data: bytes, source: str) -> str:
    """UTF-8 (with or without BOM) or GB18030; line endings normalised to ``\\n``."""
    if not data.strip():
        raise ScriptError("the script is empty; write at least one scene", path=source)
    if b"\x00" in data[:8192]:
        raise ScriptError("this is a binary file, not a script (expected UTF-8 or GB18030 text)",
                          path=source)
    for encoding in ("utf-8-sig", "gb18030"):
        try:
            text = data.decode(encoding)
            break
        except UnicodeDecodeError:
            continue
    else:
        raise ScriptError("cannot decode the file as UTF-8 or GB18030; save it as UTF-8",
                          path=source)
    controls = sum(1 for ch in text if ord(ch) < 32 and ch not in "\r\n\t\f")
    if controls > max(8, len(text) // 100):
        raise ScriptError("this looks like a binary file, not a script", path=source)
    return text.replace("\r\n", "\n").replace("\r", "\n")


def read_script_file(path: Path) -> str:
    if not path.is_file():
        raise ScriptError("no such file", path=str(path))
    size = path.stat().st_size
    if size > MAX_BYTES:
        raise ScriptError(
            f"the file is {size / 1e6:.1f} MB; a script over {MAX_BYTES // 2**20} MB is not an "
            "episode — split it into one file per episode",
            path=str(path),
        )
    return decode(path.read_bytes(), str(path))
