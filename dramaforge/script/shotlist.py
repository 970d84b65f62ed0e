"""Shot lists as other tools and LLMs write them: JSON, YAML, CSV or Excel.

The most common intermediate in AI short-drama work is a list of shots with a header block
(``script_info``/``title``) and per shot fields such as ``shot_id``/``镜号``,
``shot_type``/``景别``, ``duration``/``时长``, ``frame_content``/``画面``/``visual``,
``line``/``台词``/``dialogue``, ``sound_effect``/``音效``, ``camera_movement``/``运镜``,
``bgm``/``背景音乐``. No two tools agree on the names, so columns are read by what their
header means, in Chinese and English, never by one schema.

What the list gives is kept: its shots, their order, framing, camera and length. What it
leaves out is the director's to fill. A line with no speaker is said by the character the
frame names (noted in the plan's repairs); a sound-effect cell that repeats the spoken line
is not voiced a second time.
"""

from __future__ import annotations

import csv
import io
import json
import re
from collections.abc import Iterable, Mapping, Sequence
from typing import Any, Literal

from dramaforge.errors import ScriptError
from dramaforge.schema import (
    Beat,
    CameraMove,
    Character,
    Framing,
    ListedShot,
    PlanRepair,
    Scene,
    Script,
)
from dramaforge.script.cast import cast_entries, split_outside_parens
from dramaforge.script.clean import clean_script
from dramaforge.script.detect import detect_language
from dramaforge.script.speakers import LATIN_SPEECH, SPEECH, is_speaker, spoken_beat, unquote

ShotField = Literal[
    "id",
    "framing",
    "duration",
    "visual",
    "line",
    "speaker",
    "narration",
    "sfx",
    "camera",
    "music",
    "scene",
    "time",
    "characters",
]

_NAMES: dict[ShotField, str] = {
    "id": "shot_id|shotid|shot_no|shot_number|shot|no|number|id|index|镜号|镜头号|镜头编号|序号"
    "|编号|镜次|分镜号",
    "framing": "shot_type|shot_size|framing|size|type|景别|镜头类型|景别类型|镜头景别",
    "duration": "duration|length|seconds|secs|time_s|duration_s|时长|时长秒|秒数|时间长度|持续时间",
    "visual": "frame_content|frame|visual|visuals|visual_description|description|picture|image"
    "|image_prompt|prompt|scene_description|action|content|画面|画面内容|画面描述|镜头内容"
    "|镜头描述|内容|场景描述|动作|画面说明",
    "line": "line|lines|dialogue|dialog|dialogues|speech|台词|对白|对话|台词内容|人物台词",
    "speaker": "speaker|character_speaking|who|role|说话人|讲话人|说话角色|发言人",
    "narration": "narration|voiceover|voice_over|vo|narrator|旁白|画外音|解说",
    "sfx": "sound_effect|sound_effects|sfx|sound|sounds|音效|声音|音效说明",
    "camera": "camera_movement|camera_move|camera|movement|camera_motion|运镜|镜头运动|运镜方式"
    "|摄像机运动|机位运动",
    "music": "bgm|music|background_music|score|背景音乐|音乐|配乐",
    "scene": "scene|location|place|setting|scene_heading|场景|地点|场次|场景地点",
    "time": "time_of_day|daytime|时间段|日夜",
    "characters": "characters|character|cast|roles|人物|角色|出场人物|出场角色|登场人物",
}
_BY_NAME: dict[str, ShotField] = {n: f for f, names in _NAMES.items() for n in names.split("|")}
_LIST_KEYS = (
    "shots",
    "shot_list",
    "shotlist",
    "storyboard",
    "storyboards",
    "分镜",
    "分镜表",
    "镜头",
    "镜头列表",
    "分镜列表",
    "scenes",
    "items",
    "data",
)
_SHOT_LIST_KEYS = frozenset(_LIST_KEYS) - {"scenes", "items", "data"}
_INFO_KEYS = ("script_info", "info", "meta", "metadata", "剧本信息", "基本信息", "project")
_NAME_KEYS = ("name", "名字", "姓名", "角色", "角色名", "character")
_TITLE_KEYS = ("title", "name", "剧名", "标题", "片名", "名称", "script_title")

