"""The adapter: a novel into a season of episode scripts a person can edit, then ``batch``.

The book is read once (``script/novel.py``): its chapters, its cast with nicknames and looks,
its places. The cast goes into the season's bible (``bible.toml`` beside the scripts, and the
``人物：`` line of every episode, word for word), so each episode names and draws its people
alike. Chapters are grouped into the episodes asked for, in order, by length.

Each episode is written in the project's marker format (``【场景】``, ``【画面】``, ``【旁白】``,
``名字：台词``). Offline, by rule: quoted speech is a line with its speaker, the rest narration,
each paragraph's first sentence the picture. With a chat model, each chapter is first
summarised into a running story memory (bounded: it is itself rewritten short, never the
book in one prompt), and the episode is written from the bible, the memory of what came
before and its own chapters; a reply that does not read as a script falls back to the rules.

Resumable: ``.adapt.json`` in the output folder records the book's digest, the memory after
each chapter and each episode written; a run again skips what is done.
"""

from __future__ import annotations

import hashlib
import json
import re
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from dramaforge import prompts
from dramaforge.errors import ScriptError
from dramaforge.media.store import atomic_write
from dramaforge.schema import Language
from dramaforge.script import parse_text
from dramaforge.script.detect import detect_language
from dramaforge.script.novel import Chapter, Person, Said, chapters, gather_cast, places, said

if TYPE_CHECKING:
    from langchain_core.language_models import BaseChatModel

STATE = ".adapt.json"
BIBLE = "bible.toml"
MEMORY_CHARS = 1200
"""The story memory's bound: what a model is told of everything before the episode."""
CHAPTER_CHARS = 6000
"""The most of one chapter's text a prompt carries (a long chapter is cut, never the book)."""
NARRATION_CHARS = 60
PICTURE_CHARS = 40

Progress = Callable[[str], None]


@dataclass
class Season:
    title: str
    language: Language
    cast: dict[str, Person]
    episodes: list[Path] = field(default_factory=list)
    written: int = 0
    """Episodes written by this run (the others were done before)."""


def group(book: list[Chapter], episodes: int) -> list[list[Chapter]]:
    """Contiguous groups of chapters, one per episode, of about equal length; never more
    episodes than chapters."""
    count = max(1, min(episodes, len(book)))
    total = sum(len(c.text) for c in book)
    groups: list[list[Chapter]] = [[]]
    done = 0
    for i, chapter in enumerate(book):
        left = len(book) - i
        need = count - len(groups)
        if groups[-1] and (done >= total * len(groups) / count or left <= need):
            groups.append([])
        groups[-1].append(chapter)
        done += len(chapter.text)
    return groups


def _digest(text: str, episodes: int) -> str:
    return hashlib.sha256(f"{episodes}\n{text}".encode()).hexdigest()[:16]


def _inline(text: str) -> str:
    """Text safe inside a marker line: no brackets that open a marker, no newlines."""
    text = re.sub(r"\s+", " ", text).strip()
    return text.replace("【", "「").replace("】", "」").replace("（", "，").replace("）", "")


def cast_line(cast: dict[str, Person]) -> str:
    """The ``人物：`` line every episode carries, word for word the same (none: no one speaks)."""
    if not cast:
        return ""
    parts = []
    for person in cast.values():
        notes = [*(f"又名{a}" for a in person.aliases), _inline(person.look).rstrip("。")]
        notes = [n for n in notes if n]
        parts.append(f"{person.name}（{'，'.join(notes)}）" if notes else person.name)
    return "人物：" + "；".join(parts)


