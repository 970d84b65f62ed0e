"""Script parsers: every format, detection, encodings and each kind of bad input."""

from __future__ import annotations

import codecs
from pathlib import Path

import pytest

from dramaforge.errors import ScriptError
from dramaforge.schema import Script
from dramaforge.script import detect_format, detect_language, load_script, parse_text
from dramaforge.script.prose import split_sentences
from dramaforge.script.reader import MAX_BYTES

EXAMPLES = Path(__file__).resolve().parent.parent / "examples"


def kinds(script: Script, scene: int = 0) -> str:
    """The beat kinds of one scene in order, as words: "action music dialogue"."""
    return " ".join(b.kind for b in script.scenes[scene].beats)


def write(tmp_path: Path, name: str, data: str | bytes) -> Path:
    path = tmp_path / name
    if isinstance(data, str):
        path.write_text(data, encoding="utf-8")
    else:
        path.write_bytes(data)
    return path


# --- Chinese marker scripts -------------------------------------------------------------------

CAMPUS = EXAMPLES / "campus_ep01.zh.txt"


def test_marker_example_scenes_and_headings() -> None:
    script = load_script(CAMPUS)
    assert script.format == "marker" and script.language == "zh"
    assert script.title == "同桌的小秘密 第1集"  # the render-command header is not the title
    assert [s.index for s in script.scenes] == [1, 2]
    first, second = script.scenes
    assert (first.heading, first.location, first.time_of_day, first.interior) == (
        "教室 - 白天 - 内",
        "教室",
        "白天",
        True,
    )
    assert (second.location, second.time_of_day, second.interior) == ("校门口", "傍晚", False)
    assert first.source_line == 5 and second.source_line == 19


def test_marker_example_beats_in_order() -> None:
    script = load_script(CAMPUS)
    opening = "action music narration sfx action dialogue dialogue"
    assert kinds(script, 0) == f"{opening} action sfx dialogue dialogue dialogue"
    assert kinds(script, 1) == "music action sfx dialogue dialogue action narration action"
    beats = script.scenes[0].beats
    assert beats[5].speaker == "陈默" and beats[5].parenthetical == "推了推眼镜"
    assert (
        beats[5].text == "你好，这里有人坐吗？我叫陈默，今天刚转来。" and beats[5].source_line == 11
    )
    assert beats[6].speaker == "林小雨" and beats[6].parenthetical is None
    assert beats[1].text == "轻快的钢琴曲" and beats[3].text == "上课铃声"
    spoken = script.spoken_lines()
    assert 8 <= len(spoken) <= 10
    assert sum(1 for s in script.scenes for b in s.beats if b.kind == "sfx") >= 2


def test_marker_example_characters_have_descriptions() -> None:
    script = load_script(CAMPUS)
    assert [c.name for c in script.characters] == ["林小雨", "陈默"]
    assert script.characters[0].description == "女，16岁，高二学生，扎马尾，性格内向"
    assert script.characters[1].description.startswith("男，17岁")


def test_marker_variations() -> None:
    text = "\n".join(
        [
            "标题：雨夜",
            "// 注释行，不会出现在剧本里",
            "角色：",
            "阿杰：男，30岁，出租车司机",
            "小美（女，25岁）",
            "",
            "第1场 出租车内 夜内",
            "[画面] 雨刷来回摆动。",
            "音效: 雷声",
            "BGM：低沉的大提琴",
            "阿杰：（看后视镜）去哪儿？",
            "小美：“火车站。”",
            "【对白】阿杰：好嘞。",
            "旁白（男声）：那是他最后一次见到她。",
            "【小美望向窗外】",
            "她低声说：谢谢你。",
            "老王：谁啊？",
            "2-1 火车站 - 清晨 - 外",
            "【旁白】",
            "雨停了。",
        ]
    )
    script = parse_text(text, source="rain.txt")
    assert script.format == "marker" and script.title == "雨夜"
    assert [c.name for c in script.characters] == ["阿杰", "小美", "老王"]
    assert script.characters[0].description == "男，30岁，出租车司机"
    assert script.characters[1].description == "女，25岁"
    first, second = script.scenes
    assert (first.heading, first.location, first.time_of_day, first.interior) == (
        "出租车内 夜内",
        "出租车内",
        "夜",
        True,
    )
    assert (
        kinds(script, 0)
        == "action sfx music dialogue dialogue dialogue narration action action dialogue"
    )
    beats = first.beats
    assert (beats[3].speaker, beats[3].parenthetical, beats[3].text) == (
        "阿杰",
        "看后视镜",
        "去哪儿？",
    )
    assert beats[4].text == "火车站。"  # quotes are typography, not speech
    assert beats[5].speaker == "阿杰" and beats[5].source_line == 13
    assert beats[6].speaker is None and beats[6].text == "那是他最后一次见到她。"
    assert beats[7].text == "小美望向窗外"
    assert beats[8].text == "她低声说：谢谢你。"  # a clause ending in 说 is not a name
    assert (second.location, second.time_of_day, second.interior) == ("火车站", "清晨", False)
    assert [(b.kind, b.text, b.source_line) for b in second.beats] == [
        ("narration", "雨停了。", 20)
    ]


