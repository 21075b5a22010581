"""The simulator as a robot: `advance` is `env.step`'s physics, snapshots restore exactly."""

from __future__ import annotations

import numpy as np

from dream_engine_ros.envs.pusht.evaluation.episodes import generate
from dream_engine_ros.envs.pusht.planning.robot import PushTRobot, reached
from dream_engine_ros.envs.pusht.training.pusht_data import make_env


def test_advance_is_env_step_physics() -> None:
    episode = generate("push", 1, 20, seed=5)[0]
    robot, reference = PushTRobot(), PushTRobot()
    robot.reset(episode.start_state)
    reference.reset(episode.start_state)
    for action in episode.actions:
        robot.advance(action)
        reference.env.step(action.copy())  # gym-pusht's own step (renders, computes coverage)
    assert np.array_equal(robot.state, reference.state)
    assert not np.array_equal(robot.state, episode.start_state)


def test_reset_puts_the_block_exactly_where_asked() -> None:
    """gym-pusht's reset_to_state turns a rotated block about its centre of mass; ours does not."""
    state = np.array([100.5, 200.25, 300.0, 250.0, 1.0])
    robot = PushTRobot()
    robot.reset(state)
    assert np.abs(robot.state - state).max() < 1e-9
    env = make_env()
    env.reset(options={"reset_to_state": state})
    assert np.hypot(env.block.position.x - 300.0, env.block.position.y - 250.0) > 20.0


def test_restored_snapshot_replays_identically() -> None:
    episode = generate("push", 1, 30, seed=6)[0]
    robot = PushTRobot()
    robot.reset(episode.start_state)
    for action in episode.actions[:10]:  # mid-push: the agent moves and touches the block
        robot.advance(action)
    snap = robot.snapshot()
    runs = []
    for _ in range(2):
        robot.restore(snap)
        for action in episode.actions[10:]:
            robot.advance(action)
        runs.append(robot.state)
    assert np.array_equal(runs[0], runs[1])
    assert not np.array_equal(runs[0][2:], np.array([*snap.block_position, snap.block_angle]))  # it did move


def test_success_rule() -> None:
    goal = np.array([100.0, 100.0, 200.0, 200.0, 0.5])
    assert reached(goal + [19, 0, 0, 19, 0.3], goal)
    assert not reached(goal + [21, 0, 0, 0, 0], goal)
    assert not reached(goal + [0, 0, 0, 21, 0], goal)
    assert not reached(goal + [0, 0, 0, 0, np.pi / 9 + 0.01], goal)
    assert reached(goal + [0, 0, 0, 0, 2 * np.pi], goal)  # angles wrap
