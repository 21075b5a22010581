"""Receding-horizon control of the PushT robot: observe, plan, execute a few actions, replan.

    1. reset the robot to the start state; the goal is a state (its scene is what the cost sees);
    2. until success or the step budget: hand the controller the camera frame and what led to
       it, time its plan, execute its first actions one control step at a time;
    3. success is the benchmark's rule on the simulator's true state after any step.

Controllers: `PlanningController` (CEM or random shooting over a `Scorer`, warm-started from
its previous plan shifted by what was executed), and two baselines without a model:
`GoalAgentController` drives the agent straight to the goal's agent position, `HoldController`
does nothing (holds the agent where it is).
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from typing import Protocol

import numpy as np

from dream_engine_ros.envs.pusht.evaluation.reader import read_scenes
from dream_engine_ros.envs.pusht.planning.robot import PushTRobot, reached
from dream_engine_ros.envs.pusht.planning.scorers import Observation
from dream_engine_ros.planning.receding_horizon import RecedingHorizonController

ACTION_DIM = 2  # PushT: the agent's target (x, y)


class Controller(Protocol):
    name: str

    def reset(self) -> None: ...

    def act(self, observation: Observation) -> np.ndarray: ...


def agent_position(frame: np.ndarray) -> np.ndarray:
    """The agent's centre read from a camera frame (world units); the image centre if unseen."""
    agent = read_scenes(frame[None]).agent[0]
    return agent if np.isfinite(agent).all() else np.array([256.0, 256.0])


@dataclass
class PlanningController(RecedingHorizonController):
    """Sampling-based MPC (`planning/receding_horizon.py`) whose first search holds the agent where
    the camera shows it (PushT's actions are agent targets: holding it = standing still)."""

    def start_action(self, observation: Observation) -> np.ndarray:
        return agent_position(observation.frame)


@dataclass
class GoalAgentController:
    """Baseline: command the goal's agent position every step (no model, no block)."""

    goal_agent: np.ndarray
    execute: int = 4
    name: str = "drive agent to goal"

    def reset(self) -> None:
        return None

    def act(self, observation: Observation) -> np.ndarray:
        return np.repeat(np.asarray(self.goal_agent, dtype=np.float32)[None], self.execute, axis=0)


@dataclass
class HoldController:
    """Baseline: do nothing (hold the agent where the camera sees it)."""

    execute: int = 4
    name: str = "do nothing"

    def reset(self) -> None:
        return None

    def act(self, observation: Observation) -> np.ndarray:
        return np.repeat(agent_position(observation.frame).astype(np.float32)[None], self.execute, axis=0)


@dataclass
class EpisodeOutcome:
    success: bool
    steps: int  # control steps executed (to success, or the budget)
    plan_seconds: list[float]
    states: np.ndarray  # (steps + 1, 5)
    frames: np.ndarray  # (steps + 1, H, W, 3)
    actions: np.ndarray  # (steps, D)

    @property
    def seconds_per_replan(self) -> float:
        return float(np.mean(self.plan_seconds)) if self.plan_seconds else 0.0


def run_episode(robot: PushTRobot, controller: Controller, start_state: np.ndarray, goal_state: np.ndarray,
                budget: int = 50, history: int = 2, stop_at_goal: bool = True) -> EpisodeOutcome:
    """Closed loop from `start_state` until the goal is reached or `budget` steps are spent
    (with `stop_at_goal` false: always `budget` steps; `success` still says if it was reached)."""
    controller.reset()
    frames = [robot.reset(start_state)]
    states: list[np.ndarray] = [robot.state]
    actions: list[np.ndarray] = []
    plan_seconds: list[float] = []
    success = False
    while len(actions) < budget and not (success and stop_at_goal):
        past = min(history, len(actions))
        observation = Observation(frames[-1], np.asarray(frames[len(frames) - 1 - past:-1]),
                                  np.asarray(actions[len(actions) - past:], dtype=np.float32).reshape(past, ACTION_DIM),
                                  robot.snapshot())
        tic = time.perf_counter()
        plan = np.asarray(controller.act(observation), dtype=np.float32)
        plan_seconds.append(time.perf_counter() - tic)
        if plan.ndim != 2 or plan.shape[0] < 1:
            raise ValueError(f"{controller.name}: a controller must return (n >= 1, D) actions, got {plan.shape}")
        for action in plan[:budget - len(actions)]:
            frames.append(robot.step(action))
            actions.append(action)
            states.append(robot.state)
            if reached(states[-1], goal_state):
                success = True
                if stop_at_goal:
                    break
    return EpisodeOutcome(success, len(actions), plan_seconds, np.stack(states), np.stack(frames),
                          np.asarray(actions, dtype=np.float32).reshape(len(actions), ACTION_DIM))
