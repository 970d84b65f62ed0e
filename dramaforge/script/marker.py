"""Marker scripts: 短剧 Markdown, 场景/画面/对白/旁白 markers, WeChat-style lines, subtitles.

Scripts written for short-drama platforms vary, and a writer should not have to reformat
theirs. A header block (``# 标题``, ``风格：``, ``角色：`` with ``- 林小雨：…`` items, ``简介：``,
``集数：``, or YAML-like front matter between ``---`` lines) is metadata, never a speaker.
Scenes start with any heading ``headings.parse_heading`` knows. In a scene, markers may be in
【】 or [] or bare, followed by a full-width or ASCII colon; a bare ``名字：台词`` line is
dialogue, ``名字（动作）：台词`` carries a parenthetical and ``△`` starts an action line; a line
``（en）Hello.`` (or ``(zh) 你好。``) right after a spoken line is the writer's translation of
it, for bilingual subtitles, and is never spoken. The
same parser reads English bracket markers ([Scene], [Visual], [Narration], [SFX], [Music])
with ``Name: line`` dialogue, subtitle files and chat-log exports.

Every test of a line is a bounded pattern or a string method, so no line makes it backtrack.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

from dramaforge.errors import ScriptError
from dramaforge.schema import Beat, BeatKind, Character, Scene, Script
from dramaforge.script import tables, transcripts
from dramaforge.script.cast import BULLET, cast_entries, split_outside_parens
from dramaforge.script.finish import finish, heading_title
from dramaforge.script.headings import (
    Heading,
    markdown_level,
    parse_heading,
    split_place,
    strip_markup,
)
from dramaforge.script.labels import LABELS, Label, keyed, label_of
from dramaforge.script.places import place_kind
from dramaforge.script.shotlist import listed_row
from dramaforge.script.speakers import (
    LATIN_SPEECH,
    LEADING_PAREN,
    PAREN_ONLY,
    SPEECH,
    TIMECODE,
    cue_names,
    is_speaker,
    said_by,
    speech_beat,
    spoken_beat,
)

BEAT_KINDS: dict[str, BeatKind] = {
    "action": "action",
    "narration": "narration",
    "sfx": "sfx",
    "music": "music",
}
TRANSLATION = re.compile(r"^[（(](?:en|zh|EN|ZH)[）)]\s*(?P<text>\S.{0,400})$")
RULE = re.compile(r"^(?:[-*_=~]\s*){3,}$|^```")
SECTIONS: dict[str, Label] = {"正文": "skip", "剧本": "skip", "剧本正文": "skip", "script": "skip"}
HINT = (
    "start each scene with a line such as 【场景1】教室 - 白天 - 内 (or [Scene 1] Classroom - Day)"
)


@dataclass
class _State:
    source: str
    title: str = ""
    style: list[str] = field(default_factory=list)
    logline: list[str] = field(default_factory=list)
    cast: list[Character] = field(default_factory=list)
    names: set[str] = field(default_factory=set)
    section: Label | None = None
    """The block being read: ``cast``, ``logline``, ``style`` or ``meta`` after a ``角色：`` or
    ``## 角色`` line with nothing after it; None in the body."""
    section_filled: bool = False
    section_markdown: bool = False
    """A ``## 角色`` section lasts to the next heading; a ``角色：`` block to a blank line."""
    pending: BeatKind | None = None
    chat_speaker: str | None = None
    cues: set[str] = field(default_factory=set)
    """Names this file writes alone above their speech (``speech.cue_names``)."""
    cue: tuple[str, str | None] | None = None
    """The cue (name, parenthetical) whose speech the next lines are, to a blank line."""
    subtitles: bool = False
    chat: bool = False
    scene_level: int = 0
    table: dict[int, tables.Role] | None = None
    """The column roles of the table being read (from its header row)."""
    table_head: list[str] = field(default_factory=list)
    listed: dict[int, int] = field(default_factory=dict)
    """Per scene, the beats its 分镜表 rows gave (all of them: its shots are kept as listed)."""
    scenes: list[Scene] = field(default_factory=list)

    def scene(self, line: int) -> Scene:
        """The scene being written; lines before any scene heading open an untitled one."""
        if not self.scenes:
            self.scenes.append(Scene(index=1, heading="", source_line=line))
        return self.scenes[-1]

    def add_cast(self, people: list[Character]) -> None:
        self.cast.extend(people)
        self.names.update(p.name for p in people)