_FRAMINGS: tuple[tuple[Framing, str], ...] = (
    ("insert", "插入|细节|insert|detail"),
    ("reaction", "反应|reaction"),
    ("close_up", "大特写|特写|近景|close|cu|ecu|mcu|极近"),
    ("wide", "大远景|远景|全景|wide|long|establishing|ws|ls|els|full|大全景|航拍|俯瞰"),
    ("medium", "中近景|中景|medium|mid|ms|two|双人|过肩|over"),
)
_CAMERAS: tuple[tuple[CameraMove, str], ...] = (
    ("static", "固定|静止|static|fixed|locked|still|不动"),
    ("zoom_in", "推进|推镜|推|zoom in|zoom_in|push|dolly in|dolly_in|拉近|前推"),
    ("zoom_out", "拉远|拉镜|拉|zoom out|zoom_out|pull|dolly out|dolly_out|后拉"),
    ("pan_left", "左摇|左移|向左|pan left|pan_left|左"),
    ("pan_right", "右摇|右移|向右|pan right|pan_right|摇|横移|跟|pan|track|跟拍|环绕|orbit"),
)
_EMPTY = {"", "-", "—", "——", "/", "无", "none", "n/a", "null", "…", "（无）", "(无)"}
_NUMBER = re.compile(r"\d+(?:\.\d+)?")
_CLOCK = re.compile(r"^(?:(\d{1,2}):)?(\d{1,2}):(\d{2}(?:\.\d+)?)$")
_QUOTE = re.compile(r"[“\"「](?P<text>[^”\"」]{1,200})[”\"」]")
_PUNCT = re.compile(r"[\s\W_]+", re.UNICODE)
MAX_SHOTS = 2000


def normalise(key: str) -> str:
    """A header as a lookup key: lower case, units and notes in brackets dropped, spaces,
    dashes and slashes made ``_`` (``时长（秒）`` -> ``时长``, ``Camera Movement`` ->
    ``camera_movement``)."""
    key = re.sub(r"[（(\[【].*?[）)\]】]", "", str(key)).strip().lower()
    return re.sub(r"[\s\-/.]+", "_", key).strip("_*:：#")


def field_of(key: str) -> ShotField | None:
    """What a header means, by name (then by a Chinese name inside it: ``画面描述（中文）``)."""
    name = normalise(key)
    if name in _BY_NAME:
        return _BY_NAME[name]
    bare = name.replace("_", "")
    if bare in _BY_NAME:
        return _BY_NAME[bare]
    for alias, found in sorted(_BY_NAME.items(), key=lambda kv: -len(kv[0])):
        if len(alias) >= 2 and re.search(r"[\u4e00-\u9fff]", alias) and alias in name:
            return found
    return None


def is_shot_rows(rows: Sequence[Mapping[str, Any]]) -> bool:
    """Whether dicts read as shots: their keys name at least a picture or a line, and one
    more shot field."""
    if not rows or not all(isinstance(r, Mapping) for r in rows[:20]):
        return False
    fields = {field_of(str(k)) for r in rows[:20] for k in r}
    return bool(fields & {"visual", "line", "narration"}) and len(fields - {None}) >= 2


# -- finding the list in what was loaded ------------------------------------------------------


def find_shots(data: Any) -> tuple[list[Mapping[str, Any]], Mapping[str, Any]] | None:
    """The shot rows in loaded JSON/YAML and the mapping holding the header block, or None."""
    if isinstance(data, list) and is_shot_rows(data):
        return list(data), {}
    if not isinstance(data, Mapping):
        return None
    keys = sorted(data, key=lambda k: (normalise(str(k)) not in _LIST_KEYS, str(k)))
    for key in keys:
        value = data[key]
        if isinstance(value, list) and is_shot_rows(value):
            return list(value), data
    for key in keys:  # one level down: {"episode": {"shots": [...]}}; scenes of shots
        value = data[key]
        if isinstance(value, Mapping) and (found := find_shots(value)) is not None:
            return found[0], {**data, **found[1]}
        if isinstance(value, list) and value and all(isinstance(v, Mapping) for v in value):
            nested = _scenes_of_shots(value)
            if nested:
                return nested, data
    return None


def _scenes_of_shots(scenes: list[Mapping[str, Any]]) -> list[Mapping[str, Any]]:
    """``[{"scene": "教室", "shots": [...]}, ...]`` flattened, each shot keeping its scene."""
    rows: list[Mapping[str, Any]] = []
    for scene in scenes:
        inner = next((v for v in scene.values() if isinstance(v, list) and is_shot_rows(v)), None)
        if inner is None:
            return []
        place = next(
            (str(v) for k, v in scene.items() if field_of(str(k)) == "scene" and _text(v)), ""
        )
        rows += [{"scene": place, **shot} if place else shot for shot in inner]
    return rows


