"""A budget stops paid work before it is exceeded, and a re-run loses nothing already paid."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from dramaforge.errors import BudgetExceeded
from dramaforge.graph.cost import Ledger, estimate
from dramaforge.graph.verbs import render_episode
from dramaforge.tools.protocols import Generated, ImageRequest
from tests.helpers import FIXTURES, counting_context, settings_for


class PricedImages:
    """The real storyboard renderer, billed as a paid model at 1.00 per image."""

    name = "fake:image"

    def __init__(self, real: Any) -> None:
        self.real, self.calls = real, 0

    def generate(self, request: ImageRequest, dest: Path, journal: object = None) -> Generated:
        self.calls += 1
        made: Generated = self.real.generate(request, dest)
        return made.model_copy(update={"cost": 1.0})


@pytest.mark.slow
def test_budget_stops_then_rerun_finishes_without_paying_twice(tmp_path: Path) -> None:
    settings = settings_for(concurrency=1).model_copy(
        update={"prices": {"fake:image": 1.0}, "budget": 2.5}
    )
    ctx, _ = counting_context(settings, tmp_path)
    images = PricedImages(ctx.image)
    ctx.image = images  # type: ignore[assignment]
    ctx.ledger = Ledger(budget=2.5)
    with pytest.raises(BudgetExceeded, match="budget"):
        render_episode(FIXTURES / "short.zh.txt", tmp_path, settings, context=ctx)
    assert images.calls == 2 and ctx.ledger.spent == pytest.approx(2.0)

    ctx.ledger = Ledger(budget=10.0)
    manifest = render_episode(FIXTURES / "short.zh.txt", tmp_path, settings, context=ctx)
    shots = len(manifest.plan.shots)
    assert images.calls == shots  # the two paid before the stop were not paid again
    assert manifest.total_cost == pytest.approx(shots - 2)
    assert ctx.ledger.spent == pytest.approx(shots - 2)


def test_estimate_prices_each_backend() -> None:
    from dramaforge.agents.director import RuleDirector
    from dramaforge.script import load_script

    plan = RuleDirector().direct(load_script(FIXTURES / "short.zh.txt"))
    settings = settings_for().model_copy(
        update={
            "backends": settings_for().backends.model_copy(
                update={"image": "dashscope:qwen-image", "video": "dashscope:wan2.5-i2v-preview"}
            ),
            "prices": {"dashscope:qwen-image": 0.25, "dashscope:wan2.5-i2v-preview": 0.5},
        }
    )
    cost = estimate(plan, settings)
    seconds = sum(s.duration for s in plan.shots)
    assert cost.one_take["dashscope:qwen-image"] == pytest.approx(0.25 * len(plan.shots))
    assert cost.one_take["dashscope:wan2.5-i2v-preview"] == pytest.approx(0.5 * seconds, abs=0.01)
    assert cost.one_take_total == pytest.approx(0.25 * len(plan.shots) + 0.5 * seconds, abs=0.01)
    assert cost.unpriced == []
