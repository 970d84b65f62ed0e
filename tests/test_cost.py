"""The cost shown before a render is what the render may really pay: up to N takes a shot."""

from __future__ import annotations

import json
from collections import Counter
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from typer.testing import CliRunner

from dramaforge.agents.critic import Critic
from dramaforge.agents.director import RuleDirector
from dramaforge.cli.app import app
from dramaforge.config import Settings
from dramaforge.graph.context import build_context
from dramaforge.graph.cost import attempts, estimate
from dramaforge.graph.series import FileBook
from dramaforge.graph.session import session_for
from dramaforge.graph.verbs import render_episode
from dramaforge.schema import (
    CastWork,
    CharacterLook,
    Critique,
    Shot,
    ShotPlan,
    Stage,
    Voice,
    VoiceToMake,
)
from dramaforge.script import load_script
from tests.helpers import FIXTURES, settings_for

PRICES = {"priced:image": 0.25, "priced:video": 0.5, "priced:speech": 2.0}


def priced(max_takes: int, budget: float | None = None) -> Settings:
    base = settings_for(max_takes=max_takes)
    backends = base.backends.model_copy(
        update={"image": "priced:image", "video": "priced:video", "speech": "priced:speech"}
    )
    return base.model_copy(update={"backends": backends, "prices": PRICES, "budget": budget})


def short_plan() -> ShotPlan:
    return RuleDirector().direct(load_script(FIXTURES / "short.zh.txt"))


def test_the_estimate_prices_up_to_max_takes_beside_one_take() -> None:
    plan = short_plan()
    shots, seconds = len(plan.shots), sum(s.duration for s in plan.shots)
    chars = sum(len(ln.text) for s in plan.shots for ln in s.lines) / 1000
    one = {"priced:image": 0.25 * shots, "priced:video": 0.5 * seconds, "priced:speech": 2 * chars}

    cost = estimate(plan, priced(max_takes=3))  # the render's own max_takes, not one take

    assert cost.max_takes == 3
    assert cost.one_take == pytest.approx(one, abs=1e-3)
    assert cost.one_take_total == pytest.approx(sum(one.values()), abs=1e-3)
    # a keyframe may be redrawn by inspect and again for each later take: 2N-1 of them
    assert cost.lines["priced:image"] == pytest.approx(5 * one["priced:image"], abs=1e-3)
    assert cost.lines["priced:video"] == pytest.approx(3 * one["priced:video"], abs=1e-3)
    assert cost.lines["priced:speech"] == pytest.approx(3 * one["priced:speech"], abs=1e-3)
    assert cost.total == pytest.approx(sum(cost.lines.values()), abs=1e-3)
    assert cost.summary == (
        f"up to {cost.total:.2f} (3 takes a shot; {cost.one_take_total:.2f} for one take)"
    )
    single = estimate(plan, priced(max_takes=3), max_takes=1)
    assert single.total == pytest.approx(cost.one_take_total, abs=1e-3)
    assert single.summary == f"{single.total:.2f}"


def test_the_budget_is_compared_with_the_most_a_render_may_pay() -> None:
    plan = short_plan()
    cost = estimate(plan, priced(max_takes=2))
    between = (cost.one_take_total + cost.total) / 2
    assert estimate(plan, priced(max_takes=2, budget=between)).past_budget
    assert not estimate(plan, priced(max_takes=2, budget=cost.total)).past_budget
    assert not cost.past_budget  # no budget set


