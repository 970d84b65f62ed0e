"""Content moderation: a rejected prompt is rewritten once; rejected again, the shot fails alone.

The rewrite rebuilds the prompt from the shot's neutral facts (framing, place, time, cast) and
drops the action text, which is what moderation usually objects to. A shot rejected twice gets
an offline placeholder (the local storyboard or camera move) so the episode keeps its timing,
and the critic reports it failed with the provider's reason.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, Literal, TypeVar

from dramaforge import prompts
from dramaforge.agents.director import FRAMING_WORDS
from dramaforge.errors import ContentRejected
from dramaforge.graph.context import RenderContext
from dramaforge.graph.progress import shot_event
from dramaforge.schema import Language, Shot
from dramaforge.tools.registry import registry

T = TypeVar("T")


def safe_prompt(shot: Shot, language: Language) -> str:
    sep = "，" if language == "zh" else ", "
    end = "。" if language == "zh" else ". "
    return prompts.render(
        "safe",
        language,
        framing=FRAMING_WORDS[language][shot.framing],
        setting=sep.join(p for p in (shot.scene_heading, shot.time_of_day) if p),
        cast=f"{sep.join(shot.characters)}{end}" if shot.characters else "",
    )


def offline(ctx: RenderContext, kind: Literal["image", "video"]) -> Any:
    """The embedded backend for ``kind``, used for placeholders."""
    return registry().create(
        kind, f"local:{'storyboard' if kind == 'image' else 'motion'}", ctx.settings
    )


def moderated(
    shot: Shot,
    stage: str,
    make: Callable[[str | None], T],
    placeholder: Callable[[], T],
) -> tuple[T, str | None]:
    """``make(None)`` with the shot's own prompt, ``make(safe)`` after one rejection, then the
    placeholder. Returns the result and, if it is the placeholder, why."""
    try:
        return make(None), None
    except ContentRejected as first:
        shot_event(shot.id, stage, "rejected", reason=str(first))
    try:
        return make("safe"), None
    except ContentRejected as second:
        shot_event(shot.id, stage, "rejected", reason=str(second))
        return placeholder(), f"{stage} rejected by moderation twice: {second}"
