"""A planning `Scorer` that asks the engine node: one RolloutBatch goal per CEM iteration, or
with `EnginePlanner` one goal per replan (the engine runs the whole search: search mode).

Why over ROS and not in-process: the engine is a shared node on the robot (one model in GPU
memory, many clients); a planner is one of its clients. Every call is timed twice, wall clock
here and the engine's own `engine_s` from the result, so the ROS share of a replan is measured,
not guessed. Blocking: call it from a worker thread while an executor spins the client node.
"""

from __future__ import annotations

import math
import threading
import time
from dataclasses import dataclass, field

import numpy as np
from rclpy.action import ActionClient
from rclpy.node import Node
from sensor_msgs.msg import Image

from dream_engine_msgs.action import RolloutBatch
from dream_engine_ros.envs.pusht.planning.scorers import Observation
from dream_engine_ros.planning.cem import CrossEntropyPlanner, PlanResult, ScoreFn
from dream_engine_ros.ros.image_conversion import image_msg_to_rgb, rgb_to_image_msg
from dream_engine_ros.ros.spinning import wait_for_future

ERROR_NAMES = {v: k for k, v in vars(RolloutBatch.Result).items() if k.isupper() and isinstance(v, int)}


class EngineCallError(RuntimeError):
    """The engine refused or failed a scoring goal (its error code and message)."""


