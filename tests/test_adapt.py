"""A novel into a season: chapters found, the cast gathered once (names, nicknames, looks),
speech given to its speakers by rule, each episode an editable marker script that renders,
the same cast in every episode, resumable; with a chat model, a bounded story memory.

The novel is Lu Xun's 《故乡》 (1921; public domain), abridged, with chapter headings added.
"""

from __future__ import annotations

import json
import tomllib
from pathlib import Path

import pytest
from typer.testing import CliRunner

from dramaforge.agents.adapter import MEMORY_CHARS, Adapter, group
from dramaforge.agents.plugin import llm_director
from dramaforge.cli.app import app
from dramaforge.config import ProviderSettings, Settings
from dramaforge.graph.batch import collect, run_batch
from dramaforge.media.probe import probe
from dramaforge.script import load_script
from dramaforge.script.novel import chapters, gather_cast, said
from tests.fakes.openai_server import Reply, completion, fake_openai, first_user
from tests.helpers import settings_for

NOVEL = Path(__file__).resolve().parent / "novels" / "guxiang.zh.txt"


def test_chapters_are_found_in_zh_and_en_and_by_number() -> None:
    book = chapters(NOVEL.read_text(encoding="utf-8"))
    assert [c.title for c in book] == [
        "第一章 回乡",
        "第二章 少年闰土",
        "第三章 杨二嫂",
        "第四章 闰土来了",
    ]
    en = "Chapter 1\nIt rained.\n\nChapter 2\nIt snowed.\n"
    assert [c.text for c in chapters(en)] == ["It rained.", "It snowed."]
    numbered = "一、上山\n他走了。\n二、下山\n他回来了。\n"
    assert [c.title for c in chapters(numbered)] == ["一、上山", "二、下山"]
    assert len(chapters("只有一段，没有章节。")) == 1


def test_the_cast_is_gathered_once_with_nicknames_and_looks() -> None:
    cast = gather_cast(chapters(NOVEL.read_text(encoding="utf-8")))
    assert set(cast) == {"闰土", "杨二嫂", "母亲", "我"}
    assert cast["杨二嫂"].aliases == ["豆腐西施"]
    assert "紫色的圆脸" in cast["闰土"].look and "颧骨高" in cast["杨二嫂"].look


def test_quoted_speech_goes_to_its_speaker_and_the_rest_is_narration() -> None:
    book = chapters(NOVEL.read_text(encoding="utf-8"))
    cast = gather_cast(book)
    beats = said(book[2].text, cast)  # 杨二嫂
    lines = [(b.speaker, b.text[:8]) for b in beats if b.speaker]
    assert lines == [
        ("杨二嫂", "不认识了么？我还"),
        ("母亲", "他多年出门，统忘"),
        ("杨二嫂", "阿呀呀，你放了道"),
    ]
    narration = " ".join(b.text for b in beats if b.speaker is None)
    assert "豆腐西施" in narration and "杨二嫂说" not in narration  # attributions are cut
    second = [(b.speaker, b.text[:4]) for b in said(book[1].text, cast) if b.speaker]
    assert second == [("闰土", "现在太冷"), ("我", "管贼么？"), ("闰土", "不是。走")]


def test_chapters_group_into_episodes_in_order() -> None:
    book = chapters(NOVEL.read_text(encoding="utf-8"))
    assert [[c.number for c in g] for g in group(book, 2)] == [[1, 2], [3, 4]]
    assert [[c.number for c in g] for g in group(book, 9)] == [[1], [2], [3], [4]]
    assert [[c.number for c in g] for g in group(book, 1)] == [[1, 2, 3, 4]]


def test_each_episode_is_a_script_with_the_same_cast(tmp_path: Path) -> None:
    told: list[str] = []
    season = Adapter(progress=told.append).adapt(NOVEL, 2, tmp_path / "scripts")
    assert [p.name for p in season.episodes] == ["ep01.zh.txt", "ep02.zh.txt"]
    assert sum(t.startswith("chapter ") for t in told) == 4  # progress per chapter
    scripts = [load_script(p) for p in season.episodes]
    assert all(s.format == "marker" for s in scripts)
    looks = [{c.name: c.description for c in s.characters} for s in scripts]
    shared = set(looks[0]) & set(looks[1])
    assert {"闰土", "杨二嫂", "母亲"} <= shared
    assert all(looks[0][n] == looks[1][n] for n in shared)  # one bible, word for word
    spoken = {b.speaker for s in scripts for b in s.spoken_lines() if b.kind == "dialogue"}
    assert spoken == {"闰土", "杨二嫂", "母亲", "我"}
    bible = tomllib.loads((tmp_path / "scripts" / "bible.toml").read_text(encoding="utf-8"))
    assert [c["name"] for c in bible["character"]] == ["闰土", "杨二嫂", "母亲", "我"]
    assert "海边" in bible["places"]


def test_batch_takes_the_episodes_not_the_state_or_the_bible(tmp_path: Path) -> None:
    out = tmp_path / "scripts"
    Adapter().adapt(NOVEL, 2, out)
    assert (out / ".adapt.json").is_file() and (out / "bible.toml").is_file()
    assert [p.name for p in collect([out])] == ["ep01.zh.txt", "ep02.zh.txt"]


