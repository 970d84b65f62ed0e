"""Agents: director (script -> shots), bible (consistency), critic (take review).

Each agent is its logic plus a call of a tool backend; no transport code lives here.
"""

from __future__ import annotations

from typing import Any

from dramaforge.agents.critic import Critic
from dramaforge.agents.director import RuleDirector


def local_director(model: str, settings: Any) -> RuleDirector:
    """``local:rules``: the offline director, no model needed."""
    return RuleDirector(min_shot=settings.render.min_shot, max_shot=settings.render.max_shot)


def local_critic(model: str, settings: Any) -> Critic:
    """``local:heuristic``: decode, duration, black, frozen, silence and clipping checks."""
    return Critic()
