"""Word documents (.docx): the way many Chinese screenwriters keep their scripts (Word, WPS).

The body is read in document order, paragraphs as lines and tables as Markdown rows
(``| 镜号 | 画面 | 台词 |``), so a 分镜表 in Word reads like one in Markdown (script/tables.py).
A .docx is a zip: its size, member count and compression ratio are checked before anything is
inflated, so a zip bomb is refused, and python-docx parses the XML without resolving entities.
"""

from __future__ import annotations

import io
import zipfile
from typing import TYPE_CHECKING

from dramaforge.errors import ScriptError

if TYPE_CHECKING:
    from docx.table import Table as WordTable

MAX_DOCX_BYTES = 20 * 1024 * 1024
"""A Word script with pasted pictures is a few MB; the text inside is still held to the
parsers' own limits."""
MAX_INFLATED = 64 * 1024 * 1024
MAX_MEMBERS = 2000
MAX_RATIO = 200
"""Real Word XML compresses 5-20x; a member that claims more than this is a bomb."""
ZIP_MAGIC = b"PK\x03\x04"
OLE_MAGIC = b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1"
"""The old binary .doc/.wps (OLE compound file): not read; the error says to save as .docx."""


def is_word(data: bytes) -> bool:
    return data.startswith((ZIP_MAGIC, OLE_MAGIC))


def docx_text(data: bytes, source: str) -> str:
    """The script text of a .docx, or ScriptError for an old .doc, a bomb or a broken file."""
    if data.startswith(OLE_MAGIC):
        raise ScriptError(
            "this is an old Word/WPS document (.doc/.wps); save it as .docx or as UTF-8 text",
            path=source,
        )
    _check_zip(data, source)
    from docx import Document  # imported here: only .docx readers pay for lxml
    from docx.table import Table

    try:
        document = Document(io.BytesIO(data))
    except Exception as err:  # python-docx raises KeyError, ValueError, lxml errors, ...
        raise ScriptError(
            f"cannot read the Word document ({type(err).__name__}); open it and save it again "
            "as .docx or as UTF-8 text",
            path=source,
        ) from err
    lines: list[str] = []
    for block in document.iter_inner_content():
        if isinstance(block, Table):
            lines.extend(_rows(block))
        else:
            lines.extend(block.text.split("\n"))
    text = "\n".join(lines)
    if not text.strip():
        raise ScriptError("the Word document has no text; write at least one scene", path=source)
    return text


def _check_zip(data: bytes, source: str) -> None:
    try:
        archive = zipfile.ZipFile(io.BytesIO(data))
    except zipfile.BadZipFile as err:
        raise ScriptError(
            "this is a zip file but not a Word document; give a .docx or a text file",
            path=source,
        ) from err
    with archive:
        members = archive.infolist()
        if "word/document.xml" not in archive.namelist():
            raise ScriptError(
                "this is a zip file but not a Word document; give a .docx or a text file",
                path=source,
            )
        inflated = sum(m.file_size for m in members)
        bomb = any(m.file_size > MAX_RATIO * max(m.compress_size, 1) for m in members)
        if len(members) > MAX_MEMBERS or inflated > MAX_INFLATED or bomb:
            raise ScriptError(
                "the Word document unpacks to far more than a script (a zip bomb?); "
                "save the script as UTF-8 text",
                path=source,
            )


def _rows(table: WordTable) -> list[str]:
    """A Word table as Markdown rows, cells' line breaks as ``<br>``; a blank line around it."""
    rows = [""]
    for row in table.rows:
        cells = [c.text.strip().replace("\n", "<br>").replace("|", "｜") for c in row.cells]
        rows.append("| " + " | ".join(cells) + " |")
    rows.append("")
    return rows