def parse(text: str, source: str) -> Script:
    lines = text.split("\n")
    st = _State(
        source, subtitles=transcripts.is_subtitles(lines), chat=transcripts.is_chat_log(lines)
    )
    st.cues = cue_names(lines)
    front = _front_matter(lines)
    for number, raw in enumerate(lines, start=1):
        line = raw.strip()
        if number <= front:
            if (pair := keyed(line)) is not None:
                _labelled(st, label_of(pair[0], in_header=True), pair[1], number, line)
        elif not line:
            st.table = st.cue = None
            if st.section_filled and not st.section_markdown:
                st.section = None
        elif _structure(line, st):
            continue
        elif (row := tables.cells(line)) is not None:
            _row(st, row, number)
        elif st.chat and (name := transcripts.chat_speaker(line)) is not None:
            st.chat_speaker, st.section = name, None
        elif level := markdown_level(line):
            _markdown(st, line, level, number)
        else:
            _line(st, line, number)
    for scene in st.scenes:  # a scene with beats outside its 分镜表 is cut by the director
        if scene.shots and st.listed.get(scene.index) != len(scene.beats):
            scene.shots = []
    return finish(
        text=text,
        source=source,
        format="marker",
        scenes=st.scenes,
        characters=st.cast,
        title=st.title,
        hint=HINT,
        logline=" ".join(st.logline),
        style="，".join(st.style) if _is_zh(st.style) else ", ".join(st.style),
    )


def _structure(line: str, st: _State) -> bool:
    """Comments, rules, fences and subtitle numbering: nothing to read."""
    if line.startswith(("//", "<!--")) or RULE.match(line):
        return True
    return st.subtitles and transcripts.subtitle_structure(line)


def _is_zh(parts: list[str]) -> bool:
    return any(not p.isascii() for p in parts)


def _front_matter(lines: list[str]) -> int:
    """The last line number of ``---`` front matter at the top of the file, or 0."""
    first = next((i for i, ln in enumerate(lines[:50]) if ln.strip()), None)
    if first is None or lines[first].strip() != "---":
        return 0
    for i in range(first + 1, min(len(lines), first + 60)):
        if lines[i].strip() in ("---", "..."):
            return i + 1
    return 0


def _markdown(st: _State, line: str, level: int, number: int) -> None:
    """A ``#`` heading: the title, a header section (``## 角色``), a scene, or a note."""
    body = strip_markup(line[level:])
    key = body.rstrip("：: ").lower()
    label = LABELS.get(key) or SECTIONS.get(key)
    st.pending, st.section_markdown = None, False
    if label is None and (pair := keyed(body)) is not None:
        label = label_of(pair[0], in_header=not st.scenes)
        if label in ("title", "style", "logline", "meta", "cast"):
            _labelled(st, label, pair[1], number, body)
            return
    if label in ("cast", "logline", "style", "meta", "skip") and label is not None:
        st.section, st.section_filled, st.section_markdown = label, False, True
        return
    st.section = None
    heading = parse_heading(line)
    if heading is None and st.scene_level and level == st.scene_level:
        heading = Heading(body, body)  # writers who head scenes ## 尾声 do it throughout
    if heading is not None:
        st.scene_level = st.scene_level or level
        _new_scene(st, heading, number)
    elif not st.title and not st.scenes:
        st.title = heading_title(line) or ""


def _new_scene(st: _State, heading: Heading, number: int) -> None:
    """Open a scene; inside or outside comes from the place (a 走廊 is inside) when the
    heading does not say."""
    st.section, st.pending, st.chat_speaker, st.cue = None, None, None, None
    interior = heading.interior
    if interior is None and heading.location:
        interior = place_kind(heading.location)[1]
    st.scenes.append(
        Scene(
            index=len(st.scenes) + 1,
            heading=heading.text,
            location=heading.location,
            time_of_day=heading.time_of_day,
            interior=interior,
            source_line=number,
        )
    )