@dataclass
class EngineScorer:
    """Scores candidate action sequences with the engine node's `rollout_batch` action."""

    node: Node
    client: ActionClient[RolloutBatch.Goal, RolloutBatch.Result, RolloutBatch.Feedback]
    goal_image: Image
    seed: int = 0
    cost: str = "pusht-state"
    return_best_frames: bool = False  # the best candidate's frames with every call (see `render`)
    timeout_s: float = 60.0
    stop: threading.Event | None = None
    observation: Observation | None = None
    calls: int = 0
    wall_s: float = 0.0
    engine_s: float = 0.0
    best_cost: float = math.inf
    best_frames: list[np.ndarray] = field(default_factory=list)  # dreamed frames of the cheapest candidate

    def observe(self, observation: Observation) -> None:
        self.observation = observation
        self.best_cost, self.best_frames = math.inf, []

    def reset_timers(self) -> None:
        self.calls, self.wall_s, self.engine_s = 0, 0.0, 0.0

    def _goal(self, actions: np.ndarray, cost: str | None = None, best_frames: bool | None = None,
              search: CrossEntropyPlanner | None = None, seed: int | None = None) -> RolloutBatch.Goal:
        obs = self.observation
        assert obs is not None
        stamp = self.node.get_clock().now().to_msg()
        goal = RolloutBatch.Goal()
        goal.start_frame = rgb_to_image_msg(obs.frame, stamp, "pusht_camera")
        goal.actions = np.ascontiguousarray(actions, dtype=np.float32).reshape(-1).tolist()
        goal.num_candidates, goal.horizon, goal.action_dim = (int(n) for n in actions.shape)
        goal.seed = int(self.seed if seed is None else seed)
        goal.num_steps = 0
        goal.guidance = math.nan
        goal.goal_image = self.goal_image
        goal.cost = self.cost if cost is None else cost
        goal.fused = True
        goal.return_best_frames = self.return_best_frames if best_frames is None else best_frames
        goal.write_video = False
        goal.history_frames = [rgb_to_image_msg(f, stamp, "pusht_camera") for f in obs.history_frames]
        goal.history_actions = np.asarray(obs.history_actions, dtype=np.float32).reshape(-1).tolist()
        if search is not None:
            cfg = search.config
            goal.plan_iterations, goal.plan_samples, goal.plan_elites = cfg.iterations, cfg.samples, cfg.elites
            goal.plan_hold, goal.plan_init_std, goal.plan_min_std = cfg.hold, cfg.init_std, cfg.min_std
            goal.plan_action_low, goal.plan_action_high = search.low.tolist(), search.high.tolist()
        return goal

    def __call__(self, actions: np.ndarray) -> np.ndarray:
        if self.observation is None:
            raise RuntimeError("observe() the robot before scoring")
        result = self._call(self._goal(actions))
        scores = np.asarray(result.scores, dtype=np.float64)
        if scores.shape != (actions.shape[0],):
            raise EngineCallError(f"engine returned {scores.shape[0]} scores for {actions.shape[0]} candidates")
        if result.best_frames and float(scores.min()) < self.best_cost:
            self.best_cost = float(scores.min())
            self.best_frames = [image_msg_to_rgb(image, "best_frames") for image in result.best_frames]
        return scores

    def search(self, planner: CrossEntropyPlanner, knots: np.ndarray, seed: int) -> PlanResult:
        """One search-mode goal: the engine runs `planner`'s search from `knots` (seeded) and
        answers with the plan (drawn too, into `best_frames`, when `return_best_frames`)."""
        if self.observation is None:
            raise RuntimeError("observe() the robot before planning")
        start = planner.expand(np.asarray(knots, dtype=np.float64))
        result = self._call(self._goal(start[None], search=planner, seed=seed))
        actions = np.asarray(result.plan_actions, dtype=np.float32)
        if actions.size != start.size:
            raise EngineCallError(f"engine returned a plan of {actions.size} values, expected {start.size}")
        actions = actions.reshape(start.shape)
        plan = PlanResult(actions, float(result.plan_cost), actions[::planner.config.hold].astype(np.float64),
                          best_cost_per_iteration=[float(c) for c in result.plan_best_cost_per_iteration],
                          candidates_scored=int(result.plan_candidates_scored))
        self.best_cost = plan.cost
        self.best_frames = [image_msg_to_rgb(image, "best_frames") for image in result.best_frames]
        return plan

    def render(self, plan: np.ndarray) -> list[np.ndarray]:
        """The frames the full model dreams for one plan (T, D): what the planner displays, drawn
        once per replan for the chosen plan only (frameless costs draw none while scoring)."""
        if self.observation is None:
            raise RuntimeError("observe() the robot before rendering")
        result = self._call(self._goal(plan[None], cost="pusht-pose", best_frames=True))
        return [image_msg_to_rgb(image, "best_frames") for image in result.best_frames]

    def _call(self, goal: RolloutBatch.Goal) -> RolloutBatch.Result:
        """One goal, waited for; timed (wall clock here, `engine_s` there); errors raised."""
        started = time.perf_counter()
        handle = wait_for_future(self.client.send_goal_async(goal), self.timeout_s,
                                 "rollout_batch goal", self.stop)
        if handle is None or not handle.accepted:
            raise EngineCallError("the engine rejected the scoring goal (not active?)")
        response = wait_for_future(handle.get_result_async(), self.timeout_s, "rollout_batch result", self.stop)
        if response is None:
            raise EngineCallError("the scoring goal's result future was cancelled")
        result = response.result
        self.wall_s += time.perf_counter() - started
        self.calls += 1
        if result.error_code != 0:
            name = ERROR_NAMES.get(result.error_code, str(result.error_code))
            raise EngineCallError(f"engine answered {name}: {result.error_msg}")
        self.engine_s += float(result.engine_s)
        return result


class EnginePlanner(CrossEntropyPlanner):
    """The cross-entropy method run by the engine node (search mode): one goal per replan.

    Same settings, bounds, warm start, knots and seed as `CrossEntropyPlanner`, whose search the
    engine runs, so it plans as the in-process planner does (up to the float32 of the message)."""

    def search(self, score: ScoreFn, mean: np.ndarray, seed: int) -> PlanResult:
        if not isinstance(score, EngineScorer):
            raise TypeError("EnginePlanner plans through an EngineScorer (the engine runs the search)")
        return score.search(self, mean, seed)
