"""Model-predictive control with any world model: plan, execute the first actions, plan again.

Why here and not in a scene's plug-in: nothing in the loop depends on the robot. The search box is
the spec's action bounds, the spread is a share of that box (so a velocity in m/s and a target in
pixels get the same kind of search), the first search starts from the middle of the box (for a
velocity command: standing still), and every later one from the previous plan shifted by what was
executed. The scorer says how good a plan is (e.g. `GoalImageScorer`: decode-free, against a goal image).
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field
from typing import Any, Protocol

import numpy as np

from dream_engine_ros.planning.cem import CEMConfig, CrossEntropyPlanner, PlanResult


class PlanScorer(Protocol):
    def observe(self, observation: Any) -> None: ...

    def __call__(self, actions: np.ndarray) -> np.ndarray: ...


def spread_for_box(config: CEMConfig, low: np.ndarray, high: np.ndarray, spread: float = 0.15,
                   floor: float = 0.01) -> CEMConfig:
    """`config` with its first spread `spread` of the box's mean width and its floor `floor` of it."""
    width = float(np.mean(np.asarray(high, np.float64) - np.asarray(low, np.float64)))
    return dataclasses.replace(config, init_std=spread * width, min_std=floor * width)


def cem_for_bounds(low: np.ndarray, high: np.ndarray, horizon: int, hold: int, samples: int, elites: int,
                   iterations: int, spread: float = 0.15, floor: float = 0.01) -> CrossEntropyPlanner:
    """A CEM planner over the box [low, high] with its spread scaled to the box (`spread_for_box`)."""
    config = CEMConfig(horizon=horizon, hold=hold, samples=samples, elites=elites, iterations=iterations)
    return CrossEntropyPlanner(spread_for_box(config, low, high, spread, floor), low, high)


@dataclass
class RecedingHorizonController:
    """act(observation) -> the first `execute` actions of a fresh plan (see the module docstring)."""

    name: str
    planner: CrossEntropyPlanner
    scorer: PlanScorer
    execute: int = 4
    seed: int = 0
    warm: np.ndarray | None = None
    last_plan: PlanResult | None = None
    rng: np.random.Generator = field(init=False)

    def __post_init__(self) -> None:
        if not 1 <= self.execute <= self.planner.config.horizon:
            raise ValueError(f"execute {self.execute} must be in [1, horizon {self.planner.config.horizon}]")
        self.rng = np.random.default_rng(self.seed)

    def reset(self) -> None:
        self.warm, self.last_plan = None, None
        self.rng = np.random.default_rng(self.seed)

    def start_action(self, observation: Any) -> np.ndarray:
        """The action the first search holds: the middle of the box (a scene may know better)."""
        return (self.planner.low + self.planner.high) / 2.0

    def act(self, observation: Any) -> np.ndarray:
        self.scorer.observe(observation)
        mean = self.warm if self.warm is not None else self.planner.initial_mean(self.start_action(observation))
        plan = self.planner.plan(self.scorer, mean, self.rng)
        self.warm = self.planner.shift(plan.knots, self.execute)
        self.last_plan = plan
        return plan.actions[:self.execute]
