"""Chinese marker scripts (场景/画面/对白/旁白/音效/背景音乐), the short-drama house format.

Markers may be bracketed with 【】 or [] or bare, followed by a full-width or ASCII colon.
Bare ``名字：台词`` lines are dialogue, ``名字（动作）：台词`` carries a parenthetical. The same
parser reads English bracket markers ([Scene], [Visual], [Narration], [SFX], [Music]).
"""

from __future__ import annotations

import re

from dramaforge.errors import ScriptError
from dramaforge.schema import Beat, BeatKind, Character, Scene, Script
from dramaforge.script.detect import detect_language

KINDS: dict[str, BeatKind | str] = {
    "场景": "scene", "画面": "action", "镜头": "action", "动作": "action",
    "旁白": "narration", "画外音": "narration", "音效": "sfx", "背景音乐": "music",
    "音乐": "music", "bgm": "music", "对白": "dialogue", "台词": "dialogue",
    "scene": "scene", "visual": "action", "action": "action", "narration": "narration",
    "voiceover": "narration", "vo": "narration", "sfx": "sfx", "sound": "sfx", "music": "music",
    "dialogue": "dialogue",
}
MARKER = re.compile(
    r"^\s*(?:[【\[]\s*(?P<b>[^】\]]+?)\s*[】\]]|(?P<bare>场景|画面|镜头|旁白|画外音|音效|背景音乐|对白|BGM)"
    r"(?=\s*[\d一二三四五六七八九十：:]))\s*[：:]?\s*(?P<rest>.*)$",
    re.IGNORECASE,
)
SCENE_NO = re.compile(r"^(?:第\s*[\d一二三四五六七八九十百]+\s*场|场景\s*[\d一二三四五六七八九十]*|scene\s*\d*)",
                      re.IGNORECASE)
SPEECH = re.compile(
    r"^\s*(?P<name>[^\s：:，。！？,.!?（(【\[]{1,12}?)\s*(?:[（(](?P<paren>[^）)]*)[）)])?\s*[：:]\s*(?P<text>.+)$"
)
CAST = re.compile(r"^\s*(?:人物|角色|主要人物|characters?|cast)\s*[：:]\s*(?P<rest>.+)$", re.IGNORECASE)
TITLE = re.compile(r"^\s*(?:#+\s*(?P<h>.+)|(?:标题|剧名|title)\s*[：:]\s*(?P<t>.+))$", re.IGNORECASE)
TIMES = ("清晨", "早晨", "上午", "中午", "下午", "傍晚", "黄昏", "白天", "日", "夜晚", "深夜", "夜",
         "day", "night", "dusk", "dawn", "morning", "evening")


def parse(text: str, source: str) -> Script:
    title = ""
    characters: dict[str, Character] = {}
    scenes: list[Scene] = []
    for number, raw in enumerate(text.split("\n"), start=1):
        line = raw.strip()
        if not line or line.startswith("//"):
            continue
        if m := TITLE.match(line):
            if not title and not scenes:
                title = (m.group("h") or m.group("t") or "").strip()
            continue
        if m := CAST.match(line):
            for name, desc in _cast(m.group("rest")):
                characters[name] = Character(name=name, description=desc)
            continue
        if m := MARKER.match(line):
            label = (m.group("b") or m.group("bare") or "").strip()
            rest = m.group("rest").strip()
            kind = _kind(label)
            if kind == "scene":
                heading = (SCENE_NO.sub("", label).strip(" ：:") + " " + rest).strip() or label
                scenes.append(_scene(len(scenes) + 1, heading, number))
                continue
            if kind is None:
                raise ScriptError(f"unknown marker 【{label}】; use 场景/画面/对白/旁白/音效/背景音乐",
                                  path=source, line=number)
            if not rest:
                continue
            scene = _current(scenes, number)
            if kind == "dialogue":
                speech = SPEECH.match(rest)
                if speech is None:
                    raise ScriptError("a 对白 line needs a speaker: 【对白】名字：台词",
                                      path=source, line=number)
                scene.beats.append(_dialogue(speech, number, characters))
            else:
                scene.beats.append(Beat(kind=kind, text=rest, source_line=number))  # type: ignore[arg-type]
            continue
        if (speech := SPEECH.match(line)) and _is_name(speech.group("name")):
            _current(scenes, number).beats.append(_dialogue(speech, number, characters))
            continue
        if line.startswith("#"):
            continue
        if scenes:
            scenes[-1].beats.append(Beat(kind="action", text=line, source_line=number))
        elif not title:
            title = line
    if not scenes or not any(s.beats for s in scenes):
        raise ScriptError("no scenes found: start each scene with a line like 【场景1】教室 - 白天",
                          path=source)
    return Script(
        title=title or source.rsplit("/", 1)[-1].split(".")[0],
        language=detect_language(text),
        format="marker",
        characters=list(characters.values()),
        scenes=scenes,
        source=source,
    )


def _kind(label: str) -> str | None:
    key = label.lower()
    if SCENE_NO.match(label):
        return "scene"
    for word, kind in KINDS.items():
        if key == word or key.startswith(word):
            return kind
    return None


def _scene(index: int, heading: str, line: int) -> Scene:
    parts = [p.strip() for p in re.split(r"\s*[-–—/|，,]\s*|\s+", heading) if p.strip()]
    time = next((p for p in parts if p.lower() in TIMES), "")
    interior = True if any(p in ("内", "室内", "int") for p in parts) else (
        False if any(p in ("外", "室外", "ext") for p in parts) else None)
    location = next((p for p in parts if p != time and p not in ("内", "外", "室内", "室外")), "")
    return Scene(index=index, heading=heading, location=location, time_of_day=time,
                 interior=interior, source_line=line)


def _current(scenes: list[Scene], line: int) -> Scene:
    if not scenes:
        scenes.append(_scene(1, "", line))
    return scenes[-1]


def _dialogue(m: re.Match[str], line: int, characters: dict[str, Character]) -> Beat:
    name = m.group("name").strip()
    characters.setdefault(name, Character(name=name))
    paren = m.group("paren")
    return Beat(kind="dialogue", speaker=name, text=m.group("text").strip(),
                parenthetical=paren.strip() if paren else None, source_line=line)


def _is_name(name: str) -> bool:
    return not re.search(r"[的了是在和与]", name) or len(name) <= 3


def _cast(rest: str) -> list[tuple[str, str]]:
    """``林小雨（女，16岁）；陈默（男）`` -> [(name, description), ...]."""
    return [
        (name.strip(" ，,"), (desc or "").strip())
        for name, desc in re.findall(r"([^；;、，,（(]+)(?:[（(]([^）)]*)[）)])?", rest)
        if name.strip(" ，,")
    ]
