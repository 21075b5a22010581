"""One replan = one RolloutBatch goal in search mode: the engine runs the cross-entropy method
next to the model and answers with the plan (drawn too, when asked).

Why one goal per replan: with a decode-free cost a CEM iteration costs the engine about what a
ROS round trip costs, so a search sent one iteration at a time spends its replan on the wire
(`ros/engine_planning.py`). Every call is timed twice, wall clock here and the engine's own
`engine_s`, so the result can say what share of a replan ROS and the planner took.
Blocking: call it from a worker thread while an executor spins the client's node.
"""

from __future__ import annotations

import math
import threading
import time
from dataclasses import dataclass, field

import numpy as np
from rclpy.action import ActionClient
from sensor_msgs.msg import Image

from dream_engine_msgs.action import RolloutBatch
from dream_engine_ros.planning.cem import CEMConfig
from dream_engine_ros.ros.image_conversion import image_msg_to_rgb
from dream_engine_ros.ros.spinning import wait_for_future

ERROR_NAMES = {value: name for name, value in vars(RolloutBatch.Result).items()
               if name.isupper() and isinstance(value, int)}
RolloutBatchClient = ActionClient[RolloutBatch.Goal, RolloutBatch.Result, RolloutBatch.Feedback]


class EngineCallError(RuntimeError):
    """The engine refused or failed a search goal (its error name and message)."""


@dataclass(frozen=True)
class SearchSettings:
    """What every replan asks of the engine."""

    config: CEMConfig
    low: np.ndarray  # (D,) the search box, inside the spec's bounds
    high: np.ndarray
    cost: str = ""  # "" = the model's default ("latent-goal" where it rolls out decode-free)
    num_steps: int = 0  # 0 = the spec's denoising steps
    draw_plan: bool = False  # the chosen plan's frames come back (return_best_frames)


@dataclass
class SearchAnswer:
    actions: np.ndarray  # (horizon, D) float32: the plan
    cost: float
    frames: list[np.ndarray] = field(default_factory=list)  # horizon + 1 dreamed frames when drawn
    engine_s: float = 0.0  # the engine's own time (its result's engine_s)
    wall_s: float = 0.0  # goal sent to result read, here


def search_goal(settings: SearchSettings, start: np.ndarray, frame: Image, goal_image: Image, seed: int,
                history: tuple[list[Image], np.ndarray] | None = None) -> RolloutBatch.Goal:
    """The search-mode goal from `start` (horizon, D), the warm start the search begins from."""
    config = settings.config
    goal = RolloutBatch.Goal()
    goal.start_frame = frame
    goal.actions = np.ascontiguousarray(start, dtype=np.float32).reshape(-1).tolist()
    goal.num_candidates = 1  # search mode starts from one candidate
    goal.horizon, goal.action_dim = int(start.shape[0]), int(start.shape[1])
    goal.seed = int(seed)
    goal.num_steps = int(settings.num_steps)
    goal.guidance = math.nan
    goal.goal_image = goal_image
    goal.write_video = False
    goal.cost = settings.cost
    goal.fused = True
    goal.return_best_frames = settings.draw_plan
    if history is not None:
        frames, actions = history
        goal.history_frames = list(frames)
        goal.history_actions = np.asarray(actions, dtype=np.float32).reshape(-1).tolist()
    goal.plan_iterations, goal.plan_samples, goal.plan_elites = config.iterations, config.samples, config.elites
    goal.plan_hold, goal.plan_init_std, goal.plan_min_std = config.hold, config.init_std, config.min_std
    goal.plan_action_low = settings.low.astype(np.float32).tolist()
    goal.plan_action_high = settings.high.astype(np.float32).tolist()
    return goal


def run_search(client: RolloutBatchClient, goal: RolloutBatch.Goal, timeout_s: float,
               stop: threading.Event | None = None) -> SearchAnswer:
    """Send `goal`, wait for its result; EngineCallError for a refusal or a failed goal."""
    started = time.perf_counter()
    handle = wait_for_future(client.send_goal_async(goal), timeout_s, "rollout_batch goal", stop)
    if handle is None or not handle.accepted:
        raise EngineCallError("the engine rejected the search goal (is it active? busy with another client?)")
    response = wait_for_future(handle.get_result_async(), timeout_s, "rollout_batch result", stop)
    if response is None:
        raise EngineCallError("the search goal's result future was cancelled")
    result = response.result
    wall_s = time.perf_counter() - started
    if result.error_code != RolloutBatch.Result.OK:
        name = ERROR_NAMES.get(result.error_code, str(result.error_code))
        raise EngineCallError(f"engine answered {name}: {result.error_msg}")
    horizon, dim = int(goal.horizon), int(goal.action_dim)
    actions = np.asarray(result.plan_actions, dtype=np.float32)
    if actions.size != horizon * dim:
        raise EngineCallError(f"engine returned a plan of {actions.size} values, expected {horizon} x {dim}")
    frames = [image_msg_to_rgb(image, "best_frames") for image in result.best_frames]
    return SearchAnswer(actions.reshape(horizon, dim), float(result.plan_cost), frames,
                        engine_s=float(result.engine_s), wall_s=wall_s)