def test_marker_time_and_place_lines_fill_the_scene() -> None:
    script = parse_text("场景一：\n时间：深夜\n地点：天台\n画面：风很大。\n", source="x.txt")
    scene = script.scenes[0]
    assert (scene.location, scene.time_of_day) == ("天台", "深夜")


def test_english_marker_script() -> None:
    text = "\n".join(
        [
            "# The Lift",
            "Characters: Ana (nurse, 30s); Ben (porter)",
            "[Scene 1] Hospital lift - Night - Int",
            "[Visual] The lift doors close on Ana and Ben.",
            "[Music] low synth hum",
            "[Narration] Nobody talks in a lift at 3 a.m.",
            "[SFX] The lift shudders to a stop.",
            "Ben: That's not good.",
            "Ana (calmly): Press the bell.",
        ]
    )
    script = parse_text(text, source="lift.txt")
    assert script.format == "marker" and script.language == "en" and script.title == "The Lift"
    scene = script.scenes[0]
    assert (scene.location, scene.time_of_day, scene.interior) == ("Hospital lift", "Night", True)
    assert kinds(script) == "action music narration sfx dialogue dialogue"
    assert scene.beats[5].parenthetical == "calmly" and scene.beats[5].speaker == "Ana"
    assert [(c.name, c.description) for c in script.characters] == [
        ("Ana", "nurse, 30s"),
        ("Ben", "porter"),
    ]


def test_marker_dialogue_marker_without_speaker_names_the_line(tmp_path: Path) -> None:
    path = write(tmp_path, "ep.txt", "【场景1】教室\n【画面】空无一人。\n【对白】你好\n")
    with pytest.raises(ScriptError, match=r"ep\.txt:3: .*名字：台词"):
        load_script(path)


# --- Fountain ---------------------------------------------------------------------------------

RAIN = EXAMPLES / "rain_stop.en.fountain"


def test_fountain_example() -> None:
    script = load_script(RAIN)
    assert script.format == "fountain" and script.language == "en"
    assert script.title == "The Rain Stop"
    (scene,) = script.scenes
    assert (scene.heading, scene.location, scene.time_of_day, scene.interior) == (
        "EXT. BUS STOP - NIGHT",
        "BUS STOP",
        "NIGHT",
        False,
    )
    assert kinds(script).startswith("action music sfx action dialogue")
    dialogue = [b for b in scene.beats if b.kind == "dialogue"]
    assert len(dialogue) >= 6
    assert {b.speaker for b in dialogue} == {"Maya", "Leo"}
    smiling = next(b for b in dialogue if b.parenthetical)
    assert (smiling.speaker, smiling.parenthetical) == ("Maya", "smiling")
    assert [(c.name, c.description) for c in script.characters] == [
        ("Maya", "20s, yellow raincoat"),
        ("Leo", "20s, soaked, no umbrella"),
    ]
    lines = RAIN.read_text(encoding="utf-8").split("\n")
    for beat in scene.beats:  # every beat points at the line its text is on
        assert beat.source_line is not None
        assert beat.text.split()[0].strip(".*") in lines[beat.source_line - 1]


FOUNTAIN = """\
Title:
    _**Night Shift**_
Author: Someone
Draft date: 1 May

/* a cut scene
INT. NOWHERE - DAY
*/
FADE IN:

INT. DINER - NIGHT #1#

A neon sign [[fix colour]] flickers. **Rain** outside.

SFX: a bell over the door

NARRATOR (V.O.)
Every town has a place like this.

JO (O.S.)
Coffee?

@McClane
(tired)
Black.
(beat)
Please.

JO (V.O.) (CONT'D)
Coming up.

CUT TO:

.ROOFTOP

MUSIC: distant sirens

INT./EXT. CAR - CONTINUOUS

!BANG
The door slams.
"""


