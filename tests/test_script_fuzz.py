"""Parsers that cannot be crashed or hung: any input gives a Script or a ScriptError, quickly.

Two halves. Property-based fuzzing (hypothesis) throws arbitrary text, text built from every
parser's own syntax, and arbitrary bytes at detection, decoding and each of the four parsers.
Then a corpus of hostile files, generated here: billion laughs (in keys a brief ignores), deep
nesting, 10,000 scenes, 5 MB, a 1 MB line, binary, control and bidi characters, Shift-JIS,
Big5 and files that mix encodings. Each gives a clear ScriptError or a valid Script within a
few seconds; the big ones are also planned by the rule director, which must stay fast too.
"""

from __future__ import annotations

import codecs
import time
from pathlib import Path
from typing import Any
from unittest import mock

import pytest
import yaml
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from dramaforge.agents.director import RuleDirector
from dramaforge.errors import ScriptError
from dramaforge.schema import Script
from dramaforge.script import decode, detect_format, load_script, parse_text
from dramaforge.script.clean import clean_text

FORMATS = [None, "marker", "fountain", "prose", "yaml"]
FUZZ = settings(
    max_examples=150,
    deadline=4000,  # ms per example on a loaded CI machine; linear parsers take a few
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
    derandomize=True,
)
PIECES = [
    "【场景1】", "【场景", "】", "场景二 ", "第三场", "## ", "# ", "### 1. ", "INT. ", "EXT. ",
    "INT./EXT. ", " - NIGHT", "（傍晚）", "走廊", "教室 日 内", "Scene 2 – ", "1-1 ", "1. 内景 ",
    "林小雨", "MAYA", "@Leo", "：", ":", "（", "）", "(", ")", "*", "**", "***", "_", "/*", "*/",
    "[[", "]]", "^", ">", "!", ".", "△", "- ", "风格：", "角色：", "简介：", "旁白：", "BGM:",
    "♪", "title: ", "scenes:", "  - ", "&a ", "*a", "<<: ", "!!binary ", "{", "}", "[", "]",
    "---", "00:00:01,000 --> 00:00:02,000", "林小雨 12:01", "[图片]", "2024-13-45", "\x1b[31m",
    "\u202e", "\u2066", "\x00", "\x85", "\ufeff", "\t", " ", "    ", "\n", "\n\n", "\r\n", "你好。",
]  # fmt: skip
syntax = st.lists(st.sampled_from(PIECES), max_size=80).map("".join)
anything = st.text(max_size=400)


def assert_script_or_error(text: str, fmt: Any, source: str = "fuzz.txt") -> Script | None:
    """The one property: a valid, clean Script, or a one-line ScriptError; nothing else."""
    try:
        script = parse_text(text, source=source, format=fmt)
    except ScriptError as err:
        assert "\n" not in str(err) and "\x1b" not in str(err)
        return None
    Script.model_validate(script.model_dump())
    assert_clean(script.model_dump())
    return script


def assert_clean(value: Any) -> None:
    """No control character (newline and tab aside) or bidi override in any text field."""
    if isinstance(value, str):
        assert clean_text(value) == value, repr(value)
    elif isinstance(value, dict):
        for item in value.values():
            assert_clean(item)
    elif isinstance(value, list):
        for item in value:
            assert_clean(item)


@FUZZ
@given(text=anything, fmt=st.sampled_from(FORMATS))
def test_any_text_gives_a_script_or_a_script_error(text: str, fmt: Any) -> None:
    assert_script_or_error(text, fmt)


@FUZZ
@given(text=syntax, fmt=st.sampled_from(FORMATS), suffix=st.sampled_from([".txt", ".fountain"]))
def test_text_made_of_parser_syntax_gives_a_script_or_a_script_error(
    text: str, fmt: Any, suffix: str
) -> None:
    assert_script_or_error(text, fmt, source=f"fuzz{suffix}")


@settings(max_examples=25, deadline=8000, derandomize=True)
@given(
    a=st.sampled_from(PIECES),
    b=st.sampled_from(PIECES),
    times=st.integers(500, 3000),
    fmt=st.sampled_from(FORMATS),
)
def test_repeated_syntax_stays_linear(a: str, b: str, times: int, fmt: Any) -> None:
    """A piece of syntax repeated thousands of times, on one line or many: the inputs that
    made patterns backtrack (``*a *a *a``, ``/*/*``, runs of spaces before a colon)."""
    text = "INT. A - DAY\n\n【场景1】\n" + (a + b) * times
    started = time.perf_counter()
    assert_script_or_error(text, fmt)
    assert time.perf_counter() - started < 6.0


