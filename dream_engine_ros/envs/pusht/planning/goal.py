"""PushT goal cost: how far a (predicted or simulated) scene is from the goal scene.

Why a cost on objects and not on pixels: PushT's goal is a pose (agent and T within 20 units,
T angle within pi/9), and pixel distances stop telling a planner anything once the predicted T
no longer overlaps the goal T. The dreamed frames are read with the vectorised PushT reader
(`evaluation.pusht_reader.read_scenes`); the simulator's states give the same quantities
exactly (the upper bound). One frame's distance, in units of the success tolerances:

    d = |T centroid - goal| / 20 + |T angle - goal| / (pi / 9) + agent_weight * |agent - goal| / 20

and a plan's cost is min over its scored frames of d plus `mean_weight` times their mean d plus
`final_weight` times the last d. The minimum says "gets there"; the mean says "gets there early
and stays". Without the mean a planner postpones: any plan that reaches the goal by the end of
the horizon costs the same, and the next replan postpones again (with the simulator as the model,
replanning every 2 steps, min + last reached 7 of 20 goals, min + mean 20 of 20; 2026-12-05).
A frame where the T or the agent cannot be read costs `missing_cost`.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from dream_engine_ros.envs.pusht.evaluation.reader import T_CENTROID_LOCAL, SceneReadings, read_scenes
from dream_engine_ros.envs.pusht.planning.robot import ANGLE_TOLERANCE, POSITION_TOLERANCE, wrap_angle


@dataclass(frozen=True)
class SceneGoal:
    """The goal scene in world units: agent centre, T area centroid, T body angle."""

    agent: np.ndarray
    block: np.ndarray
    angle: float

    @classmethod
    def from_state(cls, state: np.ndarray) -> SceneGoal:
        state = np.asarray(state, dtype=np.float64)
        return cls(state[:2].copy(), block_centroid(state[2:4], state[4]), float(state[4]))

    @classmethod
    def from_image(cls, frame: np.ndarray) -> SceneGoal:
        """Read the goal from a goal image (what a planner is given over ROS or HTTP)."""
        scene = read_scenes(frame[None])
        if not (np.isfinite(scene.agent).all() and np.isfinite(scene.block).all()):
            raise ValueError("the goal image shows no agent or no T block")
        return cls(scene.agent[0], scene.block[0], float(scene.angle[0]))


def block_centroid(position: np.ndarray, angle: np.ndarray | float) -> np.ndarray:
    """World area centroid of the T from its body position (..., 2) and angle (...)."""
    angle = np.asarray(angle, dtype=np.float64)
    cy = T_CENTROID_LOCAL[1]
    offset = np.stack([-np.sin(angle) * cy, np.cos(angle) * cy], axis=-1)
    centroid: np.ndarray = np.asarray(position, dtype=np.float64) + offset
    return centroid


def states_to_scenes(states: np.ndarray) -> SceneReadings:
    """Simulator states (..., 5) -> the quantities the pixel reader returns."""
    states = np.asarray(states, dtype=np.float64)
    return SceneReadings(states[..., :2], block_centroid(states[..., 2:4], states[..., 4]), states[..., 4],
                         np.full(states.shape[:-1], -1, dtype=np.int64))


@dataclass(frozen=True)
class GoalCost:
    agent_weight: float = 0.5
    final_weight: float = 0.0
    missing_cost: float = 20.0
    mean_weight: float = 1.0

    def per_frame(self, scene: SceneReadings, goal: SceneGoal) -> np.ndarray:
        """(K, T) distances in tolerance units."""
        block = np.hypot(*np.moveaxis(scene.block - goal.block, -1, 0)) / POSITION_TOLERANCE
        angle = np.abs(wrap_angle(scene.angle - goal.angle)) / ANGLE_TOLERANCE
        agent = np.hypot(*np.moveaxis(scene.agent - goal.agent, -1, 0)) / POSITION_TOLERANCE
        d = block + angle + self.agent_weight * agent
        return np.where(np.isfinite(d), d, self.missing_cost)

    def __call__(self, scene: SceneReadings, goal: SceneGoal) -> np.ndarray:
        """(K, T) scene readings -> (K,) plan costs."""
        d = self.per_frame(scene, goal)
        cost: np.ndarray = d.min(axis=1) + self.mean_weight * d.mean(axis=1) + self.final_weight * d[:, -1]
        return cost


def scored_frames(horizon: int, every: int = 3) -> np.ndarray:
    """Indices of the predicted frames a plan is scored on: every `every`-th and the last (reading
    every frame costs more than it tells: the agent moves a few units per step)."""
    return np.array(sorted(set(range(every, horizon + 1, every)) | {horizon}))


def rollout_costs(frames: np.ndarray, goal: SceneGoal, cost: GoalCost | None = None, every: int = 3) -> np.ndarray:
    """Predicted rollouts (K, T + 1, H, W, 3) -> (K,) costs, reading the objects from the pixels."""
    scene = read_scenes(frames[:, scored_frames(frames.shape[1] - 1, every)])
    return (cost or GoalCost())(scene, goal)
