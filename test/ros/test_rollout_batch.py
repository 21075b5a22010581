"""RolloutBatch: K candidates in one fused pass, scored against a goal image."""

from __future__ import annotations

import math

import numpy as np
from ros_helpers import STATUS, pusht_actions, sample_frame

from dream_engine_msgs.action import RolloutBatch
from dream_engine_ros.ros.frame_stamps import ns_to_time
from dream_engine_ros.ros.image_conversion import rgb_to_image_msg
from dream_engine_ros.video import read_mp4


def batch_goal(engine, num_candidates: int, goal_rgb=None, write_video: bool = False) -> RolloutBatch.Goal:
    spec = engine.spec
    horizon = spec.chunk_size
    candidates = np.stack([pusht_actions(horizon, seed=k) for k in range(num_candidates)])
    goal = RolloutBatch.Goal()
    goal.start_frame = rgb_to_image_msg(sample_frame(), ns_to_time(42), "cam")
    goal.actions = candidates.reshape(-1).tolist()
    goal.num_candidates, goal.horizon, goal.action_dim = num_candidates, horizon, spec.action_dim
    goal.seed = 11
    goal.guidance = math.nan
    goal.write_video = write_video
    if goal_rgb is not None:
        goal.goal_image = rgb_to_image_msg(goal_rgb, ns_to_time(0), "cam")
    return goal


def test_batch_scores_candidates_against_goal_image(shared_engine):
    client = shared_engine.client
    run = client.run(batch_goal(shared_engine, 3, goal_rgb=sample_frame(96, 96), write_video=True), batch=True)
    result = run.wait()
    assert result.error_code == RolloutBatch.Result.OK, result.error_msg
    assert run.status == STATUS.STATUS_SUCCEEDED
    assert len(result.scores) == 3 and all(math.isfinite(s) for s in result.scores)
    assert result.best_index == int(np.argmin(result.scores))
    assert result.num_frames == shared_engine.spec.chunk_size + 1
    assert len(result.mp4_paths) == 3 and len(set(result.mp4_paths)) == 3
    for path in result.mp4_paths:
        frames, _ = read_mp4(path)
        assert frames.shape[0] == result.num_frames
    assert [f.chunks_done for f in run.feedback] == [1]


def test_batch_without_goal_image_has_no_scores(shared_engine):
    result = shared_engine.client.run(batch_goal(shared_engine, 2), batch=True).wait()
    assert result.error_code == RolloutBatch.Result.OK, result.error_msg
    assert list(result.scores) == [] and result.best_index == -1 and list(result.mp4_paths) == []
