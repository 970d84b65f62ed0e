"""The bible as planned, for free: looks, seeds and voices fixed, and what money must make.

The ``bible`` node, ``dramaforge plan`` and the doors' plan tools build it the same way, so
the estimate a person approves prices what the render will buy before its first shot: the
reference sheets the series lacks and the voices to design or clone (``StyleBible.to_make``,
made by the ``cast`` node once the plan is approved).
"""

from __future__ import annotations

from pathlib import Path

from dramaforge.agents.bible import build_bible
from dramaforge.agents.voices import plan_voices, wishes_from
from dramaforge.graph.context import RenderContext
from dramaforge.graph.sheets import sheets_to_draw
from dramaforge.graph.state import RenderOptions
from dramaforge.schema import CharacterLook, Script, ShotPlan, StyleBible


def kept_voices(ctx: RenderContext) -> Path:
    """Voices paid for, whatever the episode (``agents.voices.KeptVoices``)."""
    return ctx.store.root.parent / "voices.json"


def plan_bible(
    ctx: RenderContext,
    script: Script,
    plan: ShotPlan,
    opts: RenderOptions,
    known: dict[str, CharacterLook] | None = None,
) -> tuple[StyleBible, list[str]]:
    """The episode's bible (``known``: the series bible's looks) with its ``to_make``, and one
    line per thing the person should know about its voices. Nothing is paid or uploaded; a
    sample whose owner has not consented is refused here."""
    language = script.language
    voices = ctx.speech.voices(language)
    made = build_bible(script, plan, voices, series=opts.series, known=known)
    wishes = wishes_from(script, ctx.settings.voices.cast)
    made, notes = plan_voices(made, wishes, ctx.speech, language, voices, kept_voices(ctx))
    sheets = sheets_to_draw(made, ctx.settings, opts.series_file)
    work = made.to_make.model_copy(update={"sheets": sheets})
    return made.model_copy(update={"to_make": work}), notes
