"""Markdown tables in scripts: the 分镜表 and ``| 角色 | 台词 |`` tables of writers and models.

A header row names the columns (镜号, 景别, 画面, 台词, 音效, 时长 …); each later row gives the
beats of its cells in reading order: what is seen, said, heard. Columns a render does not use
(shot number, framing, duration) are read past. A table without a header is read row by row:
``| 林晓 | 你好。 |`` is a line of dialogue, anything else is action.
"""

from __future__ import annotations

import re
from typing import Literal

from dramaforge.schema import Beat
from dramaforge.script.speakers import LATIN_SPEECH, SPEECH, is_speaker, speech_beat, spoken_beat

Role = Literal["speaker", "line", "action", "narration", "sfx", "music"]
_COLUMNS: tuple[tuple[Role, str], ...] = (
    ("speaker", "角色|人物|说话人|讲话人|name|character|speaker|who"),
    ("line", "台词|对白|对话|台词/旁白|对白/旁白|dialogue|line|lines|dialogue/vo"),
    (
        "action",
        "画面|画面内容|画面描述|镜头内容|镜头描述|内容|动作|场景描述|visual|visuals"
        "|action|description|picture",
    ),
    ("narration", "旁白|画外音|旁白/字幕|narration|voiceover|voice-over|vo"),
    ("sfx", "音效|声音|sfx|sound|sound effects"),
    ("music", "音乐|背景音乐|配乐|bgm|music"),
)
_ROLES: dict[str, Role] = {word: role for role, words in _COLUMNS for word in words.split("|")}
ORDER: tuple[Role, ...] = ("action", "narration", "line", "sfx", "music")
SEPARATOR = re.compile(r"^:?-{2,}:?$")
EMPTY = {"", "-", "—", "——", "/", "无", "none", "n/a", "…"}


def cells(line: str) -> list[str] | None:
    """The cells of a table row ``| a | b |``; None for a line that is not one."""
    if len(line) < 3 or not (line.startswith("|") and line.endswith("|")):
        return None
    return [c.strip() for c in line[1:-1].split("|")]


def is_separator(row: list[str]) -> bool:
    return all(SEPARATOR.match(c.replace(" ", "")) for c in row)


def header(row: list[str]) -> dict[int, Role] | None:
    """Column roles if ``row`` is a header that names something to render, else None."""
    roles = {
        i: _ROLES[c.strip("*_ ").lower()]
        for i, c in enumerate(row)
        if c.strip("*_ ").lower() in _ROLES
    }
    return roles if set(roles.values()) & {"line", "action", "narration"} else None


def beats(
    row: list[str], roles: dict[int, Role] | None, names: set[str], number: int
) -> list[Beat]:
    """The beats one row holds, in the order a viewer meets them."""
    if roles is None:
        return _headless(row, names, number)
    by_role: dict[Role, str] = {role: row[i] for i, role in roles.items() if i < len(row)}
    speaker = by_role.get("speaker", "").strip("*_ ")
    out: list[Beat] = []
    for role in ORDER:
        for text in _parts(by_role.get(role, "")):
            if role == "line":
                out.append(_spoken(text, speaker, names, number))
            else:
                kind = "action" if role == "action" else role
                out.append(Beat(kind=kind, text=text, source_line=number))
    return out


def _parts(cell: str) -> list[str]:
    """A cell's lines (``<br>`` breaks them), without the empty markers writers leave."""
    parts = re.split(r"<br\s*/?>", cell, flags=re.IGNORECASE)
    return [p.strip() for p in parts if p.strip().lower() not in EMPTY]


def _spoken(text: str, speaker: str, names: set[str], number: int) -> Beat:
    """A 台词 cell: ``林晓：你好`` names its speaker; otherwise the speaker column's, or a
    narrator's when there is none."""
    m = SPEECH.match(text) or LATIN_SPEECH.match(text)
    if m is not None and is_speaker(m.group("name").strip(), names):
        return speech_beat(m, number)
    if speaker and speaker.lower() not in EMPTY:
        return spoken_beat(speaker, None, text, number)
    return Beat(kind="narration", text=text, source_line=number)


def _headless(row: list[str], names: set[str], number: int) -> list[Beat]:
    filled = [c for c in row if c.lower() not in EMPTY]
    if len(filled) == 2 and is_speaker(filled[0].strip("*_ "), names):
        return [_spoken(filled[1], filled[0].strip("*_ "), names, number)]
    text = " ".join(filled)
    return [Beat(kind="action", text=text, source_line=number)] if text else []
