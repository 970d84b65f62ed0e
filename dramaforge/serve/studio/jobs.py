"""Renders started from the browser: one at a time, in a worker thread, their progress kept.

A render is long and synchronous (the graph), a page is not: the request that approves only
starts a ``Job`` and returns. Every progress event the session reports is kept on the job, so
a page opened (or reloaded) mid-render replays what happened and then follows it live over
server-sent events. One render at a time for the whole studio: offline renders are bound by
the CPU, paid ones by the provider's limits and one budget, and an episode's thread must not
be edited while it renders.
"""

from __future__ import annotations

import json
import threading
import time
import uuid
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass, field
from typing import Any

import anyio

from dramaforge.errors import Busy, DramaforgeError
from dramaforge.graph.session import Event

Work = Callable[[Callable[[Event], None]], dict[str, Any]]


@dataclass
class Job:
    id: str
    ref: str
    kind: str
    """``render`` (approve), ``redo`` (one shot at once), ``draft`` or ``batch``."""
    batch: str = ""
    """A batch on the cluster: its id, whose episodes' rows the batch page reads."""
    events: list[Event] = field(default_factory=list)
    done: bool = False
    error: str | None = None
    result: dict[str, Any] = field(default_factory=dict)
    started: float = field(default_factory=time.time)

    def episodes(self) -> dict[str, str]:
        """A local batch: where each episode got to (its last event, shot and stage)."""
        last: dict[str, str] = {}
        for e in list(self.events):
            if "episode" in e and "stage" in e:
                parts = [e.get("shot"), e["stage"], e.get("status")]
                last[str(e["episode"])] = " ".join(str(p) for p in parts if p)
        return last

    def stages(self) -> dict[str, str]:
        """Where each shot (and the episode) got to: its last stage and status."""
        last: dict[str, str] = {}
        for e in list(self.events):
            if "stage" in e:
                last[str(e.get("shot") or "episode")] = f"{e['stage']} {e.get('status', '')}"
        return last

    def final(self) -> dict[str, Any]:
        return {"done": True, "error": self.error, **self.result}


class Jobs:
    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._jobs: dict[str, Job] = {}

    def get(self, job_id: str) -> Job | None:
        return self._jobs.get(job_id)

    def running(self, ref: str | None = None) -> Job | None:
        """The render in progress (on ``ref`` only, when given)."""
        for job in self._jobs.values():
            if not job.done and (ref is None or job.ref == ref):
                return job
        return None

    def latest(self, ref: str) -> Job | None:
        mine = [j for j in self._jobs.values() if j.ref == ref]
        return max(mine, key=lambda j: j.started) if mine else None

    def start(self, ref: str, kind: str, work: Work, batch: str = "") -> Job:
        with self._lock:
            busy = self.running()
            if busy is not None:
                raise Busy(
                    f"a render of {busy.ref} is running; wait for it to finish, then try again"
                )
            job = Job(id=uuid.uuid4().hex[:12], ref=ref, kind=kind, batch=batch)
            self._jobs[job.id] = job
        threading.Thread(target=self._run, args=(job, work), daemon=True).start()
        return job

    @staticmethod
    def _run(job: Job, work: Work) -> None:
        try:
            job.result = work(job.events.append)
        except DramaforgeError as err:
            job.error = str(err)
        except Exception as err:  # shown on the page; the studio keeps serving
            job.error = f"{type(err).__name__}: {err}"
        finally:
            job.done = True


async def stream(job: Job) -> AsyncIterator[str]:
    """The job's events as server-sent events, from the first; a last ``done`` event ends it."""
    sent = 0
    while True:
        finished = job.done  # read before flushing: no event can slip in after the last one
        while sent < len(job.events):
            yield f"data: {json.dumps(job.events[sent], ensure_ascii=False, default=str)}\n\n"
            sent += 1
        if finished:
            yield f"data: {json.dumps(job.final(), ensure_ascii=False, default=str)}\n\n"
            return
        await anyio.sleep(0.25)
