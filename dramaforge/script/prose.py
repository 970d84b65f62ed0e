"""Plain prose: a paragraph or a one-line idea becomes narrated scenes, one per paragraph.

This is the fallback for text in no other format, so that "a cat waits for the rain to stop"
renders as it is. Each sentence is narrated; the first sentence of a paragraph is also its
visual. A ``# Title`` line names the script; other ``#`` or ``//`` lines are notes, and a
novel's chapter lines (``第一章 雨夜``, ``Chapter 2``) end a paragraph without being read out.
"""

from __future__ import annotations

import re
from bisect import bisect_right

from dramaforge.schema import Beat, Language, Scene, Script
from dramaforge.script.detect import detect_language
from dramaforge.script.finish import finish, heading_title

ENDS = "。！？!?…"
CLOSERS = "”’\"'」』）)"
HINT = "write at least one sentence that is not a # or // comment"
CHAPTER = re.compile(
    r"^(?:第[\d一二三四五六七八九十百零两]{1,6}[章节回卷]|(?:chapter|part)\s+\w{1,12}\b)"
    r"[^。！？!?]{0,30}$",
    re.IGNORECASE,
)
"""``第一章 雨夜`` / ``Chapter 2``: a novel's structure, a title for the reader, not a line."""
TIME_WORDS = re.compile(
    r"深夜|半夜|夜里|夜晚|晚上|傍晚|黄昏|清晨|早上|早晨|凌晨|黎明|中午|下午|上午"
    r"|\b(?:midnight|night|evening|dusk|dawn|morning|afternoon|sunset|sunrise)\b",
    re.IGNORECASE,
)
"""A paragraph that says when it happens (``那天晚上…``, ``At dawn…``) lights its keyframe so."""


def split_sentences(text: str) -> list[tuple[int, str]]:
    """(offset, sentence) pairs. Ends at 。！？!? and at a full stop followed by a space, so
    ``3.5`` and ``example.com`` stay whole; closing quotes stay with their sentence."""
    sentences: list[tuple[int, str]] = []
    start = i = 0
    while i < len(text):
        ch = text[i]
        i += 1
        ends = ch in ENDS or (ch == "." and (i == len(text) or text[i] in " \n" + CLOSERS))
        if not ends:
            continue
        while i < len(text) and (text[i] in ENDS + "." or text[i] in CLOSERS):
            i += 1
        _keep(sentences, text, start, i)
        start = i
    _keep(sentences, text, start, len(text))
    return sentences


def _keep(out: list[tuple[int, str]], text: str, start: int, end: int) -> None:
    chunk = text[start:end]
    if chunk.strip():
        out.append((start + len(chunk) - len(chunk.lstrip()), chunk.strip()))


def parse(text: str, source: str) -> Script:
    title = ""
    scenes: list[Scene] = []
    paragraph: list[tuple[int, str]] = []
    for number, raw in enumerate([*text.split("\n"), ""], start=1):
        line = raw.strip()
        if line.startswith("#") or CHAPTER.match(line):
            if not title and not scenes and not paragraph:
                title = heading_title(line) or ""
            if paragraph:  # a chapter line ends the paragraph before it, and is not narrated
                scenes.append(_scene(len(scenes) + 1, paragraph))
                paragraph = []
        elif line.startswith("//"):
            continue
        elif line:
            paragraph.append((number, line))
        elif paragraph:
            scenes.append(_scene(len(scenes) + 1, paragraph))
            paragraph = []
    language = detect_language(text)
    if not title and scenes:
        title = _title_from(scenes[0].beats[0].text, language)
    return finish(
        text=text,
        source=source,
        format="prose",
        scenes=scenes,
        title=title,
        hint=HINT,
        language=language,
    )


def _scene(index: int, paragraph: list[tuple[int, str]]) -> Scene:
    """One scene from a paragraph; each beat keeps the line its sentence starts on."""
    body, starts = "", []
    for number, line in paragraph:
        if body and not (body[-1] in ENDS + "，、" or _is_cjk_edge(body[-1], line[0])):
            body += " "
        starts.append((len(body), number))
        body += line
    sentences = split_sentences(body)

    offsets = [at for at, _ in starts]

    def line_of(offset: int) -> int:
        return starts[bisect_right(offsets, offset) - 1][1]

    first = sentences[0][1]
    beats = [Beat(kind="action", text=first, source_line=line_of(sentences[0][0]))]
    beats += [Beat(kind="narration", text=s, source_line=line_of(at)) for at, s in sentences]
    when = TIME_WORDS.search(first)
    return Scene(
        index=index,
        heading=_clip(first, 24),
        time_of_day=when.group(0) if when else "",
        beats=beats,
        source_line=paragraph[0][0],
    )


def _is_cjk_edge(left: str, right: str) -> bool:
    """Chinese text wrapped across lines joins without a space."""
    return "\u4e00" <= left <= "\u9fff" or "\u4e00" <= right <= "\u9fff"


def _clip(text: str, limit: int) -> str:
    text = text.rstrip(ENDS + ".,，" + CLOSERS)
    return text if len(text) <= limit else text[: limit - 1].rstrip() + "…"


def _title_from(first: str, language: Language) -> str:
    """The first few words of the first sentence: twelve characters, or six English words."""
    words = first.split()
    short = first[:12] if language == "zh" else " ".join(words[:6])
    return _clip(short, 48)
