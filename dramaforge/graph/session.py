"""One episode's directing session: plan, edit, approve, render, redo — over one graph thread.

Chat, ``rerender``, the MCP server and the LangChain tools all act through a ``Session``; plain
``render`` and ``batch`` use it too, without the approval stop. State lives in the graph's
checkpoint thread, never in the session object: every edit is written to the thread at once
(``update_state`` as if the bible stage made it), so leaving and coming back loses nothing,
and the next render re-renders exactly the shots whose fingerprint changed (``pending``).
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

from langchain_core.runnables import RunnableConfig
from langgraph.checkpoint.base import BaseCheckpointSaver
from langgraph.graph.state import CompiledStateGraph
from langgraph.types import Command

from dramaforge.config import CastVoice, Settings
from dramaforge.errors import DramaforgeError, EditError
from dramaforge.graph import edits
from dramaforge.graph.build import build_graph
from dramaforge.graph.checkpoint import open_checkpointer
from dramaforge.graph.context import RenderContext, build_context
from dramaforge.graph.cost import Estimate, estimate
from dramaforge.graph.nodes.prepare import pending, shot_fingerprint
from dramaforge.graph.state import EpisodeState, InputState, RenderOptions
from dramaforge.graph.threads import RunLock, make_options, thread_id
from dramaforge.schema import Manifest, Shot, ShotPlan, ShotResult, StyleBible, Take, Voice

Event = dict[str, Any]
BUSY = "another render of this episode is running; waiting for it to finish"
Status = Literal["new", "awaiting_approval", "interrupted", "done"]
Graph = CompiledStateGraph[EpisodeState, RenderContext, InputState, EpisodeState]


@dataclass
class Session:
    script_path: Path
    options: RenderOptions
    thread: str
    settings: Settings
    context: RenderContext
    saver: BaseCheckpointSaver[str]
    graph: Graph

    @property
    def config(self) -> RunnableConfig:
        return {
            "configurable": {"thread_id": self.thread},
            # Each running shot subgraph holds one executor slot (its stages run on its own),
            # so up to 2N shots run at once; one slot alone deadlocks (measured at N=1).
            "max_concurrency": 2 * self.settings.shot_workers(),
        }

    @property
    def episode_dir(self) -> Path:
        return Path(self.options.episode_dir)

    # ---- reading -------------------------------------------------------------------------

    def values(self) -> dict[str, Any]:
        return dict(self.graph.get_state(self.config).values)

    def status(self) -> Status:
        snap = self.graph.get_state(self.config)
        if not snap.values:
            return "new"
        if snap.next == ("approve",) and self.options.approve:
            return "awaiting_approval"
        # A run stopped mid-step (Ctrl-C, a cancelled MCP call) can leave every task of the
        # step finished but the step not committed: no ``next``, yet tasks with their writes.
        return "interrupted" if snap.next or snap.tasks else "done"

    def plan(self) -> ShotPlan:
        """The current plan; a new interactive session is planned first (nothing is paid)."""
        values = self._planned()
        plan: ShotPlan = values["plan"]
        return plan

    def bible(self) -> StyleBible:
        bible: StyleBible = self._planned()["bible"]
        return bible

    def results(self) -> dict[str, ShotResult]:
        results: dict[str, ShotResult] = self.values().get("results", {})
        return results

    def to_render(self) -> list[Shot]:
        """Shots the next render will make: new, edited, or redone."""
        return pending(self._planned())  # type: ignore[arg-type]

    def estimate(self) -> Estimate:
        """What the next render may cost (only the shots it will make, up to this session's
        takes a shot, beside the one-take figure, and the sheets and voices made first)."""
        plan = self.plan().model_copy(update={"shots": self.to_render()})
        work = self.bible().to_make
        return estimate(plan, self.settings, max_takes=self.options.max_takes, cast=work)

    def manifest(self) -> Manifest | None:
        path = self.values().get("manifest")
        if self.status() != "done" or not path or not Path(path).is_file():
            return None
        return Manifest.model_validate_json(Path(path).read_text(encoding="utf-8"))

    def takes(self, ref: str | int) -> tuple[Shot, ShotResult | None]:
        """A shot and every take made of it so far (None before its first render)."""
        plan = self.plan()
        shot = plan.shots[edits.find(plan, ref)]
        return shot, self.results().get(shot.id)

    # ---- editing -------------------------------------------------------------------------

    def edit(self, ref: str | int, field: str, value: Any) -> Shot:
        plan = edits.edit_shot(self.plan(), ref, field, value)
        self._save(plan=plan)
        return plan.shots[edits.find(plan, ref)]

    def redo(self, ref: str | int) -> Shot:
        plan = edits.redo(self.plan(), ref)
        self._save(plan=plan)
        return plan.shots[edits.find(plan, ref)]

    def remove(self, ref: str | int) -> None:
        self._save(plan=edits.remove_shot(self.plan(), ref))

    def move(self, ref: str | int, to: int) -> None:
        self._save(plan=edits.move_shot(self.plan(), ref, to))

    def add(self, after: str | int, prompt: str, **line: Any) -> Shot:
        before = self.plan()
        plan = edits.add_shot(before, after, prompt, **line)
        self._save(plan=plan)
        known = {s.id for s in before.shots}
        return next(s for s in plan.shots if s.id not in known)

    def set_voice(self, name: str, **voice: Any) -> None:
        bible = edits.set_voice(self.bible(), name, **voice)
        if "id" in voice:  # a voice chosen by id replaces one planned to be made
            work = bible.to_make
            left = {n: v for n, v in work.voices.items() if n != name}
            bible = bible.model_copy(update={"to_make": work.model_copy(update={"voices": left})})
        self._save(bible=bible)
        self._keep_voice_in_series(name)

    def make_voice(self, name: str, wish: CastVoice) -> Voice:
        """Design (from words) or clone (from a sample the user owns) ``name``'s voice with
        this session's speech backend, or match the closest one it has; kept in the bible.

        The person asked for this one voice by name, so it is made (and paid for, under the
        budget) now; the others the plan lists wait for its approval."""
        from dramaforge.agents.voices import make_planned, plan_voices

        bible = self.bible()
        if name not in bible.characters:
            raise EditError(f"no character {name!r} (known: {', '.join(bible.characters)})")
        look = bible.characters[name]
        fresh = look.model_copy(update={"voice": look.voice.model_copy(update={"origin": None})})
        work = bible.to_make
        bible = bible.model_copy(
            update={
                "characters": {**bible.characters, name: fresh},
                "to_make": work.model_copy(
                    update={"voices": {n: v for n, v in work.voices.items() if n != name}}
                ),
            }
        )
        speech, language = self.context.speech, self.values()["script"].language
        planned, _notes = plan_voices(
            bible, {name: wish}, speech, language, speech.voices(language)
        )

        def pay(spec: str, what: str, make: Callable[[], str]) -> str:
            return self.context.charge(spec, 1.0, what, make)

        made = make_planned(planned, speech, language, pay=pay, names={name})
        self._save(bible=made)
        self._keep_voice_in_series(name)
        return made.characters[name].voice

    def _keep_voice_in_series(self, name: str) -> None:
        """``name``'s voice as this session now has it, written to the series bible when the
        episode is one of a series: the bible stage of every later episode reads it from
        there (this episode's own bible stage has already run)."""
        look = self.bible().characters.get(name)
        if self.options.series_file is None or look is None:  # the narrator is per episode
            return
        path, book = Path(self.options.series_file), self.context.series_book
        with book.locked(path):
            looks = book.load(path)
            kept = looks.get(name, look)
            book.save(path, {**looks, name: kept.model_copy(update={"voice": look.voice})})

    def set_look(self, name: str, description: str) -> None:
        self._save(bible=edits.set_look(self.bible(), name, description))

    def restore(self, ref: str | int, take: int) -> Take:
        """Make take number ``take`` of a shot the one used again; nothing is regenerated."""
        shot, result = self.takes(ref)
        found = [i for i, t in enumerate(result.takes) if t.number == take] if result else []
        if result is None or not found:
            numbers = ", ".join(str(t.number) for t in result.takes) if result else "none yet"
            raise EditError(f"shot {shot.id} has no take {take} (takes: {numbers})")
        chosen = result.takes[found[0]]
        if chosen.shot is None:
            raise EditError(f"take {take} of {shot.id} was made before takes kept their shot")
        plan = self.plan()
        i = edits.find(plan, shot.id)
        restored = chosen.shot.model_copy(update={"index": shot.index})
        plan = plan.model_copy(update={"shots": [*plan.shots[:i], restored, *plan.shots[i + 1 :]]})
        fingerprint = shot_fingerprint(restored, self.bible())
        pinned = result.model_copy(
            update={"chosen": found[0], "duration": chosen.duration, "fingerprint": fingerprint}
        )
        self._save(plan=plan, results={shot.id: pinned})
        return chosen

    def _save(self, **values: Any) -> None:
        """Write edits to the thread as if the bible stage made them: approval comes next."""
        self._planned()
        self.graph.update_state(self.config, values, as_node="bible")

    # ---- running -------------------------------------------------------------------------

    def _planned(self, on_event: Callable[[Event], None] | None = None) -> dict[str, Any]:
        """The state once planned: a new session runs up to approval (nothing paid for)."""
        values = self.values()
        if "plan" not in values or "bible" not in values:
            if self.status() != "new":
                raise DramaforgeError(
                    "this session stopped before it was planned; run it again with --resume"
                )
            start = InputState(script_path=str(self.script_path), options=self.options)
            self._stream(start, on_event, interrupt_before=["approve"])
            values = self.values()
        return values

    def render(self, on_event: Callable[[Event], None] | None = None) -> Manifest:
        """Render what the plan needs (everything, or only what changed) and return the
        manifest; a finished session with no edits returns its manifest as it is."""
        with self.running(on_event):
            return self._render(on_event)

    def _render(self, on_event: Callable[[Event], None] | None) -> Manifest:
        if self.status() == "new":
            self._planned(on_event)
        status = self.status()
        if status == "awaiting_approval":
            payload: Any = Command(resume="approve")
        elif status == "interrupted":
            payload = None
        else:
            found = self.manifest()
            if found is not None:
                return found
            payload = None
        self._stream(payload, on_event)
        found = self.manifest()
        if found is None:
            raise DramaforgeError(
                "the render stopped before the episode was assembled; run again with --resume"
            )
        return found

    def draft(self, on_event: Callable[[Event], None] | None = None) -> Manifest:
        """Render the current plan cheaply (``[draft]`` settings) into ``EPISODE/draft/``.

        The draft has its own thread, so a second draft after edits redoes only the edited
        shots, and the full-quality render of this session is untouched. The plan and the
        bible are copied over, not directed again (an LLM director is not paid twice). The
        draft makes the voices the plan lists (its lines are spoken with them; one made with
        the final speech backend is not paid again), but draws no reference sheet and leaves
        the series bible alone: a series' sheets and references come from the full render.
        """
        values = self._planned()
        settings = self.settings.for_draft()
        options = self.options.model_copy(
            update={
                **self.settings.draft.output(),
                "episode": f"{self.options.episode}/draft",
                "approve": False,
                "series_file": None,
            }
        )
        root = self.settings.state_root(Path(self.options.out_dir))
        context = build_context(settings, root)
        context.ledger = self.context.ledger  # one budget for both passes
        draft = Session(
            self.script_path,
            options,
            f"{self.thread}-draft",
            settings,
            context,
            self.saver,
            self.graph,
        )
        copied = {k: values[k] for k in ("script_path", "script", "plan", "bible")}
        work = copied["bible"].to_make.model_copy(update={"sheets": []})
        copied["bible"] = copied["bible"].model_copy(update={"to_make": work})
        draft.graph.update_state(draft.config, copied | {"options": options}, as_node="bible")
        return draft.render(on_event)

    def reset(self) -> None:
        """Forget this thread (the asset cache keeps every file made)."""
        with self.running():
            self.saver.delete_thread(self.thread)

    @contextmanager
    def running(self, on_event: Callable[[Event], None] | None = None) -> Iterator[None]:
        """This episode's thread to itself, across threads and processes: a second render of
        the same episode (another terminal, a parallel MCP call) waits here, says so, and then
        finds the work done instead of redoing or paying for it."""
        lock_file = self.settings.state_root(Path(self.options.out_dir)) / "locks" / self.thread

        def busy() -> None:
            if on_event is not None:
                on_event({"stage": "wait", "status": BUSY})

        with RunLock.of(lock_file).held(busy):
            yield

    def _stream(
        self,
        payload: Any,
        on_event: Callable[[Event], None] | None = None,
        interrupt_before: list[str] | None = None,
    ) -> None:
        try:
            for _ns, mode, chunk in self.graph.stream(
                payload,
                self.config,
                context=self.context,
                stream_mode=["custom", "updates"],
                subgraphs=True,
                interrupt_before=interrupt_before,
            ):
                if mode == "custom" and on_event is not None and isinstance(chunk, dict):
                    on_event(chunk)
        finally:  # a failed or stopped run leaves no segment being encoded ahead behind it
            self.context.voiced.close(self.options.episode_dir)


@contextmanager
def open_session(
    script_path: Path,
    options: RenderOptions,
    thread: str,
    settings: Settings,
    *,
    context: RenderContext | None = None,
    checkpointer: BaseCheckpointSaver[str] | None = None,
) -> Iterator[Session]:
    """A session on ``thread``; the checkpointer is closed on exit unless it was passed in."""
    root = settings.state_root(Path(options.out_dir))
    own = open_checkpointer(root) if checkpointer is None else None
    saver = own or checkpointer
    assert saver is not None
    try:
        yield Session(
            script_path=script_path.resolve(),
            options=options,
            thread=thread,
            settings=settings,
            context=context or build_context(settings, root),
            saver=saver,
            graph=build_graph(saver),
        )
    finally:
        if own is not None:
            own.conn.close()


@contextmanager
def session_for(
    script_path: Path,
    out: Path,
    settings: Settings,
    *,
    approve: bool = False,
    series: str | None = None,
    episode: str | None = None,
    context: RenderContext | None = None,
    checkpointer: BaseCheckpointSaver[str] | None = None,
) -> Iterator[Session]:
    """The session of ``script_path`` rendered into ``out`` with these settings."""
    if not script_path.is_file():
        raise DramaforgeError(f"{script_path}: no such file")
    options = make_options(script_path, out, settings, series, episode).model_copy(
        update={"approve": approve}
    )
    tid = thread_id(script_path, options)
    with open_session(
        script_path, options, tid, settings, context=context, checkpointer=checkpointer
    ) as session:
        yield session


@contextmanager
def episode_session(
    episode_dir: Path, settings: Settings, *, context: RenderContext | None = None
) -> Iterator[Session]:
    """The session that rendered ``episode_dir`` (found through its manifest), to edit it."""
    manifest_path = episode_dir / "manifest.json"
    if not manifest_path.is_file():
        raise DramaforgeError(f"{episode_dir}: no manifest.json here; render the episode first")
    try:
        manifest = Manifest.model_validate_json(manifest_path.read_text(encoding="utf-8"))
    except (OSError, ValueError) as err:  # pydantic's ValidationError is a ValueError
        raise DramaforgeError(
            f"{manifest_path}: not a readable dramaforge manifest ({type(err).__name__}); "
            "render the episode again"
        ) from None
    if not manifest.thread:
        raise DramaforgeError(f"{episode_dir} was rendered by an older version; render it again")
    root = settings.state_root(episode_dir.resolve().parent)
    saver = open_checkpointer(root)
    try:
        values = build_graph(saver).get_state({"configurable": {"thread_id": manifest.thread}})
        options: RenderOptions | None = values.values.get("options")
        if options is None:
            raise DramaforgeError(
                f"{episode_dir}: its render state is gone from {root}; render the episode again"
            )
        with open_session(
            Path(manifest.script),
            options,
            manifest.thread,
            settings,
            context=context,
            checkpointer=saver,
        ) as session:
            yield session
    finally:
        saver.conn.close()