def test_fountain_syntax() -> None:
    script = parse_text(FOUNTAIN, source="night.fountain")
    assert script.title == "Night Shift"
    assert [s.heading for s in script.scenes] == [
        "INT. DINER - NIGHT",
        "ROOFTOP",
        "INT./EXT. CAR - CONTINUOUS",
    ]
    diner, roof, car = script.scenes
    assert (diner.location, diner.time_of_day, diner.interior) == ("DINER", "NIGHT", True)
    assert diner.source_line == 11 and roof.interior is None and car.interior is None
    assert [(b.kind, b.speaker, b.parenthetical, b.text, b.source_line) for b in diner.beats] == [
        ("action", None, None, "A neon sign  flickers. Rain outside.", 13),
        ("sfx", None, None, "a bell over the door", 15),
        ("narration", None, None, "Every town has a place like this.", 18),
        ("dialogue", "Jo", "O.S.", "Coffee?", 21),  # heard from off screen: no lips move
        ("dialogue", "McClane", "tired", "Black.", 25),
        ("dialogue", "McClane", "beat", "Please.", 27),
        ("dialogue", "Jo", "V.O.", "Coming up.", 30),
    ]
    assert [(b.kind, b.text) for b in roof.beats] == [("music", "distant sirens")]
    assert [b.text for b in car.beats] == ["BANG The door slams."]
    assert [c.name for c in script.characters] == ["Jo", "McClane"]


def test_fountain_without_heading_needs_a_spoken_line(tmp_path: Path) -> None:
    ok = parse_text("MAYA\nHello.\n", source="a.fountain")
    assert ok.scenes[0].beats[0].speaker == "Maya"
    with pytest.raises(ScriptError, match=r"empty\.fountain: no scenes found: .*INT\. KITCHEN"):
        load_script(write(tmp_path, "empty.fountain", "Title: Nothing\n\n/* all cut */\n"))


# --- YAML briefs ------------------------------------------------------------------------------

AD = EXAMPLES / "product_ad.en.yaml"


def test_brief_example() -> None:
    script = load_script(AD)
    assert script.format == "yaml" and script.language == "en" and script.title == "Warm All Day"
    assert script.logline == "Keeps coffee hot for twelve hours."
    assert [(c.name, c.aspect, c.duration) for c in script.channels] == [
        ("moments", "9:16", 15.0),
        ("short_video", "9:16", 60.0),
        ("product_page", "16:9", 180.0),
    ]
    assert [c.name for c in script.characters] == ["Mia"]
    assert script.characters[0].description.startswith("commuter")
    assert [s.heading for s in script.scenes] == [
        "Cold morning platform",
        "On the train",
        "Product shot",
    ]
    assert kinds(script, 0) == "music action narration sfx"
    assert kinds(script, 1) == "music action narration dialogue"
    assert all(s.beats[0].source_line == 6 for s in script.scenes)  # the brief-wide music line
    line = script.scenes[1].beats[-1]
    assert (line.speaker, line.text) == ("Mia", "Still hot. Every single time.")
    assert line.source_line == 23
    assert all(len([b for b in s.beats if b.kind == "narration"]) == 1 for s in script.scenes)


def test_brief_points_become_narrated_scenes_and_aspect_survives_yaml() -> None:
    text = """\
product: 暖光保温杯
points:
  - 十二小时保温
  - 一键开盖
channels:
  - name: douyin
    aspect: 9:16
"""
    script = parse_text(text, source="cup.yml")
    assert script.language == "zh"  # from the values; the keys are English
    assert script.title == "暖光保温杯"
    assert script.channels[0].aspect == "9:16"  # unquoted 9:16 is base-60 556 to YAML 1.1
    assert kinds(script, 0) == kinds(script, 1) == "action narration"
    assert [s.beats[1].text for s in script.scenes] == ["十二小时保温", "一键开盖"]
    assert [s.beats[1].source_line for s in script.scenes] == [3, 4]


def test_brief_message_only_and_line_shorthand() -> None:
    script = parse_text("title: T\nmessage: Hot for hours.\n", source="b.yaml")
    assert [(b.kind, b.text) for b in script.scenes[0].beats] == [
        ("action", "Hot for hours."),
        ("narration", "Hot for hours."),
    ]
    short = parse_text("scenes:\n  - lines: ['Mia: Hi there.']\n", source="c.yaml")
    assert short.scenes[0].beats[0].speaker == "Mia" and short.characters[0].name == "Mia"


