"""A batch's GPU actors: one per GPU the cluster offers, made by the driver when the batch
starts and killed when it ends; and, in each episode's process, the choice of the actor that
makes a shot: the one with the shot's model loaded, unless another would be free sooner.

Episodes run anywhere (their own work is CPU work: voices, checks, encoding, mixing); only
the actors hold GPUs, each loading a model once and keeping it while shots of it keep coming.
"""

from __future__ import annotations

import contextlib
import threading
import time
import uuid
from collections.abc import Callable
from typing import Any

from dramaforge.cluster.gpu_actor import LOOK, PREFIX, QUEUE, ActorState, GpuWorker, ShotKind
from dramaforge.config import Settings
from dramaforge.errors import ConfigError, DramaforgeError, ProviderError
from dramaforge.media.journal import Generated

LOAD_COST = 1
"""Queued shots one load counts as when choosing an actor: loading a model (tens of seconds)
costs less than making a clip (minutes), so an actor that must load waits about one shot
behind one that has the model loaded or coming."""
LOOK_WAIT = 2.0
"""Seconds to wait for the actors' states before choosing among those that answered."""
NAME_WAIT = 30.0
"""Seconds to wait for a dead driver's actor to give up the name a new one needs."""


def gpu_models(settings: Settings) -> list[tuple[ShotKind, str]]:
    """The image and video models the batch runs on GPU actors (its ``diffusers:*`` ones)."""
    b = settings.backends
    named: list[tuple[ShotKind, str]] = [("image", b.image), ("video", b.video)]
    return [(kind, name.split(":", 1)[1]) for kind, name in named if name.startswith("diffusers:")]


def actor_names(batch: str, count: int) -> list[str]:
    return [f"{PREFIX}{batch}-{n}" for n in range(count)]


def start_gpu_actors(batch: str, settings: Settings, on_line: Callable[[str], None]) -> list[Any]:
    """One actor per GPU of the cluster, each with its models' weights checked; none when no
    image or video backend is ``diffusers:*``. Waits while other work holds the GPUs."""
    import ray

    models = gpu_models(settings)
    if not models:
        return []
    offered: dict[str, float] = ray.cluster_resources()  # type: ignore[no-untyped-call]
    gpus = int(offered.get("GPU", 0))
    if gpus < 1:
        raise ConfigError(
            "diffusers:* backends run on the cluster's GPUs and no node offers one; start "
            "the GPU machines with ray start --num-gpus N, or use another backend"
        )
    cls = ray.remote(  # type: ignore[call-overload]
        num_gpus=1, num_cpus=0, max_concurrency=QUEUE, concurrency_groups={LOOK: 2}
    )(GpuWorker)
    actors = [_create(cls, name, settings) for name in actor_names(batch, gpus)]
    on_line(f"batch {batch}: {gpus} GPU actors, one per GPU, loading nothing until asked")
    try:
        ray.get([actor.prepare.remote(models) for actor in actors])
    except ray.exceptions.RayTaskError as err:
        stop_gpu_actors(actors)
        raise _cause(err, "a GPU actor") from None
    except BaseException:
        stop_gpu_actors(actors)
        raise
    return actors


def _create(cls: Any, name: str, settings: Settings) -> Any:
    """The actor named ``name``; one left by a driver that died (it dies with its driver,
    a moment later) is killed first."""
    import ray

    deadline = time.monotonic() + NAME_WAIT
    while True:
        try:
            return cls.options(name=name).remote(name, settings)
        except ValueError:  # ray's ActorAlreadyExistsError: the name is still taken
            if time.monotonic() > deadline:
                raise ConfigError(
                    f"a Ray actor named {name} is still alive; stop the other driver of this "
                    "batch or wait for it to end"
                ) from None
            with contextlib.suppress(ValueError):  # gone meanwhile
                ray.kill(ray.get_actor(name))
            time.sleep(0.2)


def stop_gpu_actors(actors: list[Any]) -> None:
    """Kill the batch's actors: their processes end and the GPUs' memory is given back."""
    import ray

    for actor in actors:
        with contextlib.suppress(Exception):  # already dead with its node
            ray.kill(actor)


