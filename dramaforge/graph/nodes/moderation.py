"""Content moderation: a rejected prompt is rewritten once; rejected again, the shot fails alone.

The director rewrites it, told the provider's reason: an LLM director keeps the shot and
avoids what was refused; the rule director (and an LLM director that fails) rebuilds it from
the shot's neutral facts. The rewrite goes through the asset store, so a resumed render
submits the same rewritten prompt instead of asking again. A shot rejected twice gets an
offline placeholder (the local storyboard or camera move) so the episode keeps its timing,
and the critic reports it failed with the provider's reason.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any, Literal, TypeVar

from dramaforge.agents.director import safe_prompt
from dramaforge.errors import ContentRejected
from dramaforge.graph.context import RenderContext
from dramaforge.graph.progress import shot_event
from dramaforge.media.store import atomic_write
from dramaforge.schema import Language, Shot
from dramaforge.tools.protocols import Generated
from dramaforge.tools.registry import registry

__all__ = ["moderated", "offline", "rewritten", "safe_prompt"]

T = TypeVar("T")


def rewritten(ctx: RenderContext, shot: Shot, prompt: str, reason: str, language: Language) -> str:
    """The director's rewrite of a refused ``prompt``, made once and kept in the store."""

    def make(dest: Path, _journal: object) -> Generated:
        atomic_write(dest, ctx.director.rewrite(shot, prompt, reason, language))
        return Generated()

    payload = {"prompt": prompt, "reason": reason, "language": language}
    asset, _ = ctx.store.produce("rewrite", ctx.director.name, payload, "txt", make)
    return Path(asset.path).read_text(encoding="utf-8")


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
    rewrite: Callable[[str], str],
) -> tuple[T, str | None]:
    """``make(None)`` with the shot's own prompt, ``make(rewrite(reason))`` after one
    rejection, then the placeholder. Returns the result and, if it is the placeholder, why."""
    try:
        return make(None), None
    except ContentRejected as first:
        shot_event(shot.id, stage, "rejected", reason=str(first))
        reason = str(first)
    try:
        return make(rewrite(reason)), None
    except ContentRejected as second:
        shot_event(shot.id, stage, "rejected", reason=str(second))
        return placeholder(), f"{stage} rejected by moderation twice: {second}"