@pytest.mark.parametrize(
    ("text", "pattern"),
    [
        (
            "title: T\nscenes:\n  - heading: a\n    visual: [unclosed\n",
            r"b\.yaml:\d+: not valid YAML",
        ),
        (
            "title: T\nscenes:\n  - heading: x\n    lines: nope\n",
            r"b\.yaml:4: field 'scenes\.0\.lines'",
        ),
        (
            "title: T\nchannels:\n  - name: tv\n    duration: long\n",
            r"b\.yaml:4: field 'channels\.0\.duration'",
        ),
        (
            "title: T\nchannels:\n  - name: tv\n    aspect: 4:3\n",
            r"b\.yaml:4: field 'channels\.0\.aspect'",
        ),
        (
            "title: T\nscenes:\n  - heading: x\n    voicover: hi\n",
            r"b\.yaml:4: .*voicover.*unknown field",
        ),
        ("title: T\nlanguage: fr\nmessage: hi\n", r"b\.yaml:2: field 'language'"),
        ("- just\n- a list\n", r"b\.yaml: a brief is a YAML mapping"),
        ("title: T\nproduct: P\n", r"b\.yaml: no scenes found: .*scenes"),
    ],
)
def test_bad_briefs_name_file_line_and_field(tmp_path: Path, text: str, pattern: str) -> None:
    with pytest.raises(ScriptError, match=pattern):
        load_script(write(tmp_path, "b.yaml", text))


# --- Prose ------------------------------------------------------------------------------------


def test_prose_one_line_idea() -> None:
    script = parse_text("A girl waits for the last bus. It never comes.", source="idea.txt")
    assert script.format == "prose" and script.language == "en"
    assert script.title == "A girl waits for the last"
    assert [(b.kind, b.text) for b in script.scenes[0].beats] == [
        ("action", "A girl waits for the last bus."),
        ("narration", "A girl waits for the last bus."),
        ("narration", "It never comes."),
    ]


def test_prose_paragraphs_become_scenes_with_lines() -> None:
    text = "# 末班车\n\n女孩在雨中等车。\n车一直没来。\n\n\n天亮了，雨停了。她笑了。\n"
    script = parse_text(text, source="bus.txt")
    assert script.title == "末班车" and script.language == "zh"
    assert [s.index for s in script.scenes] == [1, 2]
    assert [(b.kind, b.text, b.source_line) for b in script.scenes[0].beats] == [
        ("action", "女孩在雨中等车。", 3),
        ("narration", "女孩在雨中等车。", 3),
        ("narration", "车一直没来。", 4),
    ]
    assert script.scenes[1].source_line == 7
    assert [b.text for b in script.scenes[1].beats][1:] == ["天亮了，雨停了。", "她笑了。"]


def test_sentences_keep_decimals_and_quotes() -> None:
    text = "It cost 3.5 dollars. “走吧。”他说。Really?!"
    assert [s for _, s in split_sentences(text)] == [
        "It cost 3.5 dollars.",
        "“走吧。”",
        "他说。",
        "Really?!",
    ]


# --- Detection --------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "suffix", "expected"),
    [
        ("anything at all", ".fountain", "fountain"),
        ("anything: at all", ".yml", "yaml"),
        ("\nINT. KITCHEN - DAY\n\nShe cooks.\n", ".txt", "fountain"),
        ("EXT. PARK - NIGHT\n\nRain.\n", "", "fountain"),
        ("title: Ad\nproduct: Cup\nchannels: []\n", ".txt", "yaml"),
        ("title: Ad\nproduct: [broken\nscenes: x\n", "", "yaml"),
        ("【场景1】教室\n林小雨：你好", ".txt", "marker"),
        ("场景1：教室\n画面：窗外下雨", "", "marker"),
        ("第3场 天台 夜 外\n他站在风里。", "", "marker"),
        ("1-1 教室 日 内\n阿明：嗨", "", "marker"),
        ("林小雨：你好。\n陈默：你好。\n", "", "marker"),
        ("[Scene 1] Park\n[Narration] Spring.", "", "marker"),
        ("A cat waits for the rain to stop.", "", "prose"),
        ("一只猫在等雨停。", ".txt", "prose"),
    ],
)
def test_detect_format(text: str, suffix: str, expected: str) -> None:
    assert detect_format(text, suffix) == expected


