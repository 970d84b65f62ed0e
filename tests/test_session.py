"""Directing a rendered episode: edits re-render only what changed, takes are versions."""

from __future__ import annotations

from pathlib import Path

import pytest

from dramaforge.errors import EditError
from dramaforge.graph.session import session_for
from dramaforge.graph.verbs import rerender_shot
from dramaforge.media.probe import probe
from dramaforge.schema import Manifest
from tests.helpers import FIXTURES, counting_context, settings_for

pytestmark = pytest.mark.slow
SCRIPT = FIXTURES / "short.zh.txt"


def _episode(out: Path) -> Manifest:
    settings = settings_for()
    ctx, _ = counting_context(settings, out)
    with session_for(SCRIPT, out, settings, context=ctx) as session:
        return session.render()


def test_interactive_session_stops_for_approval_then_renders_the_edited_plan(
    tmp_path: Path,
) -> None:
    settings = settings_for()
    ctx, calls = counting_context(settings, tmp_path)
    with session_for(SCRIPT, tmp_path, settings, approve=True, context=ctx) as session:
        plan = session.plan()
        assert session.status() == "awaiting_approval"
        assert calls["image"] == calls["video"] == 0  # planning pays for nothing
        session.edit(2, "framing", "close_up")
        session.move(1, len(plan.shots))
        with pytest.raises(EditError, match="one of"):
            session.edit(1, "camera", "spin")
    # Leaving and coming back: the edits were written to the thread, not kept in memory.
    with session_for(SCRIPT, tmp_path, settings, approve=True, context=ctx) as session:
        edited = session.plan()
        assert edited.shots[1].framing == "close_up"
        assert edited.shots[-1].id == plan.shots[0].id
        assert len(session.to_render()) == len(plan.shots)
        manifest = session.render()
    assert [r.shot_id for r in manifest.shots] == [s.id for s in edited.shots]
    assert manifest.plan.shots[1].framing == "close_up"
    assert calls["image"] == len(plan.shots)
    assert manifest.thread


def test_rerender_one_shot_keeps_its_takes_and_can_restore_them(tmp_path: Path) -> None:
    first = _episode(tmp_path)
    episode_dir = Path(first.episode.path).parent
    target = first.shots[1].shot_id
    old = first.shots[1].take
    settings = settings_for()

    again = rerender_shot(episode_dir, settings, 2, prompt="night, rain on the window")
    redone = next(r for r in again.shots if r.shot_id == target)
    assert [t.number for t in redone.takes] == [1, 2]
    assert redone.take.number == 2
    assert redone.take.keyframe.key != old.keyframe.key
    assert redone.take.shot is not None
    assert redone.take.shot.visual_prompt == "night, rain on the window"
    for before, after in zip(first.shots, again.shots, strict=True):
        if before.shot_id != target:  # every other shot reused as it was
            assert after.take.keyframe.key == before.take.keyframe.key
            assert after.take.motion.key == before.take.motion.key
    assert (episode_dir / "shots" / target / "take2_clip.mp4").is_file()
    assert probe(Path(again.episode.path)).duration == pytest.approx(
        sum(r.duration for r in again.shots), abs=0.5
    )

    restored = rerender_shot(episode_dir, settings, target, take=1)
    back = next(r for r in restored.shots if r.shot_id == target)
    assert back.take.number == 1 and len(back.takes) == 2
    assert back.take.motion.key == old.motion.key
    assert restored.plan.shot(target).visual_prompt == old.shot.visual_prompt  # type: ignore[union-attr]

    with pytest.raises(EditError, match="no take 9"):
        rerender_shot(episode_dir, settings, target, take=9)


def test_redo_makes_a_new_take_and_only_that_shot_is_generated(tmp_path: Path) -> None:
    first = _episode(tmp_path)
    settings = settings_for()
    ctx, calls = counting_context(settings, tmp_path)
    with session_for(SCRIPT, tmp_path, settings, context=ctx) as session:
        assert session.status() == "done"
        session.redo(1)
        assert [s.id for s in session.to_render()] == [first.shots[0].shot_id]
        manifest = session.render()
    assert calls["image"] == 1 and calls["video"] == 1
    assert calls["speech"] == 0  # the lines did not change: the voice is reused
    assert manifest.shots[0].take.number == 2


def test_planning_a_plain_render_session_pays_for_nothing(tmp_path: Path) -> None:
    settings = settings_for()
    ctx, calls = counting_context(settings, tmp_path)
    with session_for(SCRIPT, tmp_path, settings, context=ctx) as session:
        assert len(session.plan().shots) == 5
        assert session.estimate().total == 0.0
        assert sum(calls.values()) == 0 and session.manifest() is None
        manifest = session.render()
    assert calls["image"] == 5 and len(manifest.shots) == 5
