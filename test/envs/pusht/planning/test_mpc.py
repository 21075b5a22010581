"""The receding-horizon loop reaches a PushT goal with the simulator as its model (the planner's
own upper bound), deterministically; the model-free baselines behave as documented."""

from __future__ import annotations

import numpy as np
import pytest

from dream_engine_ros.envs.pusht.planning.goal import SceneGoal
from dream_engine_ros.envs.pusht.planning.mpc import (
    GoalAgentController,
    HoldController,
    PlanningController,
    run_episode,
)
from dream_engine_ros.envs.pusht.planning.robot import PushTRobot, reached
from dream_engine_ros.envs.pusht.planning.tasks import MIN_MOVE, MIN_TURN, SEGMENT, reach_tasks
from dream_engine_ros.planning.cem import CEMConfig, CrossEntropyPlanner

BOUNDS = (np.zeros(2), np.full(2, 512.0))


@pytest.fixture(scope="module")
def task():  # the benchmark's task 0 (seed 4242): the block must turn and move
    return reach_tasks(1, seed=4242)[0]


def sim_controller(goal_state: np.ndarray) -> PlanningController:
    config = CEMConfig(samples=24, elites=5, iterations=3)
    from dream_engine_ros.envs.pusht.planning.scorers import SimulatorScorer

    return PlanningController("cem-sim", CrossEntropyPlanner(config, *BOUNDS), SimulatorScorer(
        SceneGoal.from_state(goal_state)), execute=4, seed=4242)  # the benchmark seeds task i with 4242 + i


def test_tasks_need_the_block_to_move(task) -> None:
    moved = np.hypot(*(task.goal[2:4] - task.start[2:4]))
    assert moved >= MIN_MOVE or abs(task.goal[4] - task.start[4]) >= MIN_TURN
    assert not reached(task.start, task.goal)
    assert SEGMENT == 25


def test_cem_with_the_simulator_reaches_the_goal_deterministically(task) -> None:
    robot = PushTRobot()
    first = run_episode(robot, sim_controller(task.goal), task.start, task.goal, budget=50)
    again = run_episode(robot, sim_controller(task.goal), task.start, task.goal, budget=50)
    assert first.success and reached(first.states[-1], task.goal)
    assert first.steps < 50 and len(first.plan_seconds) == -(-first.steps // 4)
    assert np.array_equal(first.actions, again.actions) and np.array_equal(first.states, again.states)
    past_goal = run_episode(robot, sim_controller(task.goal), task.start, task.goal, budget=first.steps + 3,
                            stop_at_goal=False)  # what planner_episodes records: on past the goal
    assert past_goal.success and past_goal.steps == first.steps + 3
    assert np.array_equal(past_goal.actions[:first.steps], first.actions)


def test_baselines(task) -> None:
    robot = PushTRobot()
    idle = run_episode(robot, HoldController(), task.start, task.goal, budget=12)
    assert not idle.success and idle.steps == 12
    commanded_vs_agent = np.hypot(*(idle.actions[0] - idle.states[0, :2]))
    assert commanded_vs_agent < 3.0  # it commands where the camera sees the agent
    straight = run_episode(robot, GoalAgentController(task.goal[:2]), task.start, task.goal, budget=30)
    assert np.hypot(*(straight.states[-1, :2] - task.goal[:2])) < 20.0  # the agent itself gets there


def test_bad_controller_output_is_refused(task) -> None:
    class Empty:
        name = "empty"

        def reset(self) -> None:
            return None

        def act(self, observation) -> np.ndarray:
            return np.zeros((0, 2), np.float32)

    with pytest.raises(ValueError, match="must return"):
        run_episode(PushTRobot(), Empty(), task.start, task.goal, budget=5)


def test_cem_over_the_shipped_models_scene_states_reaches_the_goal_deterministically(task) -> None:
    """The shipped planner's mode: the default spec's decode-free scene-state rollout as the model
    (the benchmark's settings: 32 samples x 3 iterations, 4 actions per replan). Task 0 is one the
    benchmark reached (after 10 steps); the episode must repeat bit for bit."""
    from dream_engine_ros.engine.runner import DreamEngine
    from dream_engine_ros.envs.pusht.planning.scorers import SceneStateScorer

    engine = DreamEngine.load("pusht-structured", device="cpu")

    def controller() -> PlanningController:
        return PlanningController("cem-state", CrossEntropyPlanner(CEMConfig(samples=32, elites=5, iterations=3),
                                                                   *BOUNDS),
                                  SceneStateScorer(engine, SceneGoal.from_state(task.goal)), execute=4, seed=4242)

    robot = PushTRobot()
    first = run_episode(robot, controller(), task.start, task.goal, budget=50)
    again = run_episode(robot, controller(), task.start, task.goal, budget=50)
    assert first.success and reached(first.states[-1], task.goal)
    assert np.array_equal(first.actions, again.actions) and np.array_equal(first.states, again.states)
