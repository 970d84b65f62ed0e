"""Reading script files: encodings, and refusing what is not a script before parsing starts.

Chinese scripts arrive as UTF-8, UTF-8 with a BOM (Windows Notepad) or GB18030 (older Chinese
Windows and WPS); all three decode here, so parsers only ever see ``str`` with ``\\n`` endings.
Anything else (Shift-JIS, Big5, a file mixing two encodings) gets one clear error naming the
file and what to do instead, never a script of mojibake.
"""

from __future__ import annotations

import codecs
import re
import unicodedata
from pathlib import Path

from dramaforge.errors import ScriptError
from dramaforge.script.docx import MAX_DOCX_BYTES, docx_text, is_word

SCRIPT_SUFFIXES = (
    ".txt",
    ".md",
    ".docx",
    ".fountain",
    ".spmd",
    ".yaml",
    ".yml",
    ".json",
    ".csv",
    ".tsv",
    ".xlsx",
)
"""What a batch folder or a workspace's ``scripts/`` lists as scripts."""
MAX_BYTES = 2 * 1024 * 1024
"""A short-drama episode is a few KB; 2 MB means the wrong file (a video, a whole novel)."""

_SNIFF = 8192


def normalise_newlines(text: str) -> str:
    return text.replace("\r\n", "\n").replace("\r", "\n")


def decode(data: bytes, source: str) -> str:
    """Decode a script's bytes to text with ``\\n`` line endings, or raise ScriptError."""
    if data.startswith((codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE)):
        text = _decode_utf16(data, source)
    else:
        if b"\x00" in data[:_SNIFF]:
            raise ScriptError(
                "this is a binary file, not a script; give a text file or a Word document "
                "(.txt, .docx, .fountain, .yaml)",
                path=source,
            )
        text = _decode_8bit(data, source)
    if not text.strip():
        raise ScriptError("the script is empty; write at least one scene in it", path=source)
    if _looks_binary(text):
        raise ScriptError(
            "this looks like a binary file, not a script; give a text file "
            "(.txt, .docx, .fountain, .yaml)",
            path=source,
        )
    return normalise_newlines(text)


def _decode_utf16(data: bytes, source: str) -> str:
    try:
        return data.decode("utf-16")
    except UnicodeDecodeError as err:
        raise ScriptError(
            "the file starts like UTF-16 but does not decode; save it as UTF-8", path=source
        ) from err


def _decode_8bit(data: bytes, source: str) -> str:
    """UTF-8 first (a BOM is dropped), then GB18030, which is a superset of GBK and GB2312.

    GB18030 decodes almost any bytes, so a clean decode proves little: Shift-JIS or Big5 comes
    out as rare characters no Chinese writer uses, and UTF-8 with a pasted GBK part comes out
    as mojibake. Both are refused rather than parsed into a script of garbage.
    """
    try:
        return data.decode("utf-8-sig")
    except UnicodeDecodeError as err:
        first_bad = err.start
    as_utf8 = data.decode("utf-8", errors="replace")
    bad = as_utf8.count("\ufffd")
    if len(as_utf8) - len(as_utf8.encode("ascii", errors="ignore")) - bad >= max(bad, 4):
        raise ScriptError(
            f"the file is mostly UTF-8 but has {bad} bytes that are not, from offset "
            f"{first_bad}; it mixes encodings: save it again as UTF-8",
            path=source,
        )
    try:
        text = data.decode("gb18030")
    except UnicodeDecodeError:
        text = ""
    if text and _plausibly_chinese(text):
        return text
    raise ScriptError(
        f"cannot decode the file as UTF-8 or GB18030 (bad byte at offset {first_bad}"
        f"{_guess(data)}); save it as UTF-8 text",
        path=source,
    )


def _plausibly_chinese(text: str) -> bool:
    """Most non-ASCII characters of real GB text are in GB2312 (common hanzi, punctuation)."""
    ascii_count = len(text.encode("ascii", errors="ignore"))
    wide = len(text) - ascii_count
    common = (len(text.encode("gb2312", errors="ignore")) - ascii_count) // 2
    return wide < 4 or common >= 0.7 * wide


def _guess(data: bytes) -> str:
    """Name the likely encoding, so the user knows what they saved: kana mean Shift-JIS,
    Hangul means EUC-KR; otherwise Big5 if the bytes are Big5."""
    checks = (
        ("shift_jis", "Shift-JIS (Japanese)", r"[\u3040-\u30ff]"),
        ("euc_kr", "EUC-KR (Korean)", r"[\uac00-\ud7af]"),
        ("big5", "Big5 (traditional Chinese)", r"[\u4e00-\u9fff]"),
    )
    for codec, name, script in checks:
        try:
            text = data.decode(codec)
        except UnicodeDecodeError:
            continue
        wide = len(text) - len(text.encode("ascii", errors="ignore"))
        if wide and len(re.findall(script, text)) >= 0.3 * wide:
            return f"; it looks like {name}"
    return ""


def _looks_binary(text: str) -> bool:
    """Control and unassigned characters in bulk mean bytes that merely happened to decode."""
    sample = text[:_SNIFF]
    odd = sum(
        1
        for ch in sample
        if ch not in "\n\r\t\f" and unicodedata.category(ch) in ("Cc", "Cn", "Co", "Cs")
    )
    return odd > max(8, len(sample) // 50)


def read_excel_file(path: Path) -> bytes:
    """The bytes of an Excel shot list, refused past the size a Word script may have."""
    size = path.stat().st_size
    if size > MAX_DOCX_BYTES:
        raise ScriptError(
            f"the workbook is {size / 2**20:.1f} MB, more than the "
            f"{MAX_DOCX_BYTES // 2**20} MB a shot list may be; check it is the right file",
            path=str(path),
        )
    return path.read_bytes()


def read_script_file(path: Path) -> str:
    """The text of ``path``; missing, huge, empty, binary or undecodable files raise ScriptError."""
    source = str(path)
    if not path.exists():
        raise ScriptError("no such file; check the path", path=source)
    if not path.is_file():
        raise ScriptError(
            "this is a folder, not a script file; give the script's path", path=source
        )
    size = path.stat().st_size
    limit = MAX_DOCX_BYTES if path.suffix.lower() in (".docx", ".doc", ".wps") else MAX_BYTES
    if size > limit:
        raise ScriptError(
            f"the file is {size / 2**20:.1f} MB, more than the {limit // 2**20} MB a script "
            "may be; check it is the right file, or split it into one file per episode",
            path=source,
        )
    try:
        data = path.read_bytes()
    except OSError as err:
        raise ScriptError(
            f"cannot read the file ({err.strerror}); check its permissions", path=source
        ) from err
    if is_word(data):
        return normalise_newlines(docx_text(data, source))
    return decode(data, source)
