"""Two-language cues: the original line and its translation, the translation a little smaller.

The cues are first timed for reading in the script's language (``fit_cues``: at least a
second, at most two lines); each then gets the translation of the lines spoken under it,
wrapped on its own to the wider line its smaller size allows. The SRT holds both blocks as
plain lines (original first, or the translation first for ``en+zh`` of a Chinese script);
the burned ASS and ``episode.ass`` draw the translation at ``TRANSLATION_SIZE``.
"""

from __future__ import annotations

from dramaforge.media.subtitles import TRANSLATION_SIZE, wrap_text
from dramaforge.schema import Cue


def attach(
    cues: list[Cue], spoken: list[Cue], known: dict[str, str], units: int, first: bool
) -> list[Cue]:
    """``cues`` (timed for reading) each with the translation of the ``spoken`` lines (placed
    on the episode, as said) that fall under it; ``known`` maps a line to its translation."""
    wide = int(units / TRANSLATION_SIZE)
    out: list[Cue] = []
    for cue in cues:
        under = [s.text for s in spoken if s.start < cue.end and s.end > cue.start]
        said = [known[text] for text in dict.fromkeys(under) if known.get(text)]
        translation = wrap_text(" ".join(said), wide) if said else None
        out.append(cue.model_copy(update={"translation": translation, "translation_first": first}))
    return out


def split_translation(text: str, original: str) -> tuple[str, str, bool] | None:
    """A bilingual cue's text cut back into (original, translation, translation_first), given
    the original block as it was wrapped; None if ``text`` is that block alone or not it."""
    if text.startswith(original + "\n"):
        return original, text[len(original) + 1 :], False
    if text.endswith("\n" + original):
        return original, text[: -len(original) - 1], True
    return None
