"""Who says what on one line: ``名字：台词``, ``Name (quietly): line``, ``林晓说：“…”``.

Every pattern is bounded, so no line makes one backtrack.
"""

from __future__ import annotations

import re
from collections import Counter

from dramaforge.schema import Beat
from dramaforge.script.labels import NARRATORS

SPEECH = re.compile(
    r"^(?P<name>[^\s：:，。！？,.!?;；（(【\[“\"]{1,24}?)\s*"
    r"(?:[（(](?P<paren>[^）)]{0,80})[）)]\s*)?[：:]\s*(?P<text>\S.*)$"
)
LATIN_SPEECH = re.compile(  # ``Ms. Green: …``, ``Old Man (quietly): …``
    r"^(?P<name>[A-Z][A-Za-z'.\-]{0,20}(?: [A-Z][A-Za-z'.\-]{0,20}){0,2}) ?"
    r"(?:\((?P<paren>[^)]{0,80})\) ?)?: ?(?P<text>\S.*)$"
)
LEADING_PAREN = re.compile(r"^[（(](?P<paren>[^）)]{0,80})[）)]\s*(?P<text>.+)$")
TIMECODE = re.compile(r"^\[?\d{1,2}:\d{2}(?::\d{2})?(?:[.,]\d{1,3})?\]?\s+(?=\S)")
"""``00:15 小雨：…`` or ``[01:02] Anna: …``: a writer's timing note before the line."""
SAID = re.compile(
    r"^(?P<name>.{1,8}?)(?:笑着|小声|大声|轻声|低声|冷冷地|冷冷)?(?:说道|问道|喊道|笑道|说|道|问|喊)$"
)
"""``林晓说``, ``陈默低声问``: prose that names the speaker before the quote."""
QUOTED = ("“", '"', "「")
CUE = re.compile(r"^[\u4e00-\u9fff·]{2,4}$")
PAREN_ONLY = re.compile(r"^[（(][^）)]{1,40}[）)]$")


def is_speaker(name: str, names: set[str]) -> bool:
    """A short name, not a clause: ``林小雨`` or ``Maya`` yes; ``他笑着说``, ``note to self`` no."""
    if name in names or name.lower() in NARRATORS:
        return True
    if not re.search(r"[A-Za-z\u4e00-\u9fff]", name):
        return False
    if re.search(r"[\u4e00-\u9fff]", name):
        return len(name) <= 8 and not re.search(r"(说|道|问|想着|的时候)$", name)
    return len(name) <= 24 and len(name.split()) <= 3 and name[:1].isupper()


def said_by(name: str, text: str, names: set[str]) -> str | None:
    """The speaker of ``林晓说：“没关系。”``: a known name (or a short one, when the words are
    quoted) before a verb of saying; None when the line is prose."""
    m = SAID.match(name)
    if m is None:
        return None
    who = m.group("name")
    if who in names or (text.startswith(QUOTED) and is_speaker(who, names)):
        return who
    return None


def speech_beat(m: re.Match[str], line: int) -> Beat:
    """The beat a SPEECH or LATIN_SPEECH match says."""
    return spoken_beat(m.group("name").strip(), m.group("paren"), m.group("text"), line)


def spoken_beat(name: str, paren: str | None, text: str, line: int) -> Beat:
    """Dialogue by ``name``, or narration for a narrator's name; a leading ``（小声）`` in the
    words is the parenthetical, and typographic quotes are dropped."""
    if name.isascii() and name.isupper():
        name = name.title()  # ``KAI:`` reads as ``Kai`` in subtitles, as in Fountain
    text = text.strip()
    if paren is None and (lead := LEADING_PAREN.match(text)):
        paren, text = lead.group("paren"), lead.group("text")
    text = unquote(text)
    if name.lower() in NARRATORS:
        return Beat(kind="narration", text=text, source_line=line)
    return Beat(
        kind="dialogue",
        speaker=name,
        text=text,
        parenthetical=paren.strip() if paren else None,
        source_line=line,
    )


def unquote(text: str) -> str:
    """``“你好。”`` -> ``你好。``: the quotes are typography, not something to speak."""
    for left, right in (("“", "”"), ('"', '"'), ("「", "」")):
        inner = text[1:-1]
        if text.startswith(left) and text.endswith(right) and left not in inner:
            return inner.strip()
    return text


def cue_names(lines: list[str]) -> set[str]:
    """Names written alone on a line above their speech, as Chinese screenplays do::

        林晓
        （小声）
        你昨天为什么没来？

    A short name alone after a blank line, with text under it, is a cue once the file shows
    that it writes speech this way: the name heads a block more than once, or a
    parenthetical follows one. Then every such name in the file is a cue."""
    heads: Counter[str] = Counter()
    styled = False
    for i, raw in enumerate(lines):
        line = raw.strip()
        below = lines[i + 1].strip() if i + 1 < len(lines) else ""
        if CUE.match(line) and below and (i == 0 or not lines[i - 1].strip()):
            heads[line] += 1
            styled = styled or heads[line] > 1 or bool(PAREN_ONLY.match(below))
    return set(heads) if styled else set()
