"""The result message of each action, built from how its goal ended.

Why: ~/rollout and ~/rollout_batch share one goal flow (intake, busy policy, worker, terminal
state); only their result messages differ. Each action gets its own typed builder here
instead of the flow probing which message it holds.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from dream_engine_msgs.action import Rollout, RolloutBatch
from dream_engine_ros.ros.error_codes import ErrorCode, GoalFailure
from dream_engine_ros.ros.frame_stamps import ns_to_time
from dream_engine_ros.ros.rollout_job import RolloutOutcome


@dataclass
class GoalEnd:
    """How one goal ended: ``failure`` None means it succeeded."""

    seed: int
    spec_name: str = ""
    fps: float = 0.0
    failure: GoalFailure | None = None
    outcome: RolloutOutcome | None = None  # the worker's; kept for its timings when the goal failed after it
    start_stamp_ns: int | None = None
    wait_s: float = 0.0
    total_s: float = 0.0

    @property
    def succeeded(self) -> bool:
        return self.failure is None


def rollout_result(end: GoalEnd) -> Rollout.Result:
    """~/rollout: one prediction, at most one mp4."""
    result = Rollout.Result()
    _fill_shared_fields(result, end)
    if end.succeeded and end.outcome is not None:
        result.mp4_path = str(end.outcome.video_paths[0]) if end.outcome.video_paths else ""
    return result


def batch_result(end: GoalEnd) -> RolloutBatch.Result:
    """~/rollout_batch: K candidates, their mp4s, scores and the best one."""
    result = RolloutBatch.Result()
    result.best_index = -1
    _fill_shared_fields(result, end)
    if end.succeeded and end.outcome is not None:
        outcome = end.outcome
        result.mp4_paths = [str(path) for path in outcome.video_paths]
        result.scores = [float(score) for score in outcome.scores]
        result.best_index = int(outcome.best_index)
        result.best_frames = outcome.best_frames
        if outcome.plan is not None:
            result.plan_actions = np.asarray(outcome.plan.actions, dtype=np.float32).reshape(-1).tolist()
            result.plan_cost = float(outcome.plan.cost)
            result.plan_best_cost_per_iteration = [float(c) for c in outcome.plan.best_cost_per_iteration]
            result.plan_candidates_scored = int(outcome.plan.candidates_scored)
    return result


def _fill_shared_fields(result: Rollout.Result | RolloutBatch.Result, end: GoalEnd) -> None:
    """The fields both results have (same names in both .action files)."""
    if end.failure is None:
        result.error_code = int(ErrorCode.OK)
    else:
        result.error_code, result.error_msg = int(end.failure.code), end.failure.message
    result.seed = int(end.seed)
    result.spec = end.spec_name
    result.fps = float(end.fps)
    if end.start_stamp_ns is not None:
        result.start_frame_stamp = ns_to_time(end.start_stamp_ns)
    result.wait_s = float(end.wait_s)
    result.total_s = float(end.total_s)
    if end.outcome is not None:
        timings = end.outcome.timings
        result.encode_s = float(timings.get("encode_s", 0.0))
        result.denoise_s = float(timings.get("denoise_s", 0.0))
        result.decode_s = float(timings.get("decode_s", 0.0))
        result.engine_s = float(timings.get("total_s", 0.0))
        result.video_s = float(end.outcome.video_s)
        if end.succeeded:
            result.num_frames = int(end.outcome.num_frames)
