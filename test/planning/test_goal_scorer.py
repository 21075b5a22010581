"""The in-process goal-image scorer (planning/goal_scorer.py): the named decode-free cost, from the
observed frame, history only for a model that reads it."""

from __future__ import annotations

import numpy as np
import pytest

from dream_engine_ros.engine.runner import DreamEngine
from dream_engine_ros.planning.costs import LATENT_GOAL, get_cost
from dream_engine_ros.planning.goal_scorer import GoalImageScorer


def test_the_goal_image_scorer_equals_the_cost_and_needs_a_frameless_one(block_model_folder) -> None:
    engine = DreamEngine.load(str(block_model_folder()), device="cpu")
    rng = np.random.default_rng(2)
    frame, goal = (rng.integers(0, 256, (32, 32, 3), dtype=np.uint8) for _ in range(2))
    candidates = rng.uniform(0.0, 10.0, (4, 4, 2)).astype(np.float32)

    class Seen:
        def __init__(self) -> None:
            self.frame = frame

        def history(self) -> tuple[np.ndarray | None, np.ndarray | None]:
            return np.stack([frame, frame]), np.zeros((2, 2), np.float32)  # ignored: the model reads no history

    scorer = GoalImageScorer(engine, goal)
    with pytest.raises(RuntimeError, match="observe"):
        scorer(candidates)
    scorer.observe(Seen())
    expected = get_cost(LATENT_GOAL).score_frameless(engine, frame, candidates, goal)
    np.testing.assert_array_equal(scorer(candidates), expected)
    with pytest.raises(ValueError, match="frameless"):
        GoalImageScorer(engine, goal, cost="last-frame")