def choose(states: list[ActorState], model: str) -> ActorState:
    """The actor that will make a shot of ``model`` soonest: its queue, plus ``LOAD_COST``
    where the model is neither loaded nor coming. On a tie: the one with it loaded, then with
    it coming, then the one with fewer models loaded (a free device before a shared one)."""

    def has(s: ActorState) -> bool:
        return model in s.resident or model in s.calls.values()

    return min(
        states,
        key=lambda s: (
            s.queue + (0 if has(s) else LOAD_COST),
            model not in s.resident,
            not has(s),
            len(s.resident),
            s.name,
        ),
    )


class GpuPool:
    """The batch's GPU actors as one episode process sees them.

    Choices in the process are made one at a time and each counts the calls sent before it
    (the actors report theirs, merged by call id with the ones still on their way), so the
    shots of a process's episodes spread as if one queue held them. An actor found dead (its
    node died, the batch ended) is skipped; the shot goes to another, which loads the model."""

    def __init__(self, names: list[str]) -> None:
        self.names = list(names)
        self.handles: dict[str, Any] = {}
        self.sent: dict[str, dict[str, str]] = {name: {} for name in self.names}
        """Calls this process sent to each actor and has no answer to: call id -> model."""
        self.gone: set[str] = set()
        self.lock = threading.Lock()

    def make(
        self,
        kind: ShotKind,
        model: str,
        request: dict[str, Any],
        inputs: dict[str, tuple[str, bytes]],
    ) -> tuple[bytes, Generated]:
        """The made file's bytes and what the backend reported (with the actor's node)."""
        import ray

        while True:
            call = uuid.uuid4().hex
            with self.lock:
                name = choose(self._states(), model).name
                ref = self.handles[name].generate.remote(call, kind, model, request, inputs)
                self.sent[name][call] = model
            try:
                data, made = ray.get(ref)
                return bytes(data), Generated.model_validate(made)
            except ray.exceptions.RayActorError:
                with self.lock:
                    self.gone.add(name)
            except ray.exceptions.RayTaskError as err:
                raise _cause(err, f"GPU actor {name}") from None
            finally:
                with self.lock:
                    self.sent[name].pop(call, None)

    def states(self) -> list[ActorState]:
        """What each live actor reports now, in name order."""
        with self.lock:
            return sorted(self._states(), key=lambda s: s.name)

    def _states(self) -> list[ActorState]:
        """The live actors' states with this process's unanswered calls added (lock held)."""
        import ray

        while True:
            refs: dict[Any, str] = {}
            for name in self.names:
                handle = self._handle(name)
                if handle is not None:
                    refs[handle.state.options(concurrency_group=LOOK).remote()] = name
            if not refs:
                raise ProviderError(
                    "every GPU actor of this batch is gone (their nodes died or the batch was "
                    "stopped); start the batch again: what was made is kept",
                    retryable=False,
                )
            ready, _ = ray.wait(list(refs), num_returns=len(refs), timeout=LOOK_WAIT)
            if not ready:  # none placed yet (GPUs busy elsewhere): the first to answer
                ready, _ = ray.wait(list(refs), num_returns=1)
            states = []
            for ref in ready:
                try:
                    state: ActorState = ray.get(ref)
                except ray.exceptions.RayActorError:
                    self.gone.add(refs[ref])
                    continue
                sent = self.sent[state.name]
                states.append(state.model_copy(update={"calls": state.calls | sent}))
            if states:
                return states

    def _handle(self, name: str) -> Any | None:
        import ray

        if name in self.gone:
            return None
        if name not in self.handles:
            try:
                self.handles[name] = ray.get_actor(name)
            except ValueError:  # never made, or dead and forgotten
                self.gone.add(name)
                return None
        return self.handles[name]


def _cause(err: Exception, who: str) -> DramaforgeError:
    """The error an actor raised, as ours: a DramaforgeError as it was (its message already
    says what to do), anything else as a ProviderError naming the actor."""
    cause = getattr(err, "cause", None)
    if isinstance(cause, DramaforgeError):
        return cause
    text = str(cause or err).strip().splitlines()
    return ProviderError(
        f"{who}: {type(cause or err).__name__}: {text[0] if text else ''}", retryable=False
    )
