"""Planner-driven episodes (envs/pusht/training/planner_episodes.py): what the simulator did under the planner."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from dream_engine_ros.engine.runner import DreamEngine
from dream_engine_ros.envs.pusht.planning.goal import SceneGoal
from dream_engine_ros.envs.pusht.planning.mpc import PlanningController
from dream_engine_ros.envs.pusht.planning.robot import PushTRobot
from dream_engine_ros.envs.pusht.planning.scorers import SceneStateScorer
from dream_engine_ros.envs.pusht.planning.tasks import reach_tasks
from dream_engine_ros.envs.pusht.training import planner_episodes
from dream_engine_ros.planning.cem import CEMConfig, CrossEntropyPlanner


def test_drive_records_the_simulator_under_the_planner() -> None:
    engine = DreamEngine.load("pusht-structured", device="cpu")
    task = reach_tasks(1, seed=99)[0]
    robot = PushTRobot()
    planner = CrossEntropyPlanner(CEMConfig(samples=8, elites=2, iterations=1), np.zeros(2), np.full(2, 512.0))
    goal = SceneGoal.from_image(robot.reset(task.goal))

    def drive() -> tuple[np.ndarray, np.ndarray]:
        controller = PlanningController("cem-state", planner, SceneStateScorer(engine, goal), 4, seed=3)
        driven = planner_episodes.drive(robot, controller, task, steps=6)
        assert driven is not None
        return driven

    states, targets = drive()
    assert states.shape == (7, 5) and targets.shape == (6, 2)
    np.testing.assert_allclose(states[0], task.start, atol=1e-9)
    replay = PushTRobot()
    replay.reset(task.start)
    for k, target in enumerate(targets):  # the states are the simulator's answer to those targets
        replay.step(target)
        np.testing.assert_allclose(replay.state, states[k + 1], atol=1e-9)
    again_states, again_targets = drive()
    assert np.array_equal(states, again_states) and np.array_equal(targets, again_targets)


def test_held_out_task_sets_are_refused(tmp_path: Path) -> None:
    with pytest.raises(SystemExit):
        planner_episodes.main(["--out", str(tmp_path / "x.npz"), "--seed", "4242"])
    assert not (tmp_path / "x.npz").exists()
