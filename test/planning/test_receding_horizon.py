"""The generic receding-horizon controller: searches inside the spec's box with a spread scaled to
it, starts from the box's middle, warm-starts from the executed plan, and reaches a goal of a toy model."""

from __future__ import annotations

import numpy as np
import pytest

from dream_engine_ros.planning.receding_horizon import RecedingHorizonController, cem_for_bounds


class ToyScorer:
    """A point that moves by its velocity command; cost = its distance to a goal, min + mean over the steps."""

    def __init__(self, goal: np.ndarray) -> None:
        self.goal, self.position = goal, np.zeros(2)
        self.first_means: list[np.ndarray] = []

    def observe(self, observation: np.ndarray) -> None:
        self.position = np.asarray(observation, np.float64)

    def __call__(self, actions: np.ndarray) -> np.ndarray:
        path = self.position + np.cumsum(actions, axis=1)
        self.first_means.append(actions[0])  # the first sample of a search is its mean
        distance = np.linalg.norm(path - self.goal, axis=2)
        return distance.min(axis=1) + distance.mean(axis=1)


def test_the_spread_is_a_share_of_the_box() -> None:
    planner = cem_for_bounds(np.array([-0.3, -0.3]), np.array([0.3, 0.3]), horizon=8, hold=2, samples=16,
                             elites=4, iterations=2)
    assert planner.config.init_std == pytest.approx(0.09) and planner.config.min_std == pytest.approx(0.006)


def test_the_controller_drives_a_toy_robot_to_its_goal() -> None:
    goal = np.array([1.0, -0.5])
    scorer = ToyScorer(goal)
    planner = cem_for_bounds(np.array([-0.3, -0.3]), np.array([0.3, 0.3]), horizon=8, hold=2, samples=32,
                             elites=4, iterations=3)
    controller = RecedingHorizonController("toy", planner, scorer, execute=2, seed=1)
    position = np.zeros(2)
    for _ in range(10):
        for action in controller.act(position):
            assert np.all(np.abs(action) <= 0.3 + 1e-6)
            position = position + action
    assert np.linalg.norm(position - goal) < 0.1
    np.testing.assert_array_equal(scorer.first_means[0], np.zeros((8, 2)))  # the first search starts at the middle
    controller.reset()
    assert controller.warm is None and controller.last_plan is None
    with pytest.raises(ValueError, match="execute"):
        RecedingHorizonController("bad", planner, scorer, execute=9)
