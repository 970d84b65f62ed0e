"""Two-language cues: the original line and its translation, the translation a little smaller.

The SRT an editor gets holds both as plain lines (original block, then translation block, or
the other way round for ``en+zh`` of a Chinese script). The copy that is burned in wraps the
translation in ``<font size>``, which libass's SRT reader turns into a size override, so the
burned frame and ``episode.ass`` show the same two sizes. Each block is wrapped on its own to
the safe width at its own size, with the same rules as single-language cues.
"""

from __future__ import annotations

from dramaforge.tools.media.subtitles import ASS_HEIGHT, FONT_FRACTION, wrap_text

SMALLER = 0.8  # the translation's size as a share of the original's


def sizes() -> tuple[int, int]:
    """Font sizes in libass's 288-line script units: the original's, the translation's."""
    size = round(ASS_HEIGHT * FONT_FRACTION)
    return size, round(size * SMALLER)


def blocks(original: str, translation: str, units: int) -> tuple[str, str]:
    """The original wrapped to ``units``, the translation to the wider line its size allows."""
    size, small = sizes()
    return wrap_text(original, units), wrap_text(translation, int(units * size / small))


def cue_text(original: str, translation: str, units: int, translation_first: bool) -> str:
    """Both blocks as the SRT carries them: plain lines, top block first."""
    top, bottom = blocks(original, translation, units)
    return f"{bottom}\n{top}" if translation_first else f"{top}\n{bottom}"


def burn_text(original: str, translation: str, units: int, translation_first: bool) -> str:
    """Both blocks with the translation's size marked for libass (``<font size>``)."""
    top, bottom = blocks(original, translation, units)
    marked = f'<font size="{sizes()[1]}">{bottom}</font>'
    return f"{marked}\n{top}" if translation_first else f"{top}\n{marked}"


def split_translation(text: str, original: str) -> tuple[str, str, bool] | None:
    """A bilingual cue's text cut back into (original, translation, translation_first), given
    the original block as it was wrapped; None if ``text`` is that block alone or not it."""
    if text.startswith(original + "\n"):
        return original, text[len(original) + 1 :], False
    if text.endswith("\n" + original):
        return original, text[: -len(original) - 1], True
    return None
