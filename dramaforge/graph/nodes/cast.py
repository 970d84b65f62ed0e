"""cast: what the approved plan buys before its first shot, between ``approve`` and ``ahead``.

The bible stage only plans (``graph/casting.py``): the voices to design or clone and the
reference sheets to draw are listed in the bible's ``to_make``, shown and priced at the
approval stop. Here they are made, once: a voice made before for the same words or sample is
reused (``voices.json``), and in a series each voice and sheet is kept in the series bible,
where one another episode made meanwhile wins. A run that dies here and is resumed pays for
nothing twice: voices are found where they were kept, sheets in the asset store's journal.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

from langgraph.runtime import Runtime

from dramaforge.agents.voices import make_planned
from dramaforge.graph.casting import kept_voices
from dramaforge.graph.context import RenderContext, context_of
from dramaforge.graph.progress import stage_event
from dramaforge.graph.sheets import ensure_sheets
from dramaforge.graph.state import EpisodeState
from dramaforge.schema import CastWork, CharacterLook, StyleBible


def cast(state: EpisodeState, runtime: Runtime[RenderContext]) -> dict[str, object]:
    """Make the voices and sheets the approved bible lists; the bible with them, its list
    emptied. Nothing to make (a render without a series or voice wishes): nothing changes."""
    bible, opts = state["bible"], state["options"]
    work = bible.to_make
    if work.empty():
        return {}
    ctx = context_of(runtime, opts.out_dir)
    language = state["script"].language

    def pay(spec: str, what: str, make: Callable[[], str]) -> str:
        return ctx.charge(spec, 1.0, what, make)

    if opts.series_file is None:
        bible = make_planned(bible, ctx.speech, language, kept_voices(ctx), pay)
    else:
        path, book = Path(opts.series_file), ctx.series_book
        with book.locked(path):  # one voice per character for the whole series
            known = book.load(path)
            bible = make_planned(
                _made_meanwhile(bible, known), ctx.speech, language, kept_voices(ctx), pay
            )
            book.save(path, known | _voices_kept(bible, known))
        if work.sheets:
            bible = ensure_sheets(ctx, path, book, bible, opts, language, work.sheets)
    made = sorted(work.voices) + (["narrator"] if work.narrator else [])
    stage_event("cast", "done", voices=made, sheets=work.sheets)
    return {"bible": bible.model_copy(update={"to_make": CastWork()})}


def _made_meanwhile(bible: StyleBible, known: dict[str, CharacterLook]) -> StyleBible:
    """``bible`` with the voices another episode of the series made since it was planned,
    struck off its list (a voice is made once per series)."""
    looks, work = dict(bible.characters), bible.to_make
    adopted = {
        name: known[name].voice
        for name in work.voices
        if name in known and name in looks and known[name].voice.origin is not None
    }
    if not adopted:
        return bible
    for name, voice in adopted.items():
        looks[name] = looks[name].model_copy(update={"voice": voice})
    left = {n: v for n, v in work.voices.items() if n not in adopted}
    return bible.model_copy(
        update={"characters": looks, "to_make": work.model_copy(update={"voices": left})}
    )


def _voices_kept(bible: StyleBible, known: dict[str, CharacterLook]) -> dict[str, CharacterLook]:
    """The series bible's looks of ``bible``'s characters with this episode's voices (a
    newcomer's whole look), everything else (a sheet recorded meanwhile) as the series has it."""
    return {
        name: known[name].model_copy(update={"voice": look.voice}) if name in known else look
        for name, look in bible.characters.items()
    }