def test_a_second_run_resumes(tmp_path: Path) -> None:
    out = tmp_path / "scripts"
    Adapter().adapt(NOVEL, 2, out)
    (out / "ep02.zh.txt").unlink()
    edited = (out / "ep01.zh.txt").read_text(encoding="utf-8") + "\n【旁白】编辑加的一句。\n"
    (out / "ep01.zh.txt").write_text(edited, encoding="utf-8")
    again = Adapter().adapt(NOVEL, 2, out)
    assert again.written == 1  # only the missing one
    assert (out / "ep01.zh.txt").read_text(encoding="utf-8") == edited  # an edit is kept


def test_the_command_writes_the_season(tmp_path: Path) -> None:
    out = tmp_path / "scripts"
    result = CliRunner().invoke(
        app, ["adapt", str(NOVEL), "--episodes", "2", "--out", str(out), "--json"]
    )
    assert result.exit_code == 0, result.output
    data = json.loads(result.output[result.output.index("{") :])
    assert data["written"] == 2 and data["cast"]["杨二嫂"]["aliases"] == ["豆腐西施"]


def _writer(request: dict[str, object]) -> Reply:
    """The model: an episode in the marker format, or a short summary of the chapter."""
    asked = first_user(request)  # type: ignore[arg-type]
    if "改编成" in asked:
        number = asked.split("第", 1)[1].split("集", 1)[0]
        script = (
            f"# 故乡 第{number}集\n人物：闰土\n\n【场景1】海边\n【画面】月下瓜田\n闰土：你也去。\n"
        )
        return completion(request, content=script)  # type: ignore[arg-type]
    chapter = asked.split("<<<", 1)[1]
    topic = "闰土" if "闰土" in chapter else "杨二嫂"
    return completion(request, content=f"记忆：提到{topic}。" + "很长的记忆" * 400)  # type: ignore[arg-type]


def test_with_a_chat_model_the_story_memory_runs_on_and_stays_bounded(tmp_path: Path) -> None:
    with fake_openai(_writer) as server:
        settings = Settings().model_copy(
            update={"openai": ProviderSettings(api_key="sk-test", base_url=server.base_url,
                                               timeout=10, max_retries=0)}
        )  # fmt: skip
        director = llm_director("openai")("fake-chat", settings)
        season = Adapter(chat_model=director.chat_model).adapt(NOVEL, 2, tmp_path / "s")
        asks = [first_user(r) for r in server.requests]  # type: ignore[arg-type]
    episode_asks = [a for a in asks if "改编成" in a]
    assert len(episode_asks) == 2 and len(asks) == 2 + 4  # one summary per chapter
    assert "提到闰土" in episode_asks[1]  # episode 2 knows what happened in episode 1
    assert "少年闰土" not in episode_asks[1]  # its prompt holds its own chapters, not the book
    assert all(len(a) < 6000 + 2000 for a in asks)
    state = json.loads((tmp_path / "s" / ".adapt.json").read_text(encoding="utf-8"))
    assert len(state["memory"]) <= MEMORY_CHARS
    second = load_script(season.episodes[1])
    assert second.characters[0].name == "闰土"
    assert (
        "紫色的圆脸" in second.characters[0].description
    )  # the bible's cast line, not the model's


@pytest.mark.slow
def test_batch_renders_each_episode_offline(tmp_path: Path) -> None:
    season = Adapter().adapt(NOVEL, 2, tmp_path / "scripts")
    report = run_batch([tmp_path / "scripts"], tmp_path / "out", settings_for())
    assert report.failed == 0, [e.error for e in report.episodes]
    assert len(report.episodes) == len(season.episodes)
    for episode in report.episodes:
        assert episode.episode is not None
        info = probe(Path(episode.episode))
        assert info.has_video and info.has_audio and info.duration > 10


def test_a_long_book_adapts_in_seconds_with_the_same_cast(tmp_path: Path) -> None:
    """Six hundred chapters (the story told 150 times): the cast is still its four people,
    not the adverbs that stand before 说 (``从旁说``, ``分明的叫道``) once the book repeats them."""
    import time

    body = NOVEL.read_text(encoding="utf-8").split("\n", 3)[3]
    parts = [p for p in body.split("第") if "章" in p[:4]]
    chapters_text = [p.split("\n", 1)[1] for p in parts]
    book = "\n".join(
        f"第{n + 1}章 第{n + 1}回\n{chapters_text[n % len(chapters_text)]}" for n in range(600)
    )
    novel = tmp_path / "long.txt"
    novel.write_text("长故乡\n\n" + book, encoding="utf-8")
    started = time.monotonic()
    season = Adapter().adapt(novel, 30, tmp_path / "s")
    assert time.monotonic() - started < 20
    assert len(season.episodes) == 30
    assert set(season.cast) == {"闰土", "杨二嫂", "母亲", "我"}


def test_an_english_novel_gives_its_quotes_to_their_speakers(tmp_path: Path) -> None:
    novel = tmp_path / "storm.txt"
    novel.write_text(
        "The Storm\n\nChapter 1\n\nThe wind rose over the harbour. Old Tom tied the boats.\n\n"
        '"Get inside," Tom said.\n\n"Not yet," said Mary.\n\nChapter 2\n\n'
        'By morning the sea was calm.\n\nMary said, "It is over."\n',
        encoding="utf-8",
    )
    season = Adapter().adapt(novel, 2, tmp_path / "s")
    assert set(season.cast) == {"Tom", "Mary"}
    scripts = [load_script(p) for p in season.episodes]
    said_ = [(b.speaker, b.text) for s in scripts for b in s.spoken_lines() if b.speaker]
    assert said_ == [("Tom", "Get inside"), ("Mary", "Not yet"), ("Mary", "It is over.")]
    assert scripts[0].title == "The Storm, episode 1"
