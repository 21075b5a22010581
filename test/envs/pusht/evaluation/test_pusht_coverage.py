"""The pixel coverage reader agrees with gym-pusht's own coverage on true frames (before it
judges a world model's frames), and its constants are gym-pusht's."""

from __future__ import annotations

import numpy as np
import pytest

from dream_engine_ros.envs.pusht.evaluation import coverage as cov
from dream_engine_ros.envs.pusht.planning.robot import PushTRobot


@pytest.fixture(scope="module")
def robot():
    robot = PushTRobot()
    yield robot
    robot.close()


def _near_goal_states(count: int, seed: int) -> np.ndarray:
    """Random scenes around the goal pose (coverage from ~0.2 to 1), agent anywhere."""
    rng = np.random.default_rng(seed)
    shift = rng.uniform(-40, 40, (count, 2)) * rng.uniform(0, 1, (count, 1)) ** 2
    turn = rng.uniform(-0.6, 0.6, count) * rng.uniform(0, 1, count) ** 2
    agent = rng.uniform(50, 450, (count, 2))
    return np.column_stack([agent, cov.GOAL_POSE[:2] + shift, cov.GOAL_POSE[2] + turn])


def test_goal_pose_and_success_threshold_are_gym_pushts(robot) -> None:
    np.testing.assert_allclose(robot.env.goal_pose, cov.GOAL_POSE)
    assert robot.env.success_threshold == cov.SUCCESS_COVERAGE


def test_reader_matches_gym_pusht_coverage_on_true_frames(robot) -> None:
    truth, read = [], []
    for state in _near_goal_states(160, seed=31):
        if np.hypot(*(state[:2] - state[2:4])) < 60:  # the agent would sit inside the T
            continue
        frame = robot.reset(state)
        truth.append(robot.env._get_coverage())
        read.append(float(cov.coverage(frame)))
    truth_arr, error = np.array(truth), np.array(read) - np.array(truth)
    assert truth_arr.min() < 0.5 and (truth_arr > cov.SUCCESS_COVERAGE).sum() >= 10  # the range is covered
    # measured on these 148 scenes: mean -0.003, mean |error| 0.012, 95th percentile 0.034, max 0.084
    assert abs(error.mean()) < 0.01
    assert np.abs(error).mean() < 0.02
    assert np.quantile(np.abs(error), 0.95) < 0.05
    agree = ((truth_arr > cov.SUCCESS_COVERAGE) == (np.array(read) > cov.SUCCESS_COVERAGE)).mean()
    assert agree >= 0.95  # measured 0.980


def test_exact_goal_reads_full_coverage_and_a_far_block_none(robot) -> None:
    at_goal = robot.reset(np.array([60.0, 60.0, *cov.GOAL_POSE]))
    far = robot.reset(np.array([60.0, 60.0, 420.0, 100.0, 0.0]))
    assert robot.env._get_coverage() == 0.0
    values = cov.coverage(np.stack([at_goal, far])[None])  # any leading shape
    assert values.shape == (1, 2)
    assert values[0, 0] == pytest.approx(1.0, abs=0.01) and values[0, 1] == 0.0


def test_a_blank_frame_covers_nothing_and_bad_shapes_are_refused() -> None:
    assert cov.coverage(np.full((96, 96, 3), 255, np.uint8)) == 0.0
    with pytest.raises(ValueError, match="frames must be"):
        cov.coverage(np.zeros((96, 64, 3), np.uint8))
