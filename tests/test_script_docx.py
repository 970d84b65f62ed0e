"""Word scripts: a .docx reads like the same text file; old .doc, foreign zips and bombs don't."""

from __future__ import annotations

import zipfile
from pathlib import Path

import docx
import pytest

from dramaforge.errors import ScriptError
from dramaforge.script import load_script
from dramaforge.script.docx import OLE_MAGIC


def _word(path: Path) -> Path:
    doc = docx.Document()
    doc.add_paragraph("《逆袭》第2集")
    doc.add_paragraph("场景1：公司会议室 / 内 / 日")
    doc.add_paragraph("△会议室里坐满了人。")
    rows = [
        ("镜号", "画面", "台词"),
        ("1", "王总拍桌而起。", "王总：这个方案谁做的？"),
        ("2", "苏晴抬起头。", "苏晴：（平静）是我。\n苏晴：我负责。"),
    ]
    table = doc.add_table(rows=len(rows), cols=3)
    for i, row in enumerate(rows):
        for j, text in enumerate(row):
            table.cell(i, j).text = text
    doc.add_paragraph("旁白：没有人想到，她会站出来。")
    doc.save(str(path))
    return path


def test_a_word_script_reads_paragraphs_and_its_shot_table_in_order(tmp_path: Path) -> None:
    script = load_script(_word(tmp_path / "ep2.docx"))
    assert (script.format, script.language, script.title) == ("marker", "zh", "《逆袭》第2集")
    assert [(s.location, s.time_of_day, s.interior) for s in script.scenes] == [
        ("公司会议室", "日", True)
    ]
    beats = [(b.kind, b.speaker, b.parenthetical, b.text) for b in script.scenes[0].beats]
    assert beats == [
        ("action", None, None, "会议室里坐满了人。"),
        ("action", None, None, "王总拍桌而起。"),
        ("dialogue", "王总", None, "这个方案谁做的？"),
        ("action", None, None, "苏晴抬起头。"),
        ("dialogue", "苏晴", "平静", "是我。"),
        ("dialogue", "苏晴", None, "我负责。"),
        ("narration", None, None, "没有人想到，她会站出来。"),
    ]


def test_an_old_binary_word_file_says_to_save_as_docx(tmp_path: Path) -> None:
    old = tmp_path / "ep.doc"
    old.write_bytes(OLE_MAGIC + b"\x00" * 4096)
    with pytest.raises(ScriptError, match=r"save it as \.docx"):
        load_script(old)


def test_a_zip_that_is_not_word_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "ep.docx"
    with zipfile.ZipFile(path, "w") as z:
        z.writestr("readme.txt", "hello")
    with pytest.raises(ScriptError, match="not a Word document"):
        load_script(path)


def test_a_zip_bomb_is_refused_before_it_is_inflated(tmp_path: Path) -> None:
    path = tmp_path / "bomb.docx"
    with zipfile.ZipFile(path, "w", compression=zipfile.ZIP_DEFLATED) as z:
        z.writestr("word/document.xml", b"<w:document/>")
        z.writestr("word/media/pad.xml", b"\0" * (40 * 1024 * 1024))
    assert path.stat().st_size < 1024 * 1024
    with pytest.raises(ScriptError, match="zip bomb"):
        load_script(path)
