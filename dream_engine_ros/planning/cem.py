"""Sampling-based planners over any batched cost: the cross-entropy method and random shooting.

A plan is a sequence of `horizon` actions built from `horizon // hold` knots, each held for
`hold` control steps (fewer dimensions to search; PushT's PD-controlled agent smooths the
steps anyway). Per iteration:

    1. sample `samples` knot sequences from the current Gaussian (mean, std per knot and
       dimension), clipped to the action bounds; the current mean is always one of them;
    2. expand knots to actions and score them all in one call of `score` (a batch);
    3. refit mean and std to the `elites` cheapest samples (std floored at `min_std`);
    4. keep the cheapest sample seen so far: that is the plan.

Random shooting is one iteration of the same loop. Seeded: every search draws its own seed
from the caller's Generator and samples from a Generator of that seed, so the same seed, start
and scores give the same plan, and an engine that runs the search (search mode of
~/rollout_batch) given that seed makes the same one.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field

import numpy as np

ScoreFn = Callable[[np.ndarray], np.ndarray]  # actions (K, horizon, D) -> costs (K,)
SEARCH_SEEDS = 2**31  # a search's seed is below this (a RolloutBatch seed + K must stay below 2**32)


@dataclass(frozen=True)
class CEMConfig:
    """The defaults are the shipped PushT planner's (docs/planning.md): 24 steps ahead in 6 knots
    of 4, 64 samples, 8 elites, 4 iterations (`pusht_mpc_planner` and `bench_mpc` read them; the
    generic `mpc_planner` starts from them but scales its spreads to the spec's action box)."""

    horizon: int = 24
    hold: int = 4
    samples: int = 64
    elites: int = 8
    iterations: int = 4
    init_std: float = 80.0
    min_std: float = 4.0

    def __post_init__(self) -> None:
        if self.horizon < 1 or self.hold < 1 or self.horizon % self.hold:
            raise ValueError(f"horizon {self.horizon} must be a positive multiple of hold {self.hold}")
        if not 1 <= self.elites <= self.samples:
            raise ValueError(f"elites {self.elites} must be in [1, samples={self.samples}]")
        if self.iterations < 1:
            raise ValueError(f"iterations {self.iterations} must be >= 1")
        if self.init_std <= 0 or self.min_std < 0:
            raise ValueError("init_std must be > 0 and min_std >= 0")

    @property
    def knots(self) -> int:
        return self.horizon // self.hold

    @classmethod
    def random_shooting(cls, samples: int, horizon: int = 24, hold: int = 4, std: float = 80.0) -> CEMConfig:
        """One iteration, no refit: the baseline the cross-entropy method must beat."""
        return cls(horizon=horizon, hold=hold, samples=samples, elites=1, iterations=1, init_std=std, min_std=0.0)


@dataclass
class PlanResult:
    actions: np.ndarray  # (horizon, D) the cheapest sample seen
    cost: float
    knots: np.ndarray  # (knots, D) its knots (warm start of the next replan)
    best_cost_per_iteration: list[float] = field(default_factory=list)
    mean_elite_cost_per_iteration: list[float] = field(default_factory=list)
    candidates_scored: int = 0


class CrossEntropyPlanner:
    """CEM over held knots inside box action bounds."""

    def __init__(self, config: CEMConfig, low: np.ndarray, high: np.ndarray) -> None:
        self.config = config
        self.low = np.asarray(low, dtype=np.float64)
        self.high = np.asarray(high, dtype=np.float64)
        if self.low.shape != self.high.shape or np.any(self.low >= self.high):
            raise ValueError("action bounds need low < high per dimension")

    def expand(self, knots: np.ndarray) -> np.ndarray:
        """(..., knots, D) -> (..., horizon, D): each knot held for `hold` steps."""
        return np.repeat(knots, self.config.hold, axis=-2)

    def initial_mean(self, hold_at: np.ndarray) -> np.ndarray:
        """A plan that holds one action (e.g. the agent's current position: stay put)."""
        return np.broadcast_to(np.clip(hold_at, self.low, self.high), (self.config.knots, self.low.size)).copy()

    def shift(self, knots: np.ndarray, executed_steps: int) -> np.ndarray:
        """Warm start after executing `executed_steps` actions: the rest of the plan, on the new
        knot grid (the knot at each `hold`-th remaining step), the last action repeated."""
        actions = self.expand(knots)
        executed = min(executed_steps, actions.shape[0] - 1)
        rest = np.concatenate([actions[executed:], np.repeat(actions[-1:], executed, axis=0)])
        return rest[::self.config.hold].copy()

    def plan(self, score: ScoreFn, mean: np.ndarray, rng: np.random.Generator) -> PlanResult:
        """One search from `mean` (knots, D), its seed drawn from `rng`."""
        return self.search(score, mean, int(rng.integers(0, SEARCH_SEEDS)))

    def search(self, score: ScoreFn, mean: np.ndarray, seed: int) -> PlanResult:
        """The search itself (steps 1-4 above), sampling from a Generator of `seed`."""
        rng = np.random.default_rng(seed)
        cfg = self.config
        mean = np.clip(np.asarray(mean, dtype=np.float64), self.low, self.high)
        std = np.full_like(mean, cfg.init_std)
        best_knots, best_cost = mean.copy(), np.inf
        result = PlanResult(self.expand(mean).astype(np.float32), np.inf, mean.copy())
        for _ in range(cfg.iterations):
            samples = mean[None] + std[None] * rng.standard_normal((cfg.samples, *mean.shape))
            samples[0] = mean
            samples = np.clip(samples, self.low, self.high)
            costs = np.asarray(score(self.expand(samples).astype(np.float32)), dtype=np.float64)
            if costs.shape != (cfg.samples,):
                raise ValueError(f"score returned shape {costs.shape}, expected ({cfg.samples},)")
            costs = np.where(np.isfinite(costs), costs, np.inf)
            order = np.argsort(costs, kind="stable")
            elites = samples[order[:cfg.elites]]
            if costs[order[0]] < best_cost:
                best_cost, best_knots = float(costs[order[0]]), samples[order[0]].copy()
            result.best_cost_per_iteration.append(float(costs[order[0]]))
            result.mean_elite_cost_per_iteration.append(float(np.mean(costs[order[:cfg.elites]])))
            result.candidates_scored += cfg.samples
            mean = elites.mean(axis=0)
            std = np.maximum(elites.std(axis=0), cfg.min_std)
        result.actions, result.cost, result.knots = self.expand(best_knots).astype(np.float32), best_cost, best_knots
        return result
