"""Cue timing for reading: every cue at most two lines and on screen at least a second.

A cue follows its line's speech, and a one-word line ("没有。") is spoken in half a second:
too short to read. Subtitling practice (BBC, Netflix, EBU) keeps a subtitle up for at least
about a second and never more than two lines. Here a short cue is first extended into the
silence after it; if the next cue starts too soon, the two are shown as one when they fit in
two lines; otherwise the next cue gives up some of its time, or the short one starts earlier.
"""

from __future__ import annotations

from dramaforge.schema import Cue
from dramaforge.tools.media.subtitle_fit import break_lines, join_text, split_cue
from dramaforge.tools.media.subtitles import MAX_LINES, Layout

MIN_CUE = 1.0  # seconds on screen, at least


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
            joined = join_text(cue.text, after.text)
            lines = break_lines(joined, layout)
            if len(lines) <= MAX_LINES:  # shown together with the next cue
                items[i + 1] = after.model_copy(
                    update={"start": start, "end": max(after.end, stop), "text": "\n".join(lines)}
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
