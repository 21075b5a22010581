"""Named costs of predicted rollouts against a goal image (what `RolloutBatch.cost` selects).

    last-frame   the spec's own frame distance of each candidate's last frame to the goal
                 (latent distance for VAE specs, pooled pixels for pixel specs): any spec;
    pusht-pose   PushT's agent and T read from the predicted pixels along the rollout, compared
                 with the goal image's (`pusht_goal`);
    pusht-state  the same cost on the engine's decode-free scene-state rollout (agent and contact
                 dynamics, no frame drawn; `DreamEngine.predict_scene_states`): what the MPC
                 planner uses, hundreds of candidates per replan.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from ..engine.errors import InputError
from .pusht_goal import GoalCost, SceneGoal, rollout_costs

COSTS = ("last-frame", "pusht-pose", "pusht-state")
FRAMELESS_COSTS = ("pusht-state",)  # scored without drawing the candidates' frames


def check_cost(name: str) -> str:
    """'' means the default ('last-frame'); anything unknown is a named input error."""
    resolved = name or "last-frame"
    if resolved not in COSTS:
        raise InputError("cost", name, f"cost {name!r} is not one of {', '.join(COSTS)} ('' = last-frame)")
    return resolved


def pusht_goal(goal: np.ndarray, frame_shape: tuple[int, ...]) -> SceneGoal:
    """The goal scene of a pusht-pose request, or a named input error (checked before any rollout)."""
    if tuple(goal.shape) != tuple(frame_shape):
        raise InputError("goal_image", tuple(goal.shape), f"pusht-pose needs the spec's resolution {frame_shape}")
    try:
        return SceneGoal.from_image(goal)
    except ValueError as error:
        raise InputError("goal_image", "no agent or T", f"pusht-pose: {error}") from error


def score_scene_states(engine: Any, frame: np.ndarray, actions: np.ndarray, goal: np.ndarray,
                       history: tuple[np.ndarray, np.ndarray] | None = None) -> np.ndarray:
    """pusht-state: (K, T, D) candidates -> (K,) costs from the decode-free scene-state rollout."""
    from .world_models import scene_state_readings

    spec = engine.spec
    scene_goal = pusht_goal(goal, (spec.height, spec.width, 3))
    past_frames, past_actions = history if history is not None else (None, None)
    states = engine.predict_scene_states(frame, actions, past_frames, past_actions)
    return GoalCost()(scene_state_readings(states, spec.height), scene_goal)


def score_rollouts(engine: Any, name: str, frames: np.ndarray, goal: np.ndarray) -> np.ndarray:
    """(K, T + 1, H, W, 3) predicted frames -> (K,) costs, lower = closer to `goal`."""
    resolved = check_cost(name)
    if resolved in FRAMELESS_COSTS:
        raise InputError("cost", name, f"cost {name!r} scores scene states, not frames (score_scene_states)")
    if resolved == "last-frame":
        return np.asarray(engine.frame_distance(frames[:, -1], goal), dtype=np.float64).reshape(-1)
    return rollout_costs(frames, pusht_goal(goal, frames.shape[2:]))
