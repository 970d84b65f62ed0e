"""Structured output from a chat model, asked again when the reply is unusable.

One loop for every agent that wants a pydantic object back (the director's shot lists, the
vision critic's verdicts): ask with ``with_structured_output`` (the configured method), check
the reply, and on a truncated, unparsable or invalid reply show the model its own reply and
what was wrong, a bounded number of times. API errors are the caller's to turn into messages.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any, TypeVar

import openai
from langchain_core.exceptions import OutputParserException
from langchain_core.language_models import BaseChatModel
from langchain_core.messages import AIMessage, BaseMessage, HumanMessage
from pydantic import BaseModel, ValidationError

T = TypeVar("T", bound=BaseModel)
Check = Callable[[Any], tuple[T | None, str, str]]
"""A raw structured result -> (value, "", reply text) if usable, else (None, problem, text)."""


def ask(
    model: BaseChatModel,
    schema: type[T],
    method: str,
    messages: list[BaseMessage],
    *,
    attempts: int,
    check: Check[T],
    retry: Callable[[str], str],
) -> tuple[T | None, str]:
    """``(value, "")`` from the first usable reply, else ``(None, last problem)``.

    ``messages`` grows with each rejected reply and the ``retry(problem)`` message after it.
    ``openai.APIError`` (refused key, rate limit, server down) propagates at once.
    """
    runnable = model.with_structured_output(schema, method=method, include_raw=True)
    problem = ""
    for _ in range(attempts):
        text = ""
        try:
            result = runnable.invoke(messages)
        except (openai.LengthFinishReasonError, openai.ContentFilterFinishReasonError) as exc:
            problem = finish_problem(exc)
        except (ValidationError, OutputParserException, json.JSONDecodeError) as exc:
            problem = parse_problem(exc)
        else:
            value, problem, text = check(result)
            if value is not None:
                return value, ""
        if text:
            messages.append(AIMessage(text))
        messages.append(HumanMessage(retry(problem)))
    return None, problem


def reply_text(raw: Any) -> str:
    if not isinstance(raw, AIMessage):
        return ""
    if raw.tool_calls:
        return json.dumps(raw.tool_calls[0]["args"], ensure_ascii=False)[:4000]
    for bad in raw.invalid_tool_calls:
        return str(bad.get("args") or "")[:4000]
    content = raw.content
    return content[:4000] if isinstance(content, str) else ""


def truncated() -> str:
    return "the reply was cut off before the JSON ended (finish_reason=length); be more concise"


def finish_problem(exc: openai.OpenAIError) -> str:
    if isinstance(exc, openai.LengthFinishReasonError):
        return truncated()
    return "the provider's content filter stopped the reply; keep prompts neutral"


def parse_problem(exc: BaseException) -> str:
    if isinstance(exc.__cause__, ValidationError):
        exc = exc.__cause__
    if isinstance(exc, ValidationError):
        errors = "; ".join(
            f"{'.'.join(str(p) for p in e['loc']) or 'reply'}: {e['msg']}" for e in exc.errors()[:5]
        )
        return f"the JSON does not match the schema ({errors})"
    return f"the reply is not valid JSON for the schema ({str(exc).splitlines()[0][:300]})"


def json_error(text: str) -> str:
    try:
        json.loads(text)
    except json.JSONDecodeError as exc:
        return f" ({exc})"
    return ""


def unpack(result: Any, schema: type[T], missing: str) -> tuple[T | None, str, str]:
    """A structured reply as (object, "", reply text), or (None, what is wrong, reply text):
    cut off, unparsable, invalid tool-call arguments, or no ``schema`` object (``missing``
    says what was expected). Each agent's own check runs on the object afterwards."""
    raw = result.get("raw") if isinstance(result, dict) else None
    text = reply_text(raw)
    meta = getattr(raw, "response_metadata", {}) or {}
    if meta.get("finish_reason") == "length":
        return None, truncated(), ""
    error = result.get("parsing_error") if isinstance(result, dict) else None
    if error is not None:
        return None, parse_problem(error), text
    parsed = result.get("parsed") if isinstance(result, dict) else result
    if isinstance(parsed, schema):
        return parsed, "", text
    bad = raw.invalid_tool_calls if isinstance(raw, AIMessage) else []
    if bad:
        return None, f"the tool call arguments are not valid JSON{json_error(text)}", text
    return None, missing, text