def _info(holder: Mapping[str, Any]) -> Mapping[str, Any]:
    for key, value in holder.items():
        if normalise(str(key)) in _INFO_KEYS and isinstance(value, Mapping):
            return {**holder, **value}
    return holder


# -- readers ----------------------------------------------------------------------------------


def from_json(text: str, source: str) -> Script | None:
    """The Script of a JSON shot list; None when the JSON holds no shots."""
    try:
        data = json.loads(text)
    except json.JSONDecodeError as err:
        raise ScriptError(
            f"not valid JSON ({err.msg}); check the quotes and commas on this line",
            path=source,
            line=err.lineno,
        ) from None
    return from_data(data, source)


def from_data(data: Any, source: str) -> Script | None:
    found = find_shots(data)
    if found is None:
        return None
    rows, holder = found
    return build(rows, _info(holder), source)


def from_csv(text: str, source: str) -> Script:
    """A CSV/TSV shot list: its first row that names shot fields is the header."""
    sample = text[:4096]
    try:
        dialect: Any = csv.Sniffer().sniff(sample, delimiters=",\t;，")
    except csv.Error:
        dialect = csv.excel_tab if sample.count("\t") > sample.count(",") else csv.excel
    table = list(csv.reader(io.StringIO(text), dialect))
    return from_table(table, source)


def from_xlsx(data: bytes, source: str) -> Script:
    """An Excel shot list: the first sheet with a header row that names shot fields."""
    from openpyxl import load_workbook  # only for Excel files

    try:
        book = load_workbook(io.BytesIO(data), read_only=True, data_only=True)
    except Exception as err:  # openpyxl raises many kinds for a damaged file
        raise ScriptError(
            f"cannot read this Excel file ({type(err).__name__}); save it again as .xlsx",
            path=source,
        ) from None
    try:
        for sheet in book.worksheets:
            table = [
                ["" if v is None else _cell(v) for v in row]
                for row in sheet.iter_rows(values_only=True)
            ]
            if _header_at(table) is not None:
                return from_table(table, source)
    finally:
        book.close()
    raise ScriptError(
        "no sheet has a header row naming shot fields (画面/visual, 台词/dialogue, 镜号/shot_id "
        "…); add one above the shots",
        path=source,
    )


def _cell(value: Any) -> str:
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    return str(value)


def _header_at(table: list[list[str]]) -> int | None:
    for i, row in enumerate(table[:30]):
        fields = {field_of(c) for c in row if c.strip()}
        if fields & {"visual", "line", "narration"} and len(fields - {None}) >= 2:
            return i
    return None


def from_table(table: list[list[str]], source: str) -> Script:
    """Rows under a header row; what is above the header (``剧名：…``) is the header block."""
    at = _header_at(table)
    if at is None:
        raise ScriptError(
            "no header row naming shot fields (画面/visual, 台词/dialogue, 镜号/shot_id …); "
            "add one above the shots",
            path=source,
        )
    head = table[at]
    info: dict[str, Any] = {}
    for row in table[:at]:
        filled = [c.strip() for c in row if c.strip()]
        pair = re.split(r"[：:]", filled[0], maxsplit=1) if filled else []
        if len(filled) >= 2:
            info[filled[0].rstrip("：:")] = filled[1]
        elif len(pair) == 2:
            info[pair[0]] = pair[1]
        elif filled:
            info.setdefault("title", filled[0])
    rows = [
        {head[i]: row[i] for i in range(min(len(head), len(row))) if head[i].strip()}
        for row in table[at + 1 :]
        if any(c.strip() for c in row)
    ]
    return build(rows, info, source)


# -- building the Script ----------------------------------------------------------------------


def _text(value: Any) -> str:
    if value is None or isinstance(value, bool):
        return ""
    if isinstance(value, list):
        return "\n".join(_text(v) for v in value if _text(v))
    if isinstance(value, Mapping):
        return "；".join(f"{k}：{_text(v)}" for k, v in value.items() if _text(v))
    text = str(value).strip()
    return "" if text.lower() in _EMPTY else text


def _fields(row: Mapping[str, Any]) -> dict[ShotField, Any]:
    out: dict[ShotField, Any] = {}
    for key, value in row.items():
        found = field_of(str(key))
        if found is not None and found not in out and value not in (None, ""):
            out[found] = value
    return out