def test_sheets_and_voices_made_first_are_priced_once_in_the_estimate() -> None:
    plan = short_plan()
    design = VoiceToMake(how="design", by="priced:design", description="warm")
    clone = VoiceToMake(how="clone", by="priced:clone", sample="s.wav")
    work = CastWork(
        sheets=["阿明", "小雪"], voices={"阿明": design, "小雪": clone}, narrator=design
    )
    settings = priced(max_takes=3)
    settings = settings.model_copy(
        update={"prices": PRICES | {"priced:design": 0.3, "priced:clone": 1.5}}
    )
    without, with_work = estimate(plan, settings), estimate(plan, settings, cast=work)
    sheet = PRICES["priced:image"]
    assert with_work.one_take["priced:image"] == pytest.approx(
        without.one_take["priced:image"] + 2 * sheet
    )
    # made once before any shot, never retried: not multiplied by the takes
    assert with_work.lines["priced:image"] == pytest.approx(
        without.lines["priced:image"] + 2 * sheet
    )
    assert with_work.lines["priced:design"] == with_work.one_take["priced:design"] == 0.6
    assert with_work.lines["priced:clone"] == with_work.one_take["priced:clone"] == 1.5
    assert with_work.total == pytest.approx(without.total + 2 * sheet + 0.6 + 1.5)
    assert with_work.unpriced == []
    unpriced = estimate(plan, priced(max_takes=3), cast=work)
    assert unpriced.unpriced == ["priced:clone", "priced:design"]  # said, never silently 0


def test_plan_for_a_series_counts_the_sheets_its_bible_lacks(tmp_path: Path) -> None:
    """The short script's two characters: both sheets are drawn for a new series; once the
    series bible holds 阿明's sheet, only 小雪's; none with sheets off or outside a series."""
    toml = tmp_path / "dramaforge.toml"
    toml.write_text(
        '[backends]\nimage = "dashscope:qwen-image"\n[prices]\n"dashscope:qwen-image" = 0.2\n'
        '[dashscope]\napi_key = "sk-test-not-used-to-plan"\n',
        encoding="utf-8",
    )
    script = str(FIXTURES / "short.zh.txt")

    def planned(*flags: str) -> dict[str, Any]:
        with pytest.MonkeyPatch.context() as mp:
            mp.chdir(tmp_path)
            done = CliRunner().invoke(app, ["plan", script, "--max-takes", "1", "--json", *flags])
        assert done.exit_code == 0, done.output
        data: dict[str, Any] = json.loads(done.output)
        return data

    alone = planned()
    shots = len(alone["shots"])
    assert alone["sheets"] == [] and alone["estimate"]["total"] == pytest.approx(0.2 * shots)
    series = planned("--series", "校园", "--out", "out")
    assert series["sheets"] == ["阿明", "小雪"]
    assert series["estimate"]["total"] == pytest.approx(0.2 * (shots + 2))

    state = settings_for().state_root((tmp_path / "out").resolve())
    sheet = state / "series" / "校园" / "sheet-a.png"
    sheet.parent.mkdir(parents=True)
    sheet.write_bytes(b"a sheet drawn by an earlier episode")
    look = CharacterLook(
        name="阿明", description="", color="#c33", slot=0, seed=1, voice=Voice(id="Ethan")
    )
    FileBook().save(
        state / "series" / "校园.json",
        {"阿明": look.model_copy(update={"reference_image": str(sheet)})},
    )
    later = planned("--series", "校园", "--out", "out")
    assert later["sheets"] == ["小雪"]
    assert later["estimate"]["total"] == pytest.approx(0.2 * (shots + 1))
    toml.write_text(toml.read_text("utf-8") + "[identity]\nreference_sheets = false\n", "utf-8")
    assert planned("--series", "校园", "--out", "out")["sheets"] == []


def test_plan_shows_up_to_n_takes_and_one_take(tmp_path: Path) -> None:
    toml = tmp_path / "dramaforge.toml"
    toml.write_text(
        '[backends]\nimage = "dashscope:qwen-image"\n[prices]\n"dashscope:qwen-image" = 0.2\n'
        '[dashscope]\napi_key = "sk-test-not-used-to-plan"\n',
        encoding="utf-8",
    )
    runner = CliRunner()
    with pytest.MonkeyPatch.context() as mp:
        mp.chdir(tmp_path)
        shown = runner.invoke(app, ["plan", str(FIXTURES / "short.zh.txt"), "--max-takes", "3"])
        as_json = runner.invoke(
            app, ["plan", str(FIXTURES / "short.zh.txt"), "--max-takes", "3", "--json"]
        )
    assert shown.exit_code == 0, shown.output
    assert as_json.exit_code == 0, as_json.output
    data = json.loads(as_json.output)["estimate"]
    shots = len(json.loads(as_json.output)["shots"])
    assert data["max_takes"] == 3 and data["summary"].startswith("up to ")
    assert data["one_take_total"] == pytest.approx(0.2 * shots)
    assert data["total"] == pytest.approx(0.2 * shots * 5)
    assert f"up to {0.2 * shots * 5:.2f} (3 takes a shot; {0.2 * shots:.2f} for one take)" in (
        " ".join(shown.output.split())
    )


