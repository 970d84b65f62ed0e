"""The score, and the cut's segments, made while the shots are still with the provider.

The score needs only each shot's length, which its voice decides in the first seconds of the
shot; paid keyframes and clips take minutes. So once every shot's voice is in, a background
thread makes the score's layers and bed through the asset store, and the score node, after
the last clip, finds them there instead of spending the episode's tail on them. It is only a
head start: the store's per-asset lock makes whichever comes second wait and reuse; lengths
changed by a voice retry simply key other assets, which the score node makes; a failure here
is left for the score node to meet and report. Only when the pictures come from outside this
process (offline, the shots already keep the CPU busy) and with a local sound backend
(nothing paid ahead of need).

The episode's finished sound follows the score the same way (the lines over the ducked bed,
brought to loudness and encoded): it needs only the voices and the bed.

The cut goes the same way: once every voice is in, the subtitles' timing is known, and each
shot the critic has kept can have its segment (its clip with its subtitles burned in, the most
CPU the assembly spends) encoded into the segment cache while other shots are still with the
provider. The assemble node first stops this worker (it finishes the segment in hand), then
encodes only what is not in the cache. A kept take that a later change re-times keys another
segment, which the assemble node makes: work ahead is a head start, never a result.

Every worker belongs to its render: the render stops them (``Voiced.close``) when its tail
begins and whenever it ends, failed or interrupted too, and returns only once they have
stopped, each at its next safe point (a layer of the score, a step of the sound, the segments
in hand), so no file of the episode changes after the render returned and no temp file is left.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable
from typing import TypeVar

from dramaforge.schema import Asset, Cue, ShotResult, Take

log = logging.getLogger(__name__)
T = TypeVar("T")

WAIT = 900.0
"""Seconds to wait for the last voice; a shot that fails never sends one."""


Spoken = tuple[float, list[Cue]]
"""A shot's length and its subtitle cues (seconds from the shot's start)."""


class Stopped(Exception):
    """The render the work ahead was for has ended or reached its tail: the work stops at the
    safe point that raised this (``Voiced.safe_point``)."""


class Voiced:
    """Shots as they come in, per episode folder: each voice (its length and cues) and each
    finished shot's chosen take, for the work made ahead of the episode's tail."""

    def __init__(self) -> None:
        self._cond = threading.Condition()
        self._seen: dict[tuple[str, str], tuple[str, tuple[float, list[Cue], Asset]]] = {}
        self._kept: dict[tuple[str, str], tuple[str, Take]] = {}
        self._closed: set[str] = set()
        self._workers: dict[str, list[threading.Thread]] = {}
        self._version: dict[str, int] = {}

    def add(
        self,
        episode: str,
        shot: str,
        fingerprint: str,
        duration: float,
        cues: list[Cue],
        voice: Asset,
    ) -> None:
        """A shot's voice is in: its length, its cues and its track."""
        with self._cond:
            self._seen[(episode, shot)] = (fingerprint, (duration, cues, voice))
            self._version[episode] = self._version.get(episode, 0) + 1
            self._cond.notify_all()

    def keep(self, episode: str, shot: str, fingerprint: str, take: Take) -> None:
        """A shot is finished with ``take`` chosen."""
        with self._cond:
            self._kept[(episode, shot)] = (fingerprint, take)
            self._version[episode] = self._version.get(episode, 0) + 1
            self._cond.notify_all()

    def wait(self, episode: str, wanted: dict[str, str], timeout: float) -> dict[str, float] | None:
        """Lengths of the ``wanted`` shots (id -> fingerprint), once all are in; None: timed
        out, or the episode's tail has begun (``close``)."""

        def ready() -> dict[str, float] | bool | None:
            if episode in self._closed:
                return True
            got = _current(self._seen, episode, wanted)
            return {s: v[0] for s, v in got.items()} if len(got) == len(wanted) else None

        with self._cond:
            found = self._cond.wait_for(ready, timeout)
        return found if isinstance(found, dict) else None

    def spoken(self, episode: str, wanted: dict[str, str]) -> dict[str, Spoken]:
        """The length and cues of the latest voice of each ``wanted`` shot (id ->
        fingerprint) that is in."""
        with self._cond:
            got = _current(self._seen, episode, wanted)
        return {s: (length, cues) for s, (length, cues, _) in got.items()}

    def voices(self, episode: str, wanted: dict[str, str]) -> dict[str, Asset]:
        """The latest voice track of each ``wanted`` shot that is in."""
        with self._cond:
            got = _current(self._seen, episode, wanted)
        return {s: voice for s, (_, _, voice) in got.items()}

    def kept(self, episode: str, wanted: dict[str, str]) -> dict[str, Take]:
        """The chosen takes of the ``wanted`` shots (id -> fingerprint) finished so far."""
        with self._cond:
            return _current(self._kept, episode, wanted)

    def changed(self, episode: str, since: int, timeout: float) -> int | None:
        """Once a voice or a finished shot came in after ``since`` (a count of them), the
        count now; None: timed out, or the episode's tail has begun."""

        def ready() -> int | bool | None:
            if episode in self._closed:
                return True
            now = self._version.get(episode, 0)
            return now if now > since else None

        with self._cond:
            found = self._cond.wait_for(ready, timeout)
        return found if type(found) is int else None

    def open(self, episode: str, shots: list[str]) -> None:
        """A render of the episode begins: the work ahead may wait again, ``shots`` (the ones
        to render) start unfinished."""
        with self._cond:
            self._closed.discard(episode)
            for shot in shots:
                self._kept.pop((episode, shot), None)

    def start(self, episode: str, run: Callable[[], None], name: str) -> None:
        """Run ``run`` in the background as one of the episode's workers (``close`` stops and
        waits for each: a render that failed before its cut left its worker waiting, and a
        second render's worker must not take its place in the list, or the first keeps
        encoding into the cache while the cut sweeps it)."""
        worker = threading.Thread(target=run, name=name, daemon=True)
        with self._cond:
            self._workers.setdefault(episode, []).append(worker)
        worker.start()

    def safe_point(self, episode: str) -> None:
        """Where a worker may stop: raise ``Stopped`` once the episode's render has ended or
        its tail has begun (``close``)."""
        with self._cond:
            if episode in self._closed:
                raise Stopped(episode)

    def close(self, episode: str) -> None:
        """The episode's render reaches its tail or ends: wake whatever waits, and return once
        every worker has stopped at its next safe point (the segment in hand finishes), so
        nothing made ahead is written after this returns."""
        with self._cond:
            self._closed.add(episode)
            self._cond.notify_all()
            workers = self._workers.pop(episode, [])
        for worker in workers:
            if worker is not threading.current_thread():
                worker.join()