def _says(text: str, words: str) -> bool:
    """Whether ``text`` holds one of ``words`` (``|``-separated): Chinese anywhere, English as
    a word (a short one whole: ``ms`` is not in ``teams``; a long one as a stem: ``tracking``)."""
    low = text.lower()
    for word in words.split("|"):
        if not word.isascii():
            if word in low:
                return True
        elif re.search(rf"\b{re.escape(word)}" + (r"\b" if len(word) < 4 else ""), low):
            return True
    return False


def framing_of(text: str) -> Framing | None:
    return next((framing for framing, words in _FRAMINGS if _says(text, words)), None)


def camera_of(text: str) -> CameraMove | None:
    return next((move for move, words in _CAMERAS if _says(text, words)), None)


def seconds_of(value: Any) -> float | None:
    """``3``, ``3.5s``, ``3秒``, ``00:03``, ``3-5秒`` (the middle of a range)."""
    if isinstance(value, int | float) and not isinstance(value, bool):
        return float(value) if 0 < value <= 600 else None
    text = _text(value)
    clock = _CLOCK.match(text)
    if clock:
        hours, minutes, secs = clock.groups()
        total = float(secs) + 60 * float(minutes) + 3600 * float(hours or 0)
        return total if 0 < total <= 600 else None
    numbers = [float(n) for n in _NUMBER.findall(text)[:2]]
    if not numbers:
        return None
    total = sum(numbers) / len(numbers) if re.search(r"\d\s*[-~～至到]\s*\d", text) else numbers[0]
    if re.search(r"ms|毫秒", text):
        total /= 1000
    elif re.search(r"min|分钟", text):
        total *= 60
    return round(total, 2) if 0 < total <= 600 else None


def _names(info: Mapping[str, Any], rows: Iterable[dict[ShotField, Any]]) -> list[Character]:
    """The cast: the header block's characters (names, or entries with a look), then
    speakers named in the shots."""
    cast: dict[str, str] = {}
    for key, value in info.items():
        if field_of(str(key)) == "characters":
            entries = value if isinstance(value, list) else split_outside_parens(_text(value))
            for entry in entries:
                for person in _person(entry):
                    cast.setdefault(person.name, person.description)
    for row in rows:
        for who in _speakers_in(row):
            if is_speaker(who, set(cast)):
                cast.setdefault(who, "")
    return [Character(name=n, description=d) for n, d in cast.items() if n]


def _person(entry: Any) -> list[Character]:
    """``{"name": "林晓", "appearance": "短发"}``, ``林晓（20岁，短发）`` or ``林晓：女主``."""
    if not isinstance(entry, Mapping):
        return cast_entries(_text(entry))
    got = {normalise(str(k)): _text(v) for k, v in entry.items()}
    name = next((got[k] for k in _NAME_KEYS if got.get(k)), "")
    look = "，".join(v for k, v in got.items() if v and k not in _NAME_KEYS)
    return [Character(name=name, description=look)] if name else []


def _speakers_in(row: dict[ShotField, Any]) -> list[str]:
    """Names a shot gives its lines: a speaker column, dialogue entries, ``林晓：你好``."""
    names = [_text(row.get("speaker"))]
    line = row.get("line")
    for entry in line if isinstance(line, list) else []:
        sub = _fields(entry) if isinstance(entry, Mapping) else {}
        names.append(_text(sub.get("speaker") or sub.get("characters")))
    for part in re.split(r"\n|<br\s*/?>", _text(line)):
        m = SPEECH.match(part.strip()) or LATIN_SPEECH.match(part.strip())
        names.append(m.group("name").strip() if m is not None else "")
    return [n for n in names if n]


def _spoken(
    text: str, speaker: str, names: set[str], frame: str, number: int
) -> tuple[list[Beat], list[str]]:
    """The beats of a line cell and what was inferred: ``林晓：你好`` names its speaker; a
    bare line is the speaker column's, else the character the frame names."""
    beats: list[Beat] = []
    notes: list[str] = []
    for part in re.split(r"\n|<br\s*/?>", text):
        part = part.strip()
        if not part or part.lower() in _EMPTY:
            continue
        m = SPEECH.match(part) or LATIN_SPEECH.match(part)
        if m is not None and is_speaker(m.group("name").strip(), names):
            beats.append(
                spoken_beat(m.group("name").strip(), m.group("paren"), m.group("text"), number)
            )
            continue
        if speaker:
            beats.append(spoken_beat(speaker, None, part, number))
            continue
        named = _named_in(frame, names)
        if named:
            beats.append(spoken_beat(named, None, part, number))
            notes.append(
                f"the line “{unquote(part)[:20]}” has no speaker: {named}, whom the "
                "frame names, says it"
            )
        else:
            beats.append(Beat(kind="narration", text=unquote(part), source_line=number))
            notes.append(
                f"the line “{unquote(part)[:20]}” has no speaker and the frame names "
                "no one: read as narration"
            )
    return beats, notes


