"""Cue timing for reading: every cue at most two lines and on screen at least a second.

A cue follows its line's speech, and a one-word line ("没有。") is spoken in half a second:
too short to read. Subtitling practice (BBC, Netflix, EBU) keeps a subtitle up for at least
about a second and never more than two lines. Here a short cue is first extended into the
silence after it; if the next cue starts too soon, the two are shown as one when they fit in
two lines; otherwise the next cue gives up some of its time, or the short one starts earlier.
"""

from __future__ import annotations

import unicodedata
from collections.abc import Iterable

from dramaforge.media.subtitle_fit import break_lines, join_text, split_cue
from dramaforge.media.subtitles import MAX_LINES, Layout
from dramaforge.schema import Cue

MIN_CUE = 1.0  # seconds on screen, at least


def _together(a: Cue, b: Cue, layout: Layout) -> list[str]:
    """The lines of two cues shown as one. One speaker: the text runs on. Two speakers: one
    line each, each opened by a dash (the subtitling convention for a two-voice exchange);
    more than two lines if either does not fit on one, so the caller will not join them."""
    if a.speaker == b.speaker or "\n" in a.text or "\n" in b.text:
        return break_lines(join_text(a.text, b.text), layout)
    wide = any(unicodedata.east_asian_width(ch) in "WF" for ch in a.text + b.text)
    dash = "-" if wide else "- "
    lines = [f"{dash}{' '.join(t.split())}" for t in (a.text, b.text)]
    if any(len(break_lines(line, layout)) > 1 for line in lines):
        return [*lines, ""]
    return lines


def fit_cues(cues: list[Cue], layout: Layout, end: float, min_cue: float = MIN_CUE) -> list[Cue]:
    """``cues`` (episode times, in order) broken into lines that fit ``layout``, split where
    longer than two lines, and each held at least ``min_cue`` seconds, none past ``end``."""
    items = sorted(
        (part for c in cues for part in split_cue(c, layout)), key=lambda c: (c.start, c.end)
    )
    out: list[Cue] = []
    i = 0
    while i < len(items):
        cue = items[i]
        start, stop = cue.start, cue.end
        after = items[i + 1] if i + 1 < len(items) else None
        limit = after.start if after is not None else end
        if stop - start < min_cue:  # into the silence that follows
            stop = max(stop, min(start + min_cue, limit))
        if stop - start < min_cue and after is not None:
            lines = _together(cue, after, layout)
            if len(lines) <= MAX_LINES:  # shown together with the next cue
                items[i + 1] = after.model_copy(
                    update={
                        "start": start,
                        "end": max(after.end, stop),
                        "text": "\n".join(lines),
                        "speaker": after.speaker if after.speaker == cue.speaker else None,
                    }
                )
                i += 1
                continue
            # The next cue gives up time, keeping at least min_cue itself.
            spare = max(after.start, min(start + min_cue, after.end - min_cue))
            if spare > stop:
                stop = spare
                items[i + 1] = after.model_copy(update={"start": round(stop, 3)})
        if stop - start < min_cue:  # start earlier, into the silence before
            before = out[-1].end if out else 0.0
            start = max(before, min(start, stop - min_cue))
        stop = min(stop, end) if end > start else stop
        out.append(cue.model_copy(update={"start": round(start, 3), "end": round(stop, 3)}))
        i += 1
    return out


def place_cues(shots: Iterable[tuple[list[Cue], float]]) -> list[Cue]:
    """Each shot's cues (seconds from the shot's start) moved to where the shot starts in the
    episode, in order: what ``fit_cues`` then times for reading."""
    placed = [
        c.model_copy(update={"start": round(at + c.start, 3), "end": round(at + c.end, 3)})
        for cues, at in shots
        for c in cues
    ]
    return sorted(placed, key=lambda c: c.start)