def _current(
    table: dict[tuple[str, str], tuple[str, T]], episode: str, wanted: dict[str, str]
) -> dict[str, T]:
    """The entries of ``table`` for the ``wanted`` shots (id -> fingerprint) of ``episode``
    made for those fingerprints: another version's voice or take is not this one's."""
    got = {s: table.get((episode, s)) for s in wanted}
    return {s: v[1] for s, v in got.items() if v is not None and v[0] == wanted[s]}


def waits_on_provider(image: str, video: str) -> bool:
    """Whether the shots wait on something outside this process for their pictures (a paid
    provider, a GPU server), leaving the CPU idle; with the ``local:`` painter and camera the
    shots themselves keep it busy and nothing is gained ahead."""
    return any(not b.startswith("local:") for b in (image, video))


def pays_off(image: str, video: str, sound: str) -> bool:
    """Whether making the score ahead gains anything: the shots wait on a provider, and a
    local sound backend pays nothing ahead of need."""
    return waits_on_provider(image, video) and sound.startswith("local:")


def score_ahead(
    voiced: Voiced,
    episode: str,
    pending: dict[str, str],
    done: dict[str, ShotResult],
    make: Callable[[dict[str, float]], object],
) -> None:
    """Call ``make(lengths)`` in the background once the ``pending`` shots' voices are in
    (id -> fingerprint); ``done`` holds the shots that are not rendered again, with theirs.
    ``make`` stops at ``voiced.safe_point(episode)`` once the render no longer wants it."""
    if not pending:
        return

    def run() -> None:
        lengths = voiced.wait(episode, pending, WAIT)
        if lengths is None:
            return
        known = {sid: r.duration for sid, r in done.items() if sid not in pending}
        try:
            make({**known, **lengths})
        except Stopped:
            return
        except Exception as err:  # the score node makes it again and reports what fails
            log.debug("score made ahead failed: %s", err)

    voiced.start(episode, run, "score-ahead")


def cut_ahead(
    voiced: Voiced,
    episode: str,
    pending: dict[str, str],
    encode: Callable[[dict[str, Take], set[str]], set[str]],
) -> None:
    """In the background, each time a voice or a finished shot of the ``pending`` ones comes
    in (id -> fingerprint), call ``encode(kept, todo)`` with every shot finished so far and
    those of them not yet encoded; it returns the ones it encoded (a shot whose subtitles
    still depend on voices not in waits for the next call). Until all are encoded or the
    episode's tail begins (``Voiced.close``)."""
    if not pending:
        return

    def run() -> None:
        done: set[str] = set()
        seen = 0
        while len(done) < len(pending):
            now = voiced.changed(episode, seen, WAIT)
            if now is None:
                return
            seen = now
            kept = voiced.kept(episode, pending)
            todo = set(kept) - done
            if not todo:
                continue
            try:
                done |= encode(kept, todo)
            except Exception as err:  # the assemble node encodes them and reports what fails
                log.debug("segments made ahead failed: %s", err)
                done |= todo

    voiced.start(episode, run, "cut-ahead")