def _named_in(frame: str, names: set[str]) -> str | None:
    """The character the frame names first (the one the shot is about)."""
    hits = [(frame.find(n), -len(n), n) for n in names if n and n in frame]
    return min(hits)[2] if hits else None


def _same_words(a: str, b: str) -> bool:
    x, y = _PUNCT.sub("", unquote(a)), _PUNCT.sub("", unquote(b))
    return bool(x and y) and (x in y or y in x)


def build(rows: Sequence[Mapping[str, Any]], info: Mapping[str, Any], source: str) -> Script:
    """The Script of shot ``rows`` under the header block ``info``."""
    if len(rows) > MAX_SHOTS:
        raise ScriptError(f"{len(rows)} shots; an episode takes at most {MAX_SHOTS}", path=source)
    parsed = [_fields(r) for r in rows if isinstance(r, Mapping)]
    parsed = [p for p in parsed if any(_text(p.get(f)) for f in ("visual", "line", "narration"))]
    if not parsed:
        raise ScriptError("the shot list has no shot with a picture or a line", path=source)
    title = next(
        (_text(v) for k, v in info.items() if normalise(str(k)) in _TITLE_KEYS and _text(v)), ""
    )
    cast = _names(info, parsed)
    names = {c.name for c in cast}
    notes: list[PlanRepair] = []
    scenes: list[Scene] = []
    all_text: list[str] = [title]
    for number, row in enumerate(parsed, 1):
        place = _text(row.get("scene"))
        if not scenes or (place and place != scenes[-1].heading):
            heading = place or title or f"场景{len(scenes) + 1}"
            scenes.append(
                Scene(
                    index=len(scenes) + 1,
                    heading=heading,
                    location=place,
                    time_of_day=_text(row.get("time")),
                    source_line=number,
                )
            )
        scene = scenes[-1]
        shot, said = _shot(row, names, number)
        label = _text(row.get("id")) or str(number)
        shot = shot.model_copy(update={"label": label})
        for note in said:
            notes.append(
                PlanRepair(scene=scene.index, kind="speaker", detail=f"shot {label}: {note}")
            )
        scene.shots.append(shot)
        scene.beats.extend(
            [Beat(kind="action", text=shot.visual, source_line=number)] if shot.visual else []
        )
        scene.beats.extend(shot.beats)
        all_text += [shot.visual, *(b.text for b in shot.beats)]
    for beat in (b for s in scenes for b in s.beats):
        if beat.kind == "dialogue" and beat.speaker and beat.speaker not in names:
            names.add(beat.speaker)
            cast.append(Character(name=beat.speaker))
    # Values can spell controls with escapes (JSON ``\u202e``) or hold them (a sheet's cell).
    return clean_script(
        Script(
            title=title or source.rsplit("/", 1)[-1].rsplit(".", 1)[0],
            language=detect_language("\n".join(all_text)),
            format="shotlist",
            characters=cast,
            scenes=scenes,
            source=source,
            logline=next(
                (
                    _text(v)
                    for k, v in info.items()
                    if normalise(str(k)) in ("logline", "synopsis", "简介", "梗概", "故事梗概")
                    and _text(v)
                ),
                "",
            ),
            style=next(
                (
                    _text(v)
                    for k, v in info.items()
                    if normalise(str(k)) in ("style", "风格", "画风", "visual_style") and _text(v)
                ),
                "",
            ),
            notes=notes,
        )
    )