def test_detect_language() -> None:
    assert (
        detect_language("阳光洒在课桌上，林小雨低头写日记。dramaforge render x.txt --out out")
        == "zh"
    )
    assert detect_language("Maya checks her phone. 林") == "en"
    assert detect_language("12345 !!!") == "en"


def test_format_and_language_can_be_forced() -> None:
    script = parse_text("林小雨：你好。\n", format="marker", language="en")
    assert script.language == "en" and script.format == "marker"
    prose = parse_text("INT. is not a heading here", format="prose")
    assert prose.format == "prose"


# --- Reading: encodings and bad files ---------------------------------------------------------

ZH = "【场景1】教室 - 白天 - 内\r\n林小雨：你好。\r\n陈默：你好。\r\n"


@pytest.mark.parametrize(
    "data",
    [
        ZH.encode("utf-8"),
        codecs.BOM_UTF8 + ZH.encode("utf-8"),
        ZH.encode("gb18030"),
        ZH.encode("utf-16"),
    ],
    ids=["utf-8", "utf-8-bom", "gb18030", "utf-16-bom"],
)
def test_encodings_decode_the_same(tmp_path: Path, data: bytes) -> None:
    script = load_script(write(tmp_path, "ep.txt", data))
    assert script.scenes[0].heading == "教室 - 白天 - 内"
    assert [(b.speaker, b.text, b.source_line) for b in script.scenes[0].beats] == [
        ("林小雨", "你好。", 2),
        ("陈默", "你好。", 3),
    ]


@pytest.mark.parametrize(
    ("data", "pattern"),
    [
        (b"", "empty"),
        (b"  \n\t\r\n", "empty"),
        ("\u3000\n".encode(), "empty"),
        (b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR" + bytes(range(256)), "binary"),
        (bytes([1, 2, 3, 4, 5, 6, 7, 8, 11, 14, 15, 16]) * 20, "binary"),
        (b"\x80\x80\xff hello", "cannot decode .*UTF-8"),
        ("// 只有注释\n# 标题\n".encode(), "no scenes found"),
    ],
    ids=[
        "empty",
        "whitespace",
        "ideographic-space",
        "png",
        "control-chars",
        "undecodable",
        "comments-only",
    ],
)
def test_bad_files_name_the_file(tmp_path: Path, data: bytes, pattern: str) -> None:
    path = write(tmp_path, "bad_script.txt", data)
    with pytest.raises(ScriptError, match=rf"bad_script\.txt: .*{pattern}") as err:
        load_script(path)
    assert err.value.path == str(path)


def test_undecodable_bytes_starting_like_utf16_bom(tmp_path: Path) -> None:
    with pytest.raises(ScriptError, match="UTF-16"):
        load_script(write(tmp_path, "u.txt", codecs.BOM_UTF16_LE + b"\x00\xd8"))


def test_too_large_missing_and_folder(tmp_path: Path) -> None:
    big = tmp_path / "novel.txt"
    big.write_bytes(b"a" * (MAX_BYTES + 1))
    with pytest.raises(ScriptError, match=r"novel\.txt: .*MB.*split it"):
        load_script(big)
    with pytest.raises(ScriptError, match=r"nope\.txt: no such file"):
        load_script(tmp_path / "nope.txt")
    with pytest.raises(ScriptError, match="folder"):
        load_script(tmp_path)
    with pytest.raises(ScriptError, match=r"<text>: .*empty"):
        parse_text("   ")


def test_marker_without_scenes_says_how_to_start_one(tmp_path: Path) -> None:
    path = write(tmp_path, "bare.txt", "人物：林小雨（女）\n【场景1】教室\n")
    with pytest.raises(ScriptError, match=r"bare\.txt: no scenes found: .*【场景1】"):
        load_script(path)


# --- Examples ---------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "name", ["campus_ep01.zh.txt", "rain_stop.en.fountain", "product_ad.en.yaml"]
)
def test_examples_parse_and_header_has_render_command(name: str) -> None:
    path = EXAMPLES / name
    script = load_script(path)
    assert script.scenes and script.spoken_lines()
    header = path.read_text(encoding="utf-8").split("\n", 1)[0]
    assert f"dramaforge render examples/{name} --out out" in header
    assert all("dramaforge" not in b.text for s in script.scenes for b in s.beats)
    assert "dramaforge" not in script.title
