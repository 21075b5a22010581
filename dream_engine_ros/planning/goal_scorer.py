"""Score candidates against a goal image with a registered decode-free cost, in process.

Why: a planner that runs next to the engine (a benchmark, an evaluation) needs what the ROS
search mode does over the wire: K action sequences from the robot's current frame -> K costs,
with no frame drawn and nothing about the scene read. The cost is looked up by name, so any
model that rolls out decode-free plans with `latent-goal` and a scene plug-in may offer its own.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Protocol

import numpy as np

from dream_engine_ros.engine.family import family_of
from dream_engine_ros.planning.costs import LATENT_GOAL, get_cost


class Observed(Protocol):
    """What a robot offers at a replan: its current frame and what led to it."""

    frame: np.ndarray

    def history(self) -> tuple[np.ndarray | None, np.ndarray | None]: ...


@dataclass
class GoalImageScorer:
    """K candidates (K, T, D) -> (K,) costs of `cost` against `goal_image` from the observed frame;
    the history is passed only to a model that reads it."""

    engine: Any  # a DreamEngine (Any: the engine is imported only by whoever loads one)
    goal_image: np.ndarray
    cost: str = LATENT_GOAL
    observation: Observed | None = None

    def __post_init__(self) -> None:
        chosen = get_cost(self.cost)
        if not chosen.frameless:
            raise ValueError(f"cost {self.cost!r} scores drawn frames; a decode-free scorer needs a frameless cost")
        chosen.check_goal(self.goal_image, self.engine.spec)

    def observe(self, observation: Observed) -> None:
        self.observation = observation

    def __call__(self, actions: np.ndarray) -> np.ndarray:
        if self.observation is None:
            raise RuntimeError("observe() the robot before scoring")
        history = None
        if family_of(self.engine.spec).reads_history:
            frames, past_actions = self.observation.history()
            history = None if frames is None or past_actions is None else (frames, past_actions)
        costs: np.ndarray = get_cost(self.cost).score_frameless(self.engine, self.observation.frame, actions,
                                                                self.goal_image, history)
        return costs