def _row(st: _State, row: list[str], number: int) -> None:
    """A Markdown table row: the header names the columns, later rows are beats."""
    if tables.is_separator(row):
        return
    if st.table is None and (roles := tables.header(row)) is not None:
        st.table, st.section, st.table_head = roles, None, row
        return
    scene = st.scene(number)
    before = len(scene.beats)
    made = tables.beats(row, st.table, st.names, number)
    for beat in made:
        if beat.kind == "dialogue":
            _speak(st, beat, number)
        else:
            scene.beats.append(beat)
    if st.table is not None and (shot := listed_row(st.table_head, row, made)) is not None:
        scene.shots.append(shot)
        st.listed[scene.index] = st.listed.get(scene.index, 0) + len(scene.beats) - before


def _line(st: _State, line: str, number: int) -> None:
    line = TIMECODE.sub("", strip_markup(line), count=1)
    bullet = BULLET.match(line)
    text = line[bullet.end() :] if bullet else line
    if transcripts.PLACEHOLDER.match(text):  # [图片], [表情]: a chat's attachment, not a line
        return
    if (translated := TRANSLATION.match(text)) and _translation(st, translated, number):
        return
    if st.section is not None and st.section != "skip":
        if parse_heading(text) is None and (
            (pair := keyed(text)) is None or label_of(pair[0], in_header=True) is None
        ):
            _section_line(st, text)
            return
        st.section = None
    if (heading := parse_heading(line)) is not None:
        _new_scene(st, heading, number)
        return
    label, rest = _label(text, in_header=not st.scenes)
    pending, st.pending = st.pending, None
    if label is None:
        _plain(st, text, number, pending)
    else:
        _labelled(st, label, rest, number, text)


def _section_line(st: _State, text: str) -> None:
    st.section_filled = True
    if st.section == "cast":
        st.add_cast(cast_entries(text))
    elif st.section == "logline":
        st.logline.append(text)
    elif st.section == "style":
        st.style.append(text)


def _labelled(st: _State, label: Label | None, rest: str, number: int, line: str) -> None:
    if label is None or label == "skip":
        return
    if label == "scene":
        _new_scene(st, parse_heading(f"场景：{rest}") or Heading(rest, rest), number)
    elif label in ("cast", "logline", "style"):
        _header_field(st, label, rest)
    elif label == "title":
        st.title = st.title or rest
    elif label in ("time", "place"):
        if st.scenes:
            _place(st, label, rest)
    elif label == "dialogue":
        speech = SPEECH.match(rest)
        if speech is None:
            raise ScriptError(
                "a 对白 line needs a speaker: write 【对白】名字：台词", path=st.source, line=number
            )
        _speak(st, speech_beat(speech, number), number)
    elif (kind := BEAT_KINDS.get(label)) is not None:
        if rest:
            st.scene(number).beats.append(Beat(kind=kind, text=rest, source_line=number))
        else:  # 【旁白】 alone on its line: the text follows on the next line
            st.pending = kind


def _header_field(st: _State, label: Label, rest: str) -> None:
    """``角色：``/``简介：``/``风格：`` with its value, or opening a block of them."""
    if label == "cast":
        st.add_cast([c for part in split_outside_parens(rest) for c in cast_entries(part)])
    elif rest:
        (st.logline if label == "logline" else st.style).append(rest)
    if not rest and not st.scenes:  # a block follows in the header; in a scene, nothing
        st.section, st.section_filled, st.section_markdown = label, False, False


def _place(st: _State, label: Label, rest: str) -> None:
    """``时间：傍晚`` / ``地点：走廊`` under a bare ``第二场``: fill the scene, and its heading
    when it had none, so the keyframes see the place too."""
    scene = st.scenes[-1]
    update: dict[str, object] = {"time_of_day" if label == "time" else "location": rest}
    if label == "place":
        place = split_place(rest)
        update["location"] = place.location or rest
        if scene.interior is None:
            update["interior"] = (
                place.interior
                if place.interior is not None
                else (place_kind(place.location or rest)[1])
            )
    merged = scene.model_copy(update=update)
    if not scene.heading or scene.heading == f"{scene.location} {scene.time_of_day}".strip():
        merged.heading = f"{merged.location} {merged.time_of_day}".strip()
    st.scenes[-1] = merged


