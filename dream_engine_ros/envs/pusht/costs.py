"""PushT's goal costs: the agent and the T compared with the goal image's, registered by name.

    pusht-pose   read from the predicted pixels along the rollout by the PushT reader
                 (`planning/goal.py`), any spec that draws PushT frames;
    pusht-state  the same cost on the decode-free scene-state rollout of the structured model
                 (`scene_states.py`, no frame drawn): what the MPC planner scores, hundreds of
                 candidates per replan.

Both are evaluators outside the model: the reader knows gym-pusht's colours and the T's shape.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from dream_engine_ros.engine.errors import InputError
from dream_engine_ros.engine.spec import ModelSpec
from dream_engine_ros.envs.pusht.planning.goal import GoalCost, SceneGoal, rollout_costs
from dream_engine_ros.planning.costs import GOAL_COSTS, FrameCost

POSE = "pusht-pose"
STATE = "pusht-state"


def scene_goal(goal: np.ndarray, frame_shape: tuple[int, ...], cost: str = POSE) -> SceneGoal:
    """The goal scene of a PushT cost, or a named input error (checked before any rollout)."""
    if tuple(goal.shape) != tuple(frame_shape):
        raise InputError("goal_image", tuple(goal.shape), f"{cost} needs the spec's resolution {frame_shape}")
    try:
        return SceneGoal.from_image(goal)
    except ValueError as error:
        raise InputError("goal_image", "no agent or T", f"{cost}: {error}") from error


def _frame_shape(spec: ModelSpec) -> tuple[int, int, int]:
    return (spec.height, spec.width, 3)


class PoseCost(FrameCost):
    """pusht-pose: read the agent and the T from the drawn frames."""

    name = POSE

    def check_goal(self, goal: np.ndarray, spec: ModelSpec) -> None:
        scene_goal(goal, _frame_shape(spec), self.name)

    def score_frames(self, engine: Any, frames: np.ndarray, goal: np.ndarray) -> np.ndarray:
        return rollout_costs(frames, scene_goal(goal, frames.shape[2:], self.name))


class StateCost:
    """pusht-state: the structured model's decode-free scene states against the goal's scene."""

    name = STATE
    frameless = True

    def check_goal(self, goal: np.ndarray, spec: ModelSpec) -> None:
        scene_goal(goal, _frame_shape(spec), self.name)

    def score_frames(self, engine: Any, frames: np.ndarray, goal: np.ndarray) -> np.ndarray:
        raise InputError("cost", self.name, f"cost {self.name!r} scores decode-free rollouts, not frames")

    def score_frameless(self, engine: Any, frame: np.ndarray, actions: np.ndarray, goal: np.ndarray,
                        history: tuple[np.ndarray, np.ndarray] | None = None) -> np.ndarray:
        from dream_engine_ros.envs.pusht.planning.scorers import scene_state_readings

        spec = engine.spec
        goal_scene = scene_goal(goal, _frame_shape(spec), self.name)
        past_frames, past_actions = history if history is not None else (None, None)
        states = engine.rollout_frameless(frame, actions, past_frames, past_actions)
        return GoalCost()(scene_state_readings(states, spec.height), goal_scene)


def register() -> None:
    GOAL_COSTS.register(POSE, PoseCost())
    GOAL_COSTS.register(STATE, StateCost())
