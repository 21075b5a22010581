"""A running RolloutBatch stops within ~1 s on cancel, preemption and deactivation, whatever
stage it is in (denoise, per-candidate decode, still re-encode, scoring, mp4 writes)."""

from __future__ import annotations

import math
import time

import numpy as np
from ros_helpers import STATUS, EngineUnderTest, GoalRun, make_goal, pusht_actions, sample_frame

from dream_engine_msgs.action import RolloutBatch
from dream_engine_ros.ros.frame_stamps import ns_to_time
from dream_engine_ros.ros.image_conversion import rgb_to_image_msg
from dream_engine_ros.ros.spinning import wait_for_future, wait_until

R = RolloutBatch.Result
CANDIDATES, HORIZON = 6, 48
ANSWER_WITHIN_S = 1.5
AFTER_FIRST_FEEDBACK_S = 1.0


def big_batch(spec) -> RolloutBatch.Goal:
    """6 candidates x 48 steps with the spec's own sampling: most of its time is decoding and
    re-encoding per candidate, where the denoising-step check alone never looked."""
    candidates = np.stack([pusht_actions(HORIZON, seed=k) for k in range(CANDIDATES)])
    goal = RolloutBatch.Goal()
    goal.start_frame = rgb_to_image_msg(sample_frame(), ns_to_time(7), "cam")
    goal.actions = candidates.reshape(-1).tolist()
    goal.num_candidates, goal.horizon, goal.action_dim = CANDIDATES, HORIZON, spec.action_dim
    goal.num_steps = 0
    goal.guidance = math.nan
    goal.goal_image = rgb_to_image_msg(sample_frame(96, 96), ns_to_time(0), "cam")
    goal.write_video = True
    return goal


def start_batch(engine: EngineUnderTest):
    run = engine.client.send(big_batch(engine.spec), batch=True)
    assert run.accepted
    result_future = run.handle.get_result_async()
    wait_until(lambda: len(run.feedback) >= 1, 120.0, "first batch feedback")
    time.sleep(AFTER_FIRST_FEEDBACK_S)
    return run, result_future


def result_after(run: GoalRun, result_future, since: float):
    response = wait_for_future(result_future, 30.0, "batch result")
    run.response = response
    return response.result, time.monotonic() - since


def test_cancel_of_a_running_batch_is_answered_within_a_second(make_engine):
    engine = make_engine()
    run, result_future = start_batch(engine)
    chunks_at_cancel = len(run.feedback)
    sent = time.monotonic()
    response = run.cancel()
    assert len(response.goals_canceling) == 1
    result, latency = result_after(run, result_future, sent)
    print(f"cancel answered in {latency:.2f} s after {chunks_at_cancel} chunk(s)")
    assert run.status == STATUS.STATUS_CANCELED and result.error_code == R.CANCELED, result.error_msg
    assert chunks_at_cancel < HORIZON // engine.spec.chunk_size, "the batch ended before the cancel"
    assert latency < ANSWER_WITHIN_S, latency
    assert list(result.mp4_paths) == [] and list(result.scores) == []
    assert engine.mp4_files() == [] and engine.stray_files() == []


def test_preempting_goal_stops_a_running_batch_within_a_second(make_engine):
    engine = make_engine(busy_policy="preempt")
    run, result_future = start_batch(engine)
    sent = time.monotonic()
    start = rgb_to_image_msg(sample_frame(), ns_to_time(9), "cam")
    newer = engine.client.send(make_goal(pusht_actions(engine.spec.chunk_size), start_frame=start, write_video=False))
    chunks_at_preempt = len(run.feedback)
    result, latency = result_after(run, result_future, sent)
    assert chunks_at_preempt < HORIZON // engine.spec.chunk_size, "the batch ended before the newer goal came"
    print(f"preemption answered in {latency:.2f} s")
    assert result.error_code == R.PREEMPTED, result.error_msg
    assert latency < ANSWER_WITHIN_S, latency
    assert newer.wait(60.0).error_code == 0
    assert engine.mp4_files() == [] and engine.stray_files() == []


def test_deactivate_during_a_batch_returns_within_a_second(make_engine):
    from rclpy.lifecycle import TransitionCallbackReturn

    engine = make_engine()
    run, result_future = start_batch(engine)
    sent = time.monotonic()
    assert engine.node.trigger_deactivate() == TransitionCallbackReturn.SUCCESS
    transition_s = time.monotonic() - sent
    assert len(run.feedback) < HORIZON // engine.spec.chunk_size, "the batch ended before the deactivation"
    result, latency = result_after(run, result_future, sent)
    print(f"deactivate returned in {transition_s:.2f} s, result after {latency:.2f} s")
    assert result.error_code == R.NOT_ACTIVE, result.error_msg
    assert transition_s < ANSWER_WITHIN_S and latency < ANSWER_WITHIN_S, (transition_s, latency)
    assert engine.mp4_files() == [] and engine.stray_files() == []