def _label(line: str, *, in_header: bool) -> tuple[Label | None, str]:
    """What a line's marker says it is, and the text after the marker.

    Unknown bracketed text such as 【林小雨转身离开】 is a stage direction, so it reads as action;
    a known kind in round brackets (``（旁白）…``, ``(SFX) …``) is that kind, like 【旁白】.
    """
    if line[:1] in "【[":
        close = next((i for i, ch in enumerate(line[:42]) if ch in "】]"), -1)
        if close > 1:
            label = line[1:close].strip()
            rest = line[close + 1 :].strip().lstrip("：:").strip()
            key = re.sub(r"\s*[\d一二三四五六七八九十]{1,3}$", "", label).lower()
            kind = label_of(key, in_header=in_header)
            if kind is None and not rest and (pair := keyed(label)) is not None:
                key, rest = pair  # [SFX: a book falls]
                kind = label_of(key, in_header=in_header)
            if kind is None or kind == "meta":
                return "action", f"{label} {rest}".strip()
            return kind, rest
    if (pair := keyed(line)) is not None:
        kind = label_of(pair[0], in_header=in_header)
        if kind is not None and kind != "scene":
            return kind, pair[1]
    if (paren := LEADING_PAREN.match(line)) is not None:  # （旁白）那天之后…, (SFX) thunder
        kind = label_of(paren.group("paren").strip().lower(), in_header=False)
        if kind in BEAT_KINDS:
            return kind, paren.group("text").strip()
    return None, line


def _plain(st: _State, line: str, number: int, pending: BeatKind | None) -> None:
    """A line with no marker: the kind of a bare marker on the line before, dialogue if it
    reads ``名字：台词`` (or follows a chat stamp), else action; in a subtitle file, narration
    (before the first scene: the title, then the logline)."""
    speech = SPEECH.match(line) or LATIN_SPEECH.match(line)
    if st.cue is not None or (line in st.cues and st.scenes):
        _cued(st, line, number)
    elif pending is not None:
        st.scene(number).beats.append(Beat(kind=pending, text=line, source_line=number))
    elif speech and is_speaker(speech.group("name").strip(), st.names):
        _speak(st, speech_beat(speech, number), number)
    elif speech and (who := said_by(speech.group("name").strip(), speech["text"], st.names)):
        _speak(st, spoken_beat(who, speech.group("paren"), speech["text"], number), number)
    elif st.chat_speaker is not None:
        _speak(st, Beat(kind="dialogue", speaker=st.chat_speaker, text=line), number)
    elif st.subtitles:
        kind: BeatKind = "music" if line.startswith(("♪", "♫")) else "narration"
        st.scene(number).beats.append(Beat(kind=kind, text=line.strip("♪♫ "), source_line=number))
    elif st.scenes:
        st.scenes[-1].beats.append(Beat(kind="action", text=line, source_line=number))
    elif not st.title:
        st.title = line
    else:
        st.logline.append(line)


def _cued(st: _State, line: str, number: int) -> None:
    """A cue name, its ``（小声）`` line, or a line of the cued speech."""
    if st.cue is None:
        st.cue = (line, None)
    elif PAREN_ONLY.match(line):
        st.cue = (st.cue[0], line[1:-1].strip())
    else:
        _speak(st, spoken_beat(st.cue[0], st.cue[1], line, number), number)


def _speak(st: _State, beat: Beat, number: int) -> None:
    """Add a spoken line without sticker codes (``[捂脸]``); a line of only stickers is dropped."""
    text = transcripts.spoken(beat.text)
    if text:
        beat = beat.model_copy(update={"text": text, "source_line": number})
        st.scene(number).beats.append(beat)


def _translation(st: _State, m: re.Match[str], number: int) -> bool:
    """Attach ``（en）…`` to the spoken line on the line just above; False if there is none
    (then it is read as any other line)."""
    beats = st.scenes[-1].beats if st.scenes else []
    last = beats[-1] if beats else None
    if last is None or last.kind not in ("dialogue", "narration"):
        return False
    if last.source_line != number - 1 or last.translation is not None:
        return False
    beats[-1] = last.model_copy(update={"translation": m.group("text").strip()})
    return True
