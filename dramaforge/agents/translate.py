"""Translations of the spoken lines, for bilingual subtitles (``--subtitles zh+en``).

A line the writer translated (``（en）Hello.`` on the line after it, see ``script.marker``)
keeps the writer's words. The other lines go to the configured chat model (the director's
``openai:``/``dashscope:`` endpoint) in one batched request, and the answer is kept in the
asset store under the lines and the prompt, so a re-render or a changed shot does not ask
again. Offline with neither, the render stops before anything is generated (``check``).
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import openai
from langchain_core.messages import BaseMessage, HumanMessage, SystemMessage
from pydantic import BaseModel

from dramaforge import prompts
from dramaforge.agents.structured import (
    ask,
    unpack,
)
from dramaforge.config import Settings
from dramaforge.errors import ConfigError, ProviderError
from dramaforge.media.store import AssetStore
from dramaforge.schema import Language, Script, Subtitles
from dramaforge.tools.openai.client import PROVIDERS, chat_client
from dramaforge.tools.openai.failures import api_error
from dramaforge.tools.protocols import Generated, TaskJournal

ATTEMPTS = 3
NAMES: dict[Language, dict[Language, str]] = {
    "en": {"zh": "英文", "en": "English"},
    "zh": {"zh": "简体中文", "en": "Simplified Chinese"},
}
"""The target language as the prompt (written in the source language) names it."""
HOW = (
    "set --director openai:MODEL or dashscope:MODEL (a chat model translates them), or write "
    "each translation on the line after its line, e.g. 林小雨：你好。 then （en）Hello."
)


class Translations(BaseModel):
    translations: list[str]


def target_of(subtitles: Subtitles, language: Language) -> tuple[Language, bool]:
    """The language to translate into, and whether its line goes on top (``en+zh`` of a
    Chinese script puts the English first)."""
    target: Language = "en" if language == "zh" else "zh"
    return target, subtitles.startswith(target)


def chat_model(settings: Settings) -> tuple[str, str] | None:
    """``(provider, model)`` of the director when it is a chat model, else None."""
    provider, _, model = settings.backends.director.partition(":")
    return (provider, model) if provider in PROVIDERS and model else None


def authored(script: Script) -> dict[str, str]:
    """The writer's translations, by the line's text."""
    return {b.text: b.translation for b in script.spoken_lines() if b.translation}


def check(script: Script, subtitles: Subtitles | None, settings: Settings) -> None:
    """ConfigError now, before anything is paid for, if some line would have no translation."""
    if subtitles is None:
        return
    spoken = script.spoken_lines()
    missing = [b for b in spoken if not b.translation]
    if not missing or chat_model(settings) is not None:
        return
    first = missing[0]
    where = f"line {first.source_line}: " if first.source_line else ""
    raise ConfigError(
        f"--subtitles {subtitles}: {len(missing)} of {len(spoken)} spoken lines have no "
        f"translation ({where}{first.text[:40]!r}) and the director "
        f"{settings.backends.director} cannot translate; {HOW}"
    )


def translate(
    lines: list[str],
    source: Language,
    target: Language,
    settings: Settings,
    store: AssetStore,
) -> dict[str, str]:
    """Each of ``lines`` translated into ``target``, by the chat model, once per set of lines."""
    lines = list(dict.fromkeys(lines))
    if not lines:
        return {}
    spec = chat_model(settings)
    if spec is None:
        raise ConfigError(
            f"bilingual subtitles: {len(lines)} spoken lines have no translation "
            f"(first: {lines[0][:40]!r}); {HOW}"
        )
    provider, model = spec
    payload = {
        "lines": lines,
        "source": source,
        "target": target,
        "prompt": prompts.template("translate", source),
    }

    def make(dest: Path, _journal: TaskJournal) -> Generated:
        done = _ask(lines, source, target, settings, provider, model)
        dest.write_text(json.dumps(done, ensure_ascii=False), encoding="utf-8")
        return Generated(model=model)

    # JSON in a .txt: the store keeps its own record of an asset in ``<key>.json`` beside it.
    asset, _ = store.produce("translation", f"{provider}:{model}", payload, "txt", make)
    done = json.loads(Path(asset.path).read_text(encoding="utf-8"))
    return dict(zip(lines, done, strict=True))


def _ask(
    lines: list[str],
    source: Language,
    target: Language,
    settings: Settings,
    provider: str,
    model: str,
) -> list[str]:
    chat = chat_client(
        "director",
        model,
        settings,
        f"{provider}:qwen-plus or {provider}:deepseek-chat",
        provider=provider,
    )
    part = prompts.sections("translate", source)
    values = {"target": NAMES[target][source], "count": str(len(lines))}
    numbered = "\n".join(f"{n}. {' '.join(text.split())}" for n, text in enumerate(lines, 1))
    messages: list[BaseMessage] = [
        SystemMessage(part["system"].format(**values)),
        HumanMessage(part["user"].format(lines=numbered, **values)),
    ]
    try:
        reply, problem = ask(
            chat.client,
            Translations,
            chat.method,
            messages,
            attempts=ATTEMPTS,
            check=lambda result: _check(result, len(lines)),
            retry=lambda problem: part["retry"].format(problem=problem, **values),
        )
    except openai.APIError as exc:
        raise api_error(
            exc,
            where=f"translating subtitles with {provider}:{model}",
            via=chat,
            key_help="set OPENAI_API_KEY (or DASHSCOPE_API_KEY for dashscope:) to a valid key",
        ) from None
    if reply is None:
        raise ProviderError(
            f"translating subtitles with {provider}:{model}: no usable reply after "
            f"{ATTEMPTS} tries ({problem}); or write the translations in the script ({HOW})"
        )
    return [" ".join(t.split()) for t in reply.translations]


def _check(result: Any, count: int) -> tuple[Translations | None, str, str]:
    """(translations, "", text) when there is one non-empty string per line, else a problem."""
    parsed, problem, text = unpack(result, Translations, "the reply held no 'translations' list")
    if parsed is None:
        return None, problem, text
    if len(parsed.translations) != count:
        return None, f"{len(parsed.translations)} translations for {count} lines", text
    empty = [n for n, t in enumerate(parsed.translations, 1) if not t.strip()]
    if empty:
        return None, f"translation {empty[0]} is empty", text
    return parsed, "", text