@FUZZ
@given(data=st.binary(max_size=600))
def test_any_bytes_decode_to_text_or_a_script_error(data: bytes) -> None:
    try:
        text = decode(data, "fuzz.txt")
    except ScriptError:
        return
    assert isinstance(text, str) and "\r" not in text
    assert_script_or_error(text, None)


@settings(max_examples=40, deadline=4000, derandomize=True)
@given(text=st.one_of(syntax, anything))
def test_format_detection_never_loads_yaml(text: str) -> None:
    """Detection reads the shape of a file; only a brief's own parser runs PyYAML."""
    refuse = AssertionError("detect_format ran PyYAML")
    with (
        mock.patch.object(yaml, "safe_load", side_effect=refuse),
        mock.patch.object(yaml, "compose", side_effect=refuse),
        mock.patch.object(yaml.SafeLoader, "__init__", side_effect=refuse),
    ):
        assert detect_format(text, ".txt") in ("marker", "fountain", "prose", "yaml")


# --- Hostile files ----------------------------------------------------------------------------


def laughs(depth: int = 9) -> str:
    """Billion laughs, kept under keys a brief ignores, beside a valid message."""
    rows = ['lol0: &l0 ["lol", "lol", "lol", "lol", "lol", "lol", "lol", "lol", "lol"]']
    rows += [f"lol{i}: &l{i} [{', '.join([f'*l{i - 1}'] * 9)}]" for i in range(1, depth)]
    return "title: T\nmessage: Hot for hours.\n" + "\n".join(rows) + "\n"


def scenes_zh(n: int) -> str:
    return "".join(
        f"【场景{i}】教室 - 白天 - 内\n林小雨：第{i}句。\n陈默：嗯。\n" for i in range(n)
    )


def scenes_fountain(n: int) -> str:
    return "".join(f"INT. ROOM {i} - NIGHT\n\nMAYA\nLine {i}.\n\nLEO\nYes.\n\n" for i in range(n))