def bible_toml(title: str, cast: dict[str, Person], where: dict[int, list[str]]) -> str:
    """The season's bible for a person to read and edit: cast, nicknames, looks, places."""
    out = [f"# The series bible of {json.dumps(title, ensure_ascii=False)}", ""]
    out.append(f"title = {json.dumps(title, ensure_ascii=False)}")
    seen = list(dict.fromkeys(p for ps in where.values() for p in ps))
    out.append(f"places = {json.dumps(seen, ensure_ascii=False)}")
    for person in cast.values():
        out += [
            "",
            "[[character]]",
            f"name = {json.dumps(person.name, ensure_ascii=False)}",
            f"aliases = {json.dumps(person.aliases, ensure_ascii=False)}",
            f"look = {json.dumps(person.look, ensure_ascii=False)}",
        ]
    return "\n".join(out) + "\n"


def _sentences(text: str) -> list[str]:
    return [s.strip() for s in re.findall(r"[^。！？!?]+[。！？!?…”]*", text) if s.strip()]


def _narration(text: str) -> list[str]:
    """Narration in lines a voice can read in one breath: sentences joined up to
    ``NARRATION_CHARS``, a long one cut at its clauses."""
    lines: list[str] = []
    for sentence in _sentences(text):
        for clause in _clauses(sentence):
            if lines and len(lines[-1]) + len(clause) <= NARRATION_CHARS:
                lines[-1] += clause
            else:
                lines.append(clause)
    return lines


def _clauses(sentence: str) -> list[str]:
    if len(sentence) <= NARRATION_CHARS:
        return [sentence]
    return [c for c in re.findall(r"[^；;，,]+[；;，,]?", sentence) if c.strip()]


def episode_by_rule(
    title: str,
    number: int,
    part: list[Chapter],
    cast: dict[str, Person],
    where: list[str],
    language: Language = "zh",
) -> str:
    """One episode in the marker format: a scene per chapter, its narration and lines."""
    name = f"{title} 第{number}集" if language == "zh" else f"{title}, episode {number}"
    out = [f"# {name}", cast_line(cast), ""]
    for k, chapter in enumerate(part, 1):
        place = (places(chapter.text) or where or [title])[0]
        out.append(f"【场景{k}】{_inline(place)}")
        for beat in said(chapter.text, cast):
            out += _beat_lines(beat)
        out.append("")
    return "\n".join(out)


def _beat_lines(beat: Said) -> list[str]:
    if beat.speaker is not None:
        return [f"{beat.speaker}：{_inline(beat.text)}"]
    text = _inline(beat.text)
    first = (_sentences(text) or [text])[0]
    picture = first if len(first) <= PICTURE_CHARS else _cut(first)
    return [f"【画面】{picture}", *(f"【旁白】{line}" for line in _narration(text))]


def _cut(text: str) -> str:
    """``text`` cut to the picture's length, at a word where the text has words."""
    cut = text[:PICTURE_CHARS]
    if " " in cut and text[PICTURE_CHARS : PICTURE_CHARS + 1] not in (" ", ""):
        cut = cut.rsplit(" ", 1)[0]
    return cut.rstrip("，,；;：: ")


