"""Chinese marker scripts (场景/画面/对白/旁白/音效/背景音乐), the short-drama house format.

Scripts written for short-drama platforms vary in small ways, and a writer should not have to
reformat theirs: markers may be in 【】 or [] or bare, followed by a full-width or ASCII colon;
scenes start with 场景N, 第N场 or a numbered heading such as ``1-1 教室 日 内``; a bare
``名字：台词`` line is dialogue and ``名字（动作）：台词`` carries a parenthetical. The cast
comes from a 人物/角色 line or block. The same parser reads English bracket markers
([Scene], [Visual], [Narration], [SFX], [Music]) with ``Name: line`` dialogue.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Literal

from dramaforge.errors import ScriptError
from dramaforge.schema import Beat, BeatKind, Character, Scene, Script
from dramaforge.script.finish import finish, heading_title

Label = Literal[
    "scene", "cast", "title", "logline", "time", "place", "skip",
    "action", "dialogue", "narration", "sfx", "music",
]  # fmt: skip

LABELS: dict[str, Label] = {
    **dict.fromkeys(("场景", "场", "scene"), "scene"),
    **dict.fromkeys(
        ("人物", "角色", "主要人物", "出场人物", "characters", "character", "cast"), "cast"
    ),
    **dict.fromkeys(("标题", "剧名", "片名", "title"), "title"),
    **dict.fromkeys(("简介", "梗概", "故事梗概", "剧情简介", "logline", "synopsis"), "logline"),
    **dict.fromkeys(("时间", "time"), "time"),
    **dict.fromkeys(("地点", "场地", "location", "place"), "place"),
    **dict.fromkeys(("转场", "切换", "切至", "黑屏", "淡入", "淡出", "transition", "cut"), "skip"),
    **dict.fromkeys(("画面", "镜头", "动作", "字幕", "visual", "action", "shot"), "action"),
    **dict.fromkeys(("对白", "台词", "dialogue"), "dialogue"),
    **dict.fromkeys(
        ("旁白", "画外音", "独白", "narration", "narrator", "voiceover", "vo", "v.o."), "narration"
    ),
    **dict.fromkeys(("音效", "声音", "sfx", "sound"), "sfx"),
    **dict.fromkeys(("背景音乐", "音乐", "配乐", "bgm", "music"), "music"),
}
BEAT_KINDS: dict[str, BeatKind] = {
    "action": "action", "narration": "narration", "sfx": "sfx", "music": "music",
}  # fmt: skip
NARRATORS = {k for k, v in LABELS.items() if v == "narration"}

_NUM = r"[\d一二三四五六七八九十百零]+"
BRACKETED = re.compile(r"^[【\[]\s*(?P<label>[^】\]]+?)\s*[】\]]\s*[：:]?\s*(?P<rest>.*)$")
BARE = re.compile(rf"^(?P<label>[^\s：:\d]{{1,12}}?)\s*(?:{_NUM})?\s*[：:]\s*(?P<rest>.*)$")
SCENE_LABEL = re.compile(
    rf"^(?:场景\s*(?:{_NUM})?|第\s*{_NUM}\s*场|scene\b\s*\d*)\s*[：:.、]?\s*", re.IGNORECASE
)
BARE_SCENE = re.compile(
    rf"^(?:场景\s*{_NUM}|第\s*{_NUM}\s*场|scene\s+\d+)\s*[：:.、]?\s*(?P<rest>.*)$", re.IGNORECASE
)
NUMBERED_SCENE = re.compile(r"^\d+(?:-\d+)?[.、]?\s+(?P<rest>[^。！？!?]{1,30})$")
SPEECH = re.compile(
    r"^(?P<name>[^\s：:，。！？,.!?;；（(【\[“\"]{1,24}?)\s*"
    r"(?:[（(](?P<paren>[^）)]*)[）)])?\s*[：:]\s*(?P<text>\S.*)$"
)
LEADING_PAREN = re.compile(r"^[（(](?P<paren>[^）)]*)[）)]\s*(?P<text>.+)$")
CAST_ENTRY = re.compile(
    r"^(?:[-*•]\s*|\d+[.、]\s*)?(?P<name>[^：:（(\-—–]+?)\s*"
    r"(?:[（(](?P<d1>[^）)]*)[）)])?\s*(?:[：:\-—–]\s*(?P<d2>.*))?$"
)
TIMES = {
    "清晨", "早晨", "早上", "上午", "中午", "午后", "下午", "傍晚", "黄昏", "白天", "日", "晚上",
    "夜晚", "深夜", "夜", "凌晨", "黎明", "day", "night", "dusk", "dawn", "morning", "noon",
    "afternoon", "evening", "sunset", "sunrise",
}  # fmt: skip
INSIDE = {"内", "室内", "内景", "int", "int.", "interior"}
OUTSIDE = {"外", "室外", "外景", "ext", "ext.", "exterior"}
_SEPARATORS = r"\s+[-–—|]\s+|[/，,、·]|(?<=[\u4e00-\u9fff])[-–—](?=[\u4e00-\u9fff])"
HINT = (
    "start each scene with a line such as 【场景1】教室 - 白天 - 内 (or [Scene 1] Classroom - Day)"
)


@dataclass
class _State:
    source: str
    title: str = ""
    logline: list[str] = field(default_factory=list)
    cast: list[Character] = field(default_factory=list)
    in_cast_block: bool = False
    pending: BeatKind | None = None
    scenes: list[Scene] = field(default_factory=list)

    def scene(self, line: int) -> Scene:
        """The scene being written; lines before any scene heading open an untitled one."""
        if not self.scenes:
            self.scenes.append(_scene(1, "", line))
        return self.scenes[-1]

    def known(self, name: str) -> bool:
        return any(c.name == name for c in self.cast)


def parse(text: str, source: str) -> Script:
    st = _State(source)
    for number, raw in enumerate(text.split("\n"), start=1):
        line = raw.strip()
        if not line:
            st.in_cast_block = False
        elif line.startswith("//"):
            continue
        elif line.startswith("#"):
            if not st.title and not st.scenes:
                st.title = heading_title(line) or ""
        else:
            _line(st, line, number)
    return finish(
        text=text,
        source=source,
        format="marker",
        scenes=st.scenes,
        characters=st.cast,
        title=st.title,
        hint=HINT,
        logline=" ".join(st.logline),
    )


def _line(st: _State, line: str, number: int) -> None:
    label, rest = _label(line)
    if st.in_cast_block and label is None:
        st.cast.extend(_cast_entries(line))
        return
    st.in_cast_block = False
    pending, st.pending = st.pending, None
    if label is None:
        _plain(st, line, number, pending)
    elif label == "scene":
        st.scenes.append(_scene(len(st.scenes) + 1, rest, number))
    elif label == "cast":
        st.cast.extend(c for part in _split_outside_parens(rest) for c in _cast_entries(part))
        st.in_cast_block = not rest
    elif label == "title":
        st.title = st.title or rest
    elif label == "logline":
        st.logline.append(rest)
    elif label in ("time", "place") and st.scenes:
        key = "time_of_day" if label == "time" else "location"
        st.scenes[-1] = st.scenes[-1].model_copy(update={key: rest})
    elif label == "dialogue":
        speech = SPEECH.match(rest)
        if speech is None:
            raise ScriptError(
                "a 对白 line needs a speaker: write 【对白】名字：台词", path=st.source, line=number
            )
        st.scene(number).beats.append(_speech(speech, number))
    elif (kind := BEAT_KINDS.get(label)) is not None:
        if rest:
            st.scene(number).beats.append(Beat(kind=kind, text=rest, source_line=number))
        else:  # 【旁白】 alone on its line: the text follows on the next line
            st.pending = kind


def _label(line: str) -> tuple[Label | None, str]:
    """What a line's marker says it is, and the text after the marker.

    Unknown bracketed text such as 【林小雨转身离开】 is a stage direction, so it reads as action.
    """
    if m := BRACKETED.match(line):
        label, rest = m.group("label"), m.group("rest").strip()
        if scene := SCENE_LABEL.match(label):
            return "scene", f"{label[scene.end() :]} {rest}".strip()
        kind = LABELS.get(re.sub(rf"\s*{_NUM}$", "", label).lower())
        if kind is None:
            return "action", f"{label} {rest}".strip()
        return kind, rest
    if m := BARE_SCENE.match(line):
        return "scene", m.group("rest").strip()
    if m := BARE.match(line):
        kind = LABELS.get(m.group("label").lower())
        if kind is not None and kind != "scene":
            return kind, m.group("rest").strip()
    if m := NUMBERED_SCENE.match(line):
        probe = _scene(1, m.group("rest"), 0)
        if probe.time_of_day or probe.interior is not None:
            return "scene", m.group("rest").strip()
    return None, line


def _plain(st: _State, line: str, number: int, pending: BeatKind | None) -> None:
    """A line with no marker: the kind of a bare marker on the line before, dialogue if it
    reads ``名字：台词``, else action (before the first scene: the title, then the logline)."""
    speech = SPEECH.match(line)
    if pending is not None:
        st.scene(number).beats.append(Beat(kind=pending, text=line, source_line=number))
    elif speech and _is_speaker(speech.group("name").strip(), st):
        st.scene(number).beats.append(_speech(speech, number))
    elif st.scenes:
        st.scenes[-1].beats.append(Beat(kind="action", text=line, source_line=number))
    elif not st.title:
        st.title = line
    else:
        st.logline.append(line)


def _is_speaker(name: str, st: _State) -> bool:
    """A short name, not a clause: ``林小雨`` or ``Maya`` yes; ``他笑着说``, ``note to self`` no."""
    if st.known(name) or name.lower() in NARRATORS:
        return True
    if not re.search(r"[A-Za-z\u4e00-\u9fff]", name):
        return False
    if re.search(r"[\u4e00-\u9fff]", name):
        return len(name) <= 8 and not re.search(r"(说|道|问|想着|的时候)$", name)
    return len(name) <= 24 and len(name.split()) <= 3 and name[:1].isupper()


def _speech(m: re.Match[str], line: int) -> Beat:
    name = m.group("name").strip()
    paren = m.group("paren")
    text = m.group("text").strip()
    if paren is None and (lead := LEADING_PAREN.match(text)):
        paren, text = lead.group("paren"), lead.group("text")
    text = _unquote(text)
    if name.lower() in NARRATORS:
        return Beat(kind="narration", text=text, source_line=line)
    return Beat(
        kind="dialogue",
        speaker=name,
        text=text,
        parenthetical=paren.strip() if paren else None,
        source_line=line,
    )


def _unquote(text: str) -> str:
    """``“你好。”`` -> ``你好。``: the quotes are typography, not something to speak."""
    for left, right in (("“", "”"), ('"', '"'), ("「", "」")):
        inner = text[1:-1]
        if text.startswith(left) and text.endswith(right) and left not in inner:
            return inner.strip()
    return text


def _scene(index: int, heading: str, line: int) -> Scene:
    """``教室 - 白天 - 内`` -> location 教室, time 白天, interior True (also ``教室 日内``)."""
    parts = [p.strip() for p in re.split(_SEPARATORS, heading) if p.strip()]
    if len(parts) <= 1:  # 教室 日 内: spaces separate
        parts = heading.split()
    time, interior, location = "", None, ""
    for part in parts:
        low = part.lower()
        if low in TIMES:
            time = time or part
        elif low in INSIDE or low in OUTSIDE:
            interior = low in INSIDE
        elif len(part) > 1 and part[:-1] in TIMES and part[-1] in "内外":
            time, interior = time or part[:-1], part[-1] == "内"
        elif not location:
            location = part
    return Scene(
        index=index,
        heading=heading.strip(),
        location=location,
        time_of_day=time,
        interior=interior,
        source_line=line,
    )


def _split_outside_parens(text: str) -> list[str]:
    """Split a cast line on ；;、，, but not inside （…）, where descriptions use commas."""
    parts: list[str] = []
    current: list[str] = []
    depth = 0
    for ch in text:
        if ch in "（(":
            depth += 1
        elif ch in "）)":
            depth = max(0, depth - 1)
        if depth == 0 and ch in "；;、，,":
            parts.append("".join(current))
            current = []
        else:
            current.append(ch)
    parts.append("".join(current))
    return [p.strip() for p in parts if p.strip()]


def _cast_entries(text: str) -> list[Character]:
    """``林小雨（女，16岁）`` or ``林小雨：女，16岁`` or ``Maya - 20s`` -> a Character."""
    m = CAST_ENTRY.match(text.strip())
    if m is None or not m.group("name").strip():
        return []
    desc = "，".join(d.strip() for d in (m.group("d1"), m.group("d2")) if d and d.strip())
    return [Character(name=m.group("name").strip(), description=desc)]