ZH = "【场景1】教室 - 白天 - 内\n林小雨：早上好，今天下雨了。\n陈默：我忘记带伞了，怎么办呢？\n"
JA = "【シーン1】教室 昼\n花子：おはようございます。今日は雨ですね。\n太郎：傘を忘れました。\n"
YAML_HEAD = "title: T\nmessage: m\n"
MANY_ALIASES = f"{YAML_HEAD}x: &a 1\ny: [{'*a,' * 500}]\n"
DEEP_BLOCK = YAML_HEAD + "".join(" " * i + f"k{i}:\n" for i in range(200))
CONTROLS = (
    "【场景1】教室\x1b[2J\n林小雨：\x1b]0;pwned\x07你好\u202e反了\u202c\x9b\n陈默\u2066：嗯\x01\n"
)
EMPHASIS = "INT. A - DAY\n\n" + "*a " * 6000 + "\n" + "_*" * 9000 + "\n"
BONEYARD = "INT. A - DAY\n\nHi.\n" + "/*[[" * 4000 + "\n"
CUE_SPACES = "INT. A - DAY\n\nMAYA" + " " * 19_000 + "(x\nHi.\n"
BRACKETS = "【" * 19_000 + "\n" + "[" * 19_000 + "\n" + ZH
SPACES = "林" + " " * 19_000 + "x\n" + "风格" + " " * 19_000 + "\n" + ZH
COLONS = "：" * 19_000 + "\n" + ":" * 19_000 + "\n" + ZH
HEADINGS = "## 场景1 教室 日\n" * 10_000 + "林小雨：你好。\n"
CAST = "角色：\n" + "".join(f"- 人{i}：描述\n" for i in range(10_000)) + "\n" + ZH
HOSTILE: dict[str, tuple[str, bytes, str | None]] = {
    # name: (file name, bytes, pattern of the ScriptError, or None for a valid script)
    "billion-laughs": ("brief.yaml", laughs().encode(), "aliases are expanded"),
    "billion-laughs-as-txt": ("brief.txt", laughs().encode(), "aliases are expanded"),
    "alias-count": ("a.yaml", MANY_ALIASES.encode(), "aliases"),
    "recursive-alias": ("r.yaml", f"{YAML_HEAD}x: &a [1, *a]\n".encode(), "recursive"),
    "deep-flow-yaml": ("d.yaml", f"{YAML_HEAD}x: {'[' * 15_000}".encode(), "nested"),
    "deep-block-yaml": ("b.yaml", DEEP_BLOCK.encode(), "nested"),
    "yaml-bad-date": ("c.yaml", f"{YAML_HEAD}when: 2024-13-45\n".encode(), "month"),
    "yaml-unhashable-key": ("k.yaml", f"{YAML_HEAD}? [a, b]\n: c\n".encode(), "not valid YAML"),
    "yaml-python-tag": (
        "p.yaml",
        b"title: !!python/object/apply:os.system ['true']\nmessage: m\n",
        "not valid YAML",
    ),
    "yaml-escapes": ("e.yaml", b'title: "\\e[2J\\u202eT"\nmessage: "\\e[31mHot\\x07"\n', None),
    "ten-thousand-scenes": ("many.txt", scenes_zh(10_000).encode(), None),
    "ten-thousand-fountain-scenes": ("many.fountain", scenes_fountain(10_000).encode(), None),
    "five-mb": ("big.txt", ZH.encode() * (5 * 2**20 // len(ZH.encode()) + 1), "MB"),
    "one-mb-line": ("line.txt", "啊".encode() * 350_000 + b"\n" + ZH.encode(), "characters long"),
    "binary": ("bin.txt", bytes(range(256)) * 64, "binary"),
    "png": ("img.txt", b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR" + bytes(4000), "binary"),
    "controls-and-bidi": ("ctl.txt", CONTROLS.encode(), None),
    "shift-jis": ("ja.txt", JA.encode("shift_jis"), "Shift-JIS"),
    "big5": ("tw.txt", ZH.encode("big5", errors="ignore"), "Big5"),
    "mixed-utf8-gbk": ("mix.txt", ZH.encode() * 3 + ZH.encode("gbk"), "mixes encodings"),
    "utf16-no-bom": ("u16.txt", ZH.encode("utf-16-le"), "binary"),
    "emphasis-bomb": ("e.fountain", EMPHASIS.encode(), None),
    "unclosed-boneyard": ("b.fountain", BONEYARD.encode(), None),
    "cue-spaces": ("c.fountain", CUE_SPACES.encode(), None),
    "marker-brackets": ("m.txt", BRACKETS.encode(), None),
    "marker-spaces": ("s.txt", SPACES.encode(), None),
    "colons": ("k.txt", COLONS.encode(), None),
    "many-headings": ("h.md", HEADINGS.encode(), None),
    "huge-cast": ("cast.txt", CAST.encode(), None),
}
LIMIT_S = 30.0
"""Parse and plan time allowed. Measured: 10,000 scenes parse in about 1 s and plan in 1 s on
an idle core; on a CI machine shared eight ways, 10 s. Everything else is under a second."""


# Ten thousand scenes take seconds even when linear: the scaling check runs with the slow tests.
@pytest.mark.parametrize(
    "name",
    [
        pytest.param(n, marks=pytest.mark.slow) if n.startswith("ten-thousand") else n
        for n in HOSTILE
    ],
)
def test_hostile_file_gives_a_clear_error_or_a_valid_plan_quickly(
    tmp_path: Path, name: str
) -> None:
    file_name, data, pattern = HOSTILE[name]
    path = tmp_path / file_name
    path.write_bytes(data)
    started = time.perf_counter()
    if pattern is not None:
        with pytest.raises(ScriptError, match=pattern) as err:
            load_script(path)
        message = str(err.value)
        assert message.startswith(f"{path}") and "\n" not in message and "\x1b" not in message
    else:
        script = load_script(path)
        assert_clean(script.model_dump())
        plan = RuleDirector().direct(script)
        assert plan.shots and len(plan.shots) >= len(script.scenes)
        if name.startswith("ten-thousand"):
            assert len(script.scenes) == 10_000
            assert {s.scene_index for s in plan.shots} == set(range(1, 10_001))
    assert time.perf_counter() - started < LIMIT_S, name


def test_control_characters_are_gone_and_the_words_stay(tmp_path: Path) -> None:
    path = tmp_path / "ctl.txt"
    path.write_bytes(HOSTILE["controls-and-bidi"][1])
    script = load_script(path)
    beats = script.scenes[0].beats
    assert script.scenes[0].location == "教室[2J"  # the ESC is gone; harmless text is kept
    assert [(b.speaker, b.text) for b in beats] == [("林小雨", "]0;pwned你好反了"), ("陈默", "嗯")]


def test_yaml_escapes_cannot_smuggle_controls(tmp_path: Path) -> None:
    path = tmp_path / "e.yaml"
    path.write_bytes(HOSTILE["yaml-escapes"][1])
    script = load_script(path)
    assert script.title == "[2JT" and script.scenes[0].beats[-1].text == "[31mHot"


def test_gb18030_still_reads_and_only_garbage_is_refused(tmp_path: Path) -> None:
    """The refusal of Shift-JIS must not cost GBK users: traditional characters in GBK pass."""
    text = ZH + "陈默：繁體字也可以嗎？\n"
    path = tmp_path / "gbk.txt"
    path.write_bytes(codecs.BOM_UTF8 * 0 + text.encode("gbk"))
    assert load_script(path).scenes[0].beats[-1].text == "繁體字也可以嗎？"
