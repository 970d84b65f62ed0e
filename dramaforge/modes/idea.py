"""Idea to script: a one-line idea expanded into a short script, saved, then rendered.

The script is written to ``OUT/<name>/script.txt`` (the episode's own folder) before anything
is rendered, so a person can read it, edit it and run the same command again: a script.txt
that already holds this idea is rendered as it stands (edits included), never overwritten.
With an LLM director the model writes the script (``prompts/idea.*.md``); offline, or when
the model's reply is not a script, the rule director writes a simple narrated one.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import openai
from langchain_core.messages import HumanMessage

from dramaforge import prompts
from dramaforge.agents.structured import reply_text
from dramaforge.config import Settings
from dramaforge.errors import DramaforgeError, ScriptError
from dramaforge.graph.context import RenderContext
from dramaforge.media.store import atomic_write
from dramaforge.modes.runner import RunArgs
from dramaforge.schema import Language, Manifest
from dramaforge.script import parse_text
from dramaforge.script.detect import detect_language
from dramaforge.tools.protocols import Director

IDEA_NOTE = "# Idea: "
MAX_IDEA = 500


@dataclass
class IdeaScript:
    path: Path
    text: str
    written_by: str
    """``rules``, the LLM director's name, or ``edited`` (an existing script.txt was kept)."""


def read_idea(value: str) -> str:
    """``--idea`` text, or the one line of the file it names."""
    path = Path(value)
    try:
        is_file = len(value) < 1024 and path.is_file()
    except OSError:
        is_file = False
    text = path.read_text(encoding="utf-8") if is_file else value
    lines = [ln.strip() for ln in text.splitlines() if ln.strip()]
    if not lines:
        raise ScriptError(
            "the idea is empty; give one sentence, e.g. --idea 'a cat waits out the rain'"
        )
    idea = " ".join(lines)
    if len(idea) > MAX_IDEA:
        raise ScriptError(
            f"an idea is one line (under {MAX_IDEA} characters); render a longer text as a script"
        )
    return idea


def idea_name(idea: str) -> str:
    """A folder name from the idea's first words (or characters, for Chinese)."""
    words = re.findall(r"[A-Za-z0-9]+|[\u4e00-\u9fff]", idea)
    cjk = sum(1 for w in words if len(w) == 1 and "\u4e00" <= w <= "\u9fff")
    name = "".join(words[:8]) if cjk > len(words) / 2 else "_".join(words[:5]).lower()
    return name or "idea"


def _title(idea: str, language: Language) -> str:
    first = re.split(r"[。！？!?.,，]", idea)[0].strip()
    return first[:16] if language == "zh" else " ".join(first.split()[:6])


def rule_script(idea: str, language: Language) -> str:
    """The offline expansion: three narrated scenes (opening, turn, ending) around the idea."""
    return prompts.template("idea_rules", language).format(title=_title(idea, language), idea=idea)


def llm_script(idea: str, language: Language, chat_model: Any) -> str | None:
    """The LLM director's expansion, or None when the model fails or answers no script."""
    ask = prompts.template("idea", language).format(idea=idea)
    try:
        reply = chat_model.invoke([HumanMessage(ask)])
    except openai.OpenAIError:
        return None
    text = reply_text(reply).strip().strip("`").strip()
    try:
        script = parse_text(text, source="script.txt", format="marker")
    except ScriptError:
        return None
    return text if script.scenes and script.spoken_lines() else None


def expand(idea: str, director: Director, language: Language | None) -> tuple[str, str]:
    """The script text for ``idea`` and who wrote it."""
    lang = language or detect_language(idea)
    model = getattr(director, "chat_model", None)
    if model is not None:
        text = llm_script(idea, lang, model)
        if text is not None:
            return text, director.name
    return rule_script(idea, lang), "rules"


def write_script(
    idea: str, folder: Path, director: Director, language: Language | None
) -> IdeaScript:
    """``folder/script.txt`` for ``idea``: the existing one if it was made from the same idea
    (so edits survive), else a new expansion."""
    path = folder / "script.txt"
    note = f"{IDEA_NOTE}{idea}"
    if path.is_file():
        text = path.read_text(encoding="utf-8")
        if text.splitlines()[:1] == [note]:
            return IdeaScript(path, text, "edited")
    body, who = expand(idea, director, language)
    text = f"{note}\n# Edit this script and run the same command again to re-render it.\n{body}\n"
    folder.mkdir(parents=True, exist_ok=True)
    atomic_write(path, text)
    return IdeaScript(path, text, who)


def idea_script(idea: str, out: Path, director: Director, language: Language | None) -> IdeaScript:
    """``idea`` (or the one-line file it names) expanded into ``OUT/<name>/script.txt``, for
    the person to see before it is rendered."""
    idea = read_idea(idea)
    return write_script(idea, out / idea_name(idea), director, language)


def render_idea(
    script: IdeaScript, out: Path, settings: Settings, ctx: RenderContext, run: RunArgs
) -> Manifest:
    """Render an idea's script into its own folder; a script edited into one that does not
    parse names the file to fix."""
    try:
        parse_text(script.text, source=str(script.path))
    except ScriptError as err:
        raise DramaforgeError(f"{err}; fix {script.path} and run the command again") from err
    return run.render(script.path, out, settings, context=ctx, episode=script.path.parent.name)