def test_the_studio_shows_up_to_n_takes_and_one_take(tmp_path: Path) -> None:
    from starlette.testclient import TestClient

    from dramaforge.serve.studio import create_app

    settings = priced(max_takes=2, budget=0.5)
    ctx = priced_context(settings, tmp_path / "out")
    client = TestClient(
        create_app(tmp_path, settings, contexts={"out": ctx}), base_url="http://127.0.0.1"
    )
    text = (FIXTURES / "short.zh.txt").read_text("utf-8")
    board = client.post("/plan", data={"name": "pasted", "text": text})
    script = tmp_path / "scripts" / "pasted.txt"
    with session_for(script, tmp_path / "out", settings, context=ctx) as s:
        cost = estimate(s.plan(), settings)
    assert cost.total > cost.one_take_total > 0.5
    shown = f'up to <b class="estimate-total">{cost.total:.2f}</b> (2 takes a shot'
    assert shown in board.text
    assert f'<span class="estimate-one-take">{cost.one_take_total:.2f}</span>' in board.text
    page = client.get("/e/out/pasted/render").text
    assert shown in page and "past-budget" in page


def priced_context(settings: Settings, out: Path, calls: Counter[str] | None = None) -> Any:
    """The offline backends, billed under the priced names (requests counted in ``calls``)."""
    local = build_context(settings_for(), out / "unused")
    calls = Counter() if calls is None else calls
    return build_context(
        settings,
        settings.state_root(out),
        image=Counted(local.image, "priced:image", calls),
        video=Counted(local.video, "priced:video", calls),
        speech=local.speech,
    )


@dataclass
class Blaming(Critic):
    """The heuristic critic's protocol, rejecting every keyframe and every take, always
    blaming ``stage``: the most takes a render may make."""

    stage: Stage = "keyframe"

    def _no(self) -> Critique:
        return Critique(
            passed=False, score=0.1, issues=["no"], stage_at_fault=self.stage, reviewer=self.name
        )

    def review_keyframe(self, shot: Shot, **_: Any) -> Critique:
        return self._no()

    def review(self, shot: Shot, **_: Any) -> Critique:
        return self._no()


class Counted:
    """A local backend billed under another name, counting the requests that reach it."""

    def __init__(self, inner: Any, name: str, calls: Counter[str]) -> None:
        self.inner, self.name, self.calls = inner, name, calls

    def __getattr__(self, attr: str) -> Any:
        return getattr(self.inner, attr)

    def generate(self, request: Any, dest: Path, journal: Any = None) -> Any:
        self.calls[self.name] += 1
        return self.inner.generate(request, dest, journal)


@pytest.mark.slow
def test_a_render_that_uses_every_take_pays_what_the_estimate_said(tmp_path: Path) -> None:
    settings = priced(max_takes=2)
    calls: Counter[str] = Counter()
    ctx = priced_context(settings, tmp_path, calls)
    ctx.critic = Blaming(stage="keyframe")
    with session_for(FIXTURES / "short.zh.txt", tmp_path, settings, context=ctx) as s:
        cost = s.estimate()
    manifest = render_episode(FIXTURES / "short.zh.txt", tmp_path, settings, context=ctx)

    shots = len(manifest.plan.shots)
    assert calls["priced:image"] == attempts("image", 2) * shots == 3 * shots
    assert calls["priced:video"] == attempts("video", 2) * shots
    assert cost.lines["priced:image"] == pytest.approx(PRICES["priced:image"] * 3 * shots)
    assert all(len(r.takes) == 2 for r in manifest.shots)