@dataclass
class Adapter:
    """Adapts a novel; ``chat_model`` writes with a running story memory, None: by rule."""

    chat_model: BaseChatModel | None = None
    progress: Progress = lambda _: None

    def adapt(self, novel: Path, episodes: int, out: Path) -> Season:
        from dramaforge.script.reader import decode

        try:
            data = novel.read_bytes()
        except OSError as err:
            raise ScriptError(f"cannot read the novel ({err.strerror})", path=str(novel)) from None
        text = decode(data, str(novel))
        book = chapters(text, str(novel))
        title = _title(text, novel)
        language = detect_language(text[:20000])
        cast = gather_cast(book)
        where = {c.number: places(c.text) for c in book}
        out.mkdir(parents=True, exist_ok=True)
        state = self._state(out, _digest(text, episodes))
        atomic_write(out / BIBLE, bible_toml(title, cast, where))
        season = Season(title, language, cast)
        memory = str(state.get("memory", ""))
        for number, part in enumerate(group(book, episodes), 1):
            name = f"ep{number:02d}.{language}.txt"
            dest = out / name
            if state["done"].get(str(number)) == name and dest.is_file():
                season.episodes.append(dest)
                memory = str(state["memories"].get(str(number), memory))
                self.progress(f"episode {number}: done before ({name})")
                continue
            script, memory = self._episode(title, number, part, cast, where, memory, language)
            atomic_write(dest, script)
            state["done"][str(number)] = name
            state["memories"][str(number)] = memory
            state["memory"] = memory
            atomic_write(out / STATE, json.dumps(state, ensure_ascii=False, indent=1))
            season.episodes.append(dest)
            season.written += 1
        return season

    def _state(self, out: Path, digest: str) -> dict[str, Any]:
        path = out / STATE
        try:
            state: dict[str, Any] = json.loads(path.read_text(encoding="utf-8"))
        except (OSError, ValueError):
            state = {}
        if state.get("digest") != digest:  # another book, or another episode count
            state = {"digest": digest, "done": {}, "memories": {}, "memory": ""}
        return state

    def _episode(
        self,
        title: str,
        number: int,
        part: list[Chapter],
        cast: dict[str, Person],
        where: dict[int, list[str]],
        memory: str,
        language: Language,
    ) -> tuple[str, str]:
        for chapter in part:
            beats = said(chapter.text, cast)
            speakers = sorted({b.speaker for b in beats if b.speaker})
            lines = sum(1 for b in beats if b.speaker)
            self.progress(
                f"chapter {chapter.number} {chapter.title or ''}".rstrip()
                + f": {lines} lines by {', '.join(speakers) or 'no one'} -> episode {number}"
            )
        places_here = [p for c in part for p in where.get(c.number, [])]
        by_rule = episode_by_rule(title, number, part, cast, places_here, language)
        if self.chat_model is None:
            return by_rule, memory
        return self._written(title, number, part, cast, memory, language, by_rule)

    def _written(
        self,
        title: str,
        number: int,
        part: list[Chapter],
        cast: dict[str, Person],
        memory: str,
        language: Language,
        by_rule: str,
    ) -> tuple[str, str]:
        """The episode written by the model from the bible, the memory and its chapters; the
        memory then takes in these chapters, kept short."""
        assert self.chat_model is not None
        parts = prompts.sections("adapt", language)
        chapters_text = "\n\n".join(
            f"{c.title}\n{c.text[:CHAPTER_CHARS]}" for c in part
        )  # each chapter bounded
        ask = parts["episode"].format(
            title=title,
            number=number,
            cast=cast_line(cast),
            memory=memory or "-",
            chapters=chapters_text,
        )
        script = by_rule
        try:
            reply = str(self.chat_model.invoke(ask).content).strip()
            reply = re.sub(r"^```\w*\n|\n```$", "", reply)
            parse_text(reply, source=f"episode {number}", format="marker")
            if cast_line(cast) not in reply:  # the bible's words, not the model's
                reply = re.sub(r"^人物[：:].*$", cast_line(cast), reply, count=1, flags=re.M)
            script = reply
        except Exception as err:  # any failure of the model: the rules write it
            self.progress(f"episode {number}: the model's script did not read ({err}); by rule")
        for chapter in part:
            summary = parts["summary"].format(
                memory=memory or "-", chapter=chapter.text[:CHAPTER_CHARS], limit=MEMORY_CHARS
            )
            try:
                memory = str(self.chat_model.invoke(summary).content).strip()[:MEMORY_CHARS]
            except Exception as err:  # the memory stays as it was
                self.progress(f"chapter {chapter.number}: no summary ({err})")
        return script, memory


def _title(text: str, novel: Path) -> str:
    first = next((ln.strip() for ln in text.split("\n") if ln.strip()), "")
    if first and len(first) <= 30 and not re.search(r"[。！？.!?]$", first):
        return first.strip("《》# ")
    return novel.stem.split(".")[0]
