"""Search mode of ~/rollout_batch: a whole cross-entropy search in one goal.

Why: with decode-free scoring a CEM iteration costs the engine about what one ROS round trip
costs, so a planner that sends one goal per iteration spends much of its replan on the wire
(docs/planning.md has the measured share). In search mode the engine runs the same
`CrossEntropyPlanner` the planner would (`planning/cem.py`) next to the model: one goal per
replan, and the chosen plan comes back drawn in the same answer.

    1. the goal's search settings are checked up front (INVALID_GOAL with the field's name);
    2. the search starts from the goal's one candidate (its knots: every `hold`-th action) and
       samples with the goal's seed (`CrossEntropyPlanner.search`): the same goal, the same plan,
       the one the planner's own search would make with that seed;
    3. candidates are scored by the goal's frameless cost, iteration after iteration.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from dream_engine_msgs.action import RolloutBatch
from dream_engine_ros.planning.cem import CEMConfig, CrossEntropyPlanner, PlanResult, ScoreFn
from dream_engine_ros.planning.costs import frameless_cost_names, get_cost
from dream_engine_ros.ros.error_codes import ErrorCode, GoalFailure


@dataclass(frozen=True)
class PlanSearch:
    """What a search-mode goal asks for: the CEM's settings and the box it searches."""

    config: CEMConfig
    low: np.ndarray  # (D,) action units
    high: np.ndarray

    def run(self, score: ScoreFn, start: np.ndarray, seed: int) -> PlanResult:
        """Search from `start` (horizon, D): the goal's candidate, its every `hold`-th action a knot."""
        planner = CrossEntropyPlanner(self.config, self.low, self.high)
        knots = np.asarray(start, dtype=np.float64)[::self.config.hold]
        return planner.search(score, knots, seed)


def plan_search(goal: RolloutBatch.Goal, cost: str, spec_low: np.ndarray | None,
                spec_high: np.ndarray | None) -> PlanSearch | None:
    """The goal's planning request, checked; None for a goal that only scores its candidates."""
    iterations = int(goal.plan_iterations)
    if iterations == 0:
        return None
    if not get_cost(cost).frameless:
        raise _invalid(f"search mode (plan_iterations > 0) needs a frameless cost {frameless_cost_names()}; "
                       f"got {cost!r}")
    if int(goal.num_candidates) != 1:
        raise _invalid(f"search mode starts from one candidate (num_candidates = 1); got {goal.num_candidates}")
    dim = int(goal.action_dim)
    low = np.asarray(goal.plan_action_low, dtype=np.float64)
    high = np.asarray(goal.plan_action_high, dtype=np.float64)
    if low.shape != (dim,) or high.shape != (dim,):
        raise _invalid(f"plan_action_low and plan_action_high need action_dim = {dim} values each; "
                       f"got {low.size} and {high.size}")
    if not (np.isfinite(low).all() and np.isfinite(high).all() and np.all(low < high)):
        raise _invalid(f"plan_action_low {low.tolist()} must be finite and below plan_action_high {high.tolist()}")
    if spec_low is not None and spec_high is not None and (np.any(low < spec_low) or np.any(high > spec_high)):
        raise _invalid(f"the search box [{low.tolist()}, {high.tolist()}] leaves the spec's action bounds "
                       f"[{spec_low.tolist()}, {spec_high.tolist()}]")
    try:
        config = CEMConfig(horizon=int(goal.horizon), hold=int(goal.plan_hold), samples=int(goal.plan_samples),
                           elites=int(goal.plan_elites), iterations=iterations,
                           init_std=float(goal.plan_init_std), min_std=float(goal.plan_min_std))
    except ValueError as error:
        raise _invalid(f"planning settings: {error}") from error
    if not (np.isfinite(config.init_std) and np.isfinite(config.min_std)):
        raise _invalid("plan_init_std and plan_min_std must be finite")
    return PlanSearch(config, low, high)


def _invalid(message: str) -> GoalFailure:
    return GoalFailure(ErrorCode.INVALID_GOAL, message)