def _shot(row: dict[ShotField, Any], names: set[str], number: int) -> tuple[ListedShot, list[str]]:
    frame = _text(row.get("visual"))
    speaker = _text(row.get("speaker"))
    speaker = speaker if speaker and is_speaker(speaker, names | {speaker}) else ""
    beats: list[Beat] = []
    notes: list[str] = []
    line_value = row.get("line")
    entries = line_value if isinstance(line_value, list) else []
    if entries and all(isinstance(v, Mapping) for v in entries):
        for entry in entries:  # [{"character": "林晓", "line": "…"}]
            sub = _fields(entry)
            got, said = _spoken(
                _text(sub.get("line")),
                _text(sub.get("speaker") or sub.get("characters")),
                names,
                frame,
                number,
            )
            beats += got
            notes += said
    else:
        got, said = _spoken(_text(line_value), speaker, names, frame, number)
        beats += got
        notes += said
    for text in re.split(r"\n", _text(row.get("narration"))):
        if text.strip():
            beats.append(Beat(kind="narration", text=unquote(text.strip()), source_line=number))
    spoken = [b.text for b in beats if b.kind in ("dialogue", "narration")]
    for text in re.split(r"\n|[；;]", _text(row.get("sfx"))):
        text = text.strip()
        if not text:
            continue
        if any(_same_words(text, s) for s in spoken):
            notes.append(
                f"the sound-effect cell repeats the line “{unquote(text)[:20]}”: "
                "voiced once, as the line"
            )
            continue
        quoted = _QUOTE.search(text)
        if quoted and not spoken:  # the only speech of the shot, written in the sfx cell
            got, said = _spoken(text, speaker, names, frame, number)
            beats += got
            notes += [
                *said,
                f"the sound-effect cell holds a spoken line “{quoted['text'][:20]}”: "
                "voiced as a line",
            ]
            spoken += [b.text for b in got]
            continue
        beats.append(Beat(kind="sfx", text=text, source_line=number))
    music = _text(row.get("music"))
    if music:
        beats.append(Beat(kind="music", text=music, source_line=number))
    in_frame = [n for n in sorted(names, key=frame.find) if n in frame]
    listed = _text(row.get("characters"))
    cast = [n for n in re.split(r"[、，,;；/\s]+", listed) if n] if listed else in_frame
    return (
        ListedShot(
            framing=framing_of(_text(row.get("framing"))),
            camera=camera_of(_text(row.get("camera"))),
            duration=seconds_of(row.get("duration")),
            visual=frame,
            characters=cast,
            beats=beats,
        ),
        notes,
    )


def is_shot_list(data: Any) -> bool:
    """Whether loaded YAML is a shot list rather than a brief: its shots carry a field only
    shots have (number, framing, length, camera move); a brief's ``scenes`` of ``visual`` and
    ``lines`` are a brief's."""
    found = find_shots(data)
    if found is None:
        return False
    if isinstance(data, Mapping) and any(
        normalise(str(k)) in _SHOT_LIST_KEYS and isinstance(v, list) for k, v in data.items()
    ):
        return True  # ``shots:``/``分镜:`` says so, whatever its fields
    shot_only: set[ShotField | None] = {"id", "framing", "duration", "camera"}
    return any(field_of(str(k)) in shot_only for row in found[0][:20] for k in row)


def parse(text: str, source: str) -> Script:
    """A shot list in text: CSV/TSV by suffix, JSON when it opens with ``{``/``[``, else YAML."""
    from dramaforge.script import bounded_yaml

    if source.lower().endswith((".csv", ".tsv")):
        return from_csv(text, source)
    if text.lstrip()[:1] in ("{", "["):
        script = from_json(text, source)
    else:
        script = from_data(bounded_yaml.load(text, source)[0], source)
    if script is None:
        raise ScriptError(
            "no list of shots found: give a list of shots (each with 画面/visual or "
            "台词/dialogue), at the top or under a key such as 'shots' or '分镜'",
            path=source,
        )
    return script


SHOT_ONLY: frozenset[ShotField] = frozenset({"id", "framing", "duration", "camera"})
"""Fields only a shot list has: a table naming one lists shots, not just beats."""


def listed_row(head: list[str], row: list[str], beats: list[Beat]) -> ListedShot | None:
    """A Markdown 分镜表 row (``| 镜号 | 景别 | 画面 | 台词 | 时长 |``) as the shot it lists, its
    ``beats`` read by the table reader; None when the header names no shot-only field."""
    if not any(field_of(h) in SHOT_ONLY for h in head):
        return None
    got = _fields({h: c for h, c in zip(head, row, strict=False) if h.strip()})
    return ListedShot(
        label=_text(got.get("id")),
        framing=framing_of(_text(got.get("framing"))),
        camera=camera_of(_text(got.get("camera"))),
        duration=seconds_of(got.get("duration")),
        visual=" ".join(b.text for b in beats if b.kind == "action"),
        beats=[b for b in beats if b.kind != "action"],
    )
