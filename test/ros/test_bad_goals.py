"""Every bad goal is answered with its error code and a message naming the rule, and the
node keeps serving afterwards."""

from __future__ import annotations

import math

import numpy as np
import pytest
from ros_helpers import STATUS, make_goal, pusht_actions, sample_frame, wait_for_camera
from sensor_msgs.msg import Image

from dream_engine_msgs.action import Rollout, RolloutBatch
from dream_engine_ros.ros.image_conversion import rgb_to_image_msg

R = Rollout.Result


def _zero_time():
    from builtin_interfaces.msg import Time

    return Time(sec=1, nanosec=0)


def start_image() -> Image:
    return rgb_to_image_msg(sample_frame(), _zero_time(), "cam")


def run_expecting(client, goal, code: int, *needles: str, batch: bool = False):
    run = client.run(goal, batch=batch)
    result = run.wait()
    assert result.error_code == code, f"expected {code}, got {result.error_code}: {result.error_msg}"
    assert run.status == STATUS.STATUS_ABORTED
    for needle in needles:
        assert needle in result.error_msg, f"{needle!r} not in {result.error_msg!r}"
    assert result.num_frames == 0
    return result


def test_horizon_not_multiple_of_chunk_size(shared_engine):
    chunk = shared_engine.spec.chunk_size
    goal = make_goal(pusht_actions(chunk + 1), start_frame=start_image())
    run_expecting(shared_engine.client, goal, R.INVALID_GOAL, "horizon", f"{chunk + 1}", f"chunk_size {chunk}")


def test_wrong_action_dim(shared_engine):
    spec = shared_engine.spec
    actions = np.zeros((spec.chunk_size, spec.action_dim + 1), np.float32)
    goal = make_goal(actions, start_frame=start_image())
    run_expecting(
        shared_engine.client, goal, R.INVALID_GOAL, "action_dim", f"{spec.action_dim + 1}", f"{spec.action_dim}"
    )


def test_actions_length_differs_from_horizon_times_action_dim(shared_engine):
    spec = shared_engine.spec
    goal = make_goal(pusht_actions(spec.chunk_size), start_frame=start_image())
    goal.actions = goal.actions[:-1]
    expected = spec.chunk_size * spec.action_dim
    run_expecting(shared_engine.client, goal, R.INVALID_GOAL, "actions", f"{expected - 1}", f"{expected}")


@pytest.mark.parametrize("bad_value", [math.nan, math.inf])
def test_non_finite_action(shared_engine, bad_value):
    spec = shared_engine.spec
    actions = pusht_actions(spec.chunk_size)
    actions[2, 0] = bad_value
    goal = make_goal(actions, start_frame=start_image())
    result = run_expecting(shared_engine.client, goal, R.INVALID_GOAL, f"actions has {bad_value} at index (2, 0)",
                           "finite")
    assert "np." not in result.error_msg  # plain values, not numpy's repr


def test_unsupported_start_frame_encoding(shared_engine):
    image = Image(height=4, width=4, encoding="yuv422", step=8, data=bytes(32))
    goal = make_goal(pusht_actions(shared_engine.spec.chunk_size), start_frame=image)
    run_expecting(shared_engine.client, goal, R.INVALID_GOAL, "start_frame.encoding", "yuv422", "rgb8")


def test_truncated_start_frame_data(shared_engine):
    image = rgb_to_image_msg(sample_frame(8, 8), _zero_time(), "cam")
    image.data = bytes(image.data)[:-10]
    goal = make_goal(pusht_actions(shared_engine.spec.chunk_size), start_frame=image)
    run_expecting(shared_engine.client, goal, R.INVALID_GOAL, "start_frame.data")


def test_no_camera_frame_yet(make_engine):
    engine = make_engine()
    goal = make_goal(pusht_actions(engine.spec.chunk_size))
    run_expecting(engine.client, goal, R.NO_START_FRAME, "no camera frame", f"{engine.namespace}/image")


def test_stale_camera_frame(make_engine):
    engine = make_engine(max_frame_age_s=0.5)
    client = engine.client
    ten_seconds_ago = client.node.get_clock().now().nanoseconds - 10_000_000_000
    client.publish_camera(sample_frame(), stamp_ns=ten_seconds_ago)
    wait_for_camera(engine)
    goal = make_goal(pusht_actions(engine.spec.chunk_size))
    run_expecting(client, goal, R.STALE_START_FRAME, "max_frame_age_s=0.5", "old")
    # a fresh frame is accepted by the same node
    client.publish_camera(sample_frame())
    from dream_engine_ros.ros.spinning import wait_until

    wait_until(lambda: engine.node._camera.peek().stamp_ns > ten_seconds_ago, 5.0, "fresh frame")
    result = client.run(make_goal(pusht_actions(engine.spec.chunk_size), write_video=False)).wait()
    assert result.error_code == R.OK, result.error_msg


def test_future_stamped_camera_frame_goes_stale_on_the_node_clock(make_engine):
    """A camera clock an hour fast: the frame is judged by its arrival too (issue 13 item 5)."""
    engine = make_engine(max_frame_age_s=0.5)
    client = engine.client
    an_hour_ahead = client.node.get_clock().now().nanoseconds + 3600 * 1_000_000_000
    client.publish_camera(sample_frame(), stamp_ns=an_hour_ahead)
    wait_for_camera(engine)
    received_ns = engine.node._camera.peek().received_ns
    from dream_engine_ros.ros.spinning import wait_until

    wait_until(lambda: engine.node.get_clock().now().nanoseconds - received_ns > 700_000_000, 5.0, "0.7 s held")
    goal = make_goal(pusht_actions(engine.spec.chunk_size))
    result = run_expecting(client, goal, R.STALE_START_FRAME, "max_frame_age_s=0.5", "old")
    assert result.start_frame_stamp.sec == 0  # no frame was used


def test_unsupported_camera_encoding(make_engine):
    engine = make_engine()
    client = engine.client
    client.publish_camera(None, encoding_image=Image(height=2, width=2, encoding="16UC1", step=4, data=bytes(8)))
    wait_for_camera(engine)
    goal = make_goal(pusht_actions(engine.spec.chunk_size))
    run_expecting(client, goal, R.INVALID_GOAL, "camera image.encoding", "16UC1")


def test_infinite_guidance(shared_engine):
    goal = make_goal(pusht_actions(shared_engine.spec.chunk_size), start_frame=start_image())
    goal.guidance = math.inf
    run_expecting(shared_engine.client, goal, R.INVALID_GOAL, "guidance")


def test_batch_bad_candidate_count(shared_engine):
    spec = shared_engine.spec
    goal = RolloutBatch.Goal()
    goal.start_frame = start_image()
    goal.actions = pusht_actions(spec.chunk_size).reshape(-1).tolist() * 2
    goal.num_candidates, goal.horizon, goal.action_dim = 3, spec.chunk_size, spec.action_dim
    goal.guidance = math.nan
    result = run_expecting(
        shared_engine.client, goal, RolloutBatch.Result.INVALID_GOAL, "num_candidates*horizon*action_dim", batch=True
    )
    assert list(result.scores) == [] and result.best_index == -1


def test_node_keeps_serving_after_bad_goals(shared_engine):
    spec = shared_engine.spec
    bad = make_goal(pusht_actions(spec.chunk_size + 3), start_frame=start_image())
    run_expecting(shared_engine.client, bad, R.INVALID_GOAL)
    good = shared_engine.client.run(
        make_goal(pusht_actions(spec.chunk_size), start_frame=start_image(), write_video=False)
    )
    assert good.wait().error_code == R.OK
    assert good.status == STATUS.STATUS_SUCCEEDED


def test_unwritable_output_dir_is_io_error_and_node_keeps_serving(make_engine):
    engine = make_engine()
    engine.output_dir.rmdir()
    engine.output_dir.write_text("a file where the output directory should be")
    goal = make_goal(pusht_actions(engine.spec.chunk_size), start_frame=start_image())
    result = run_expecting(engine.client, goal, R.IO_ERROR, "could not write", str(engine.output_dir))
    assert result.mp4_path == ""
    engine.output_dir.unlink()
    after = engine.client.run(make_goal(pusht_actions(engine.spec.chunk_size), start_frame=start_image()))
    assert after.wait().error_code == R.OK and len(engine.mp4_files()) == 1


def test_engine_failure_is_engine_error_and_node_keeps_serving(make_engine):
    engine = make_engine()
    engine.node.engine.close()  # the model is gone: the next rollout fails inside the engine
    goal = make_goal(pusht_actions(engine.spec.chunk_size), start_frame=start_image(), write_video=False)
    run_expecting(engine.client, goal, R.ENGINE_ERROR, "engine is closed")
    # a reconfigure brings a fresh model and the node serves again
    node = engine.node
    from rclpy.lifecycle import TransitionCallbackReturn

    assert node.trigger_deactivate() == TransitionCallbackReturn.SUCCESS
    assert node.trigger_cleanup() == TransitionCallbackReturn.SUCCESS
    assert node.autostart_if_requested()
    assert engine.client.run(goal).wait().error_code == R.OK


def batch_of(engine, num_candidates: int, horizon: int, seed: int = 0, num_steps: int = 2) -> RolloutBatch.Goal:
    """A batch goal whose actions match its declared shape (pusht plans, start frame in the goal)."""
    spec = engine.spec
    goal = RolloutBatch.Goal()
    goal.start_frame = start_image()
    goal.actions = np.stack([pusht_actions(horizon, seed=k) for k in range(num_candidates)]).reshape(-1).tolist()
    goal.num_candidates, goal.horizon, goal.action_dim = num_candidates, horizon, spec.action_dim
    goal.seed, goal.num_steps, goal.guidance = seed, num_steps, math.nan
    return goal


def test_huge_batch_is_refused_up_front_naming_max_candidates(shared_engine):
    """K=100000 once ran into MemoryError as ENGINE_ERROR; the node limit refuses it first."""
    spec = shared_engine.spec
    goal = batch_of(shared_engine, 1, spec.chunk_size)
    goal.num_candidates = 100_000  # refused before the (short) actions are even reshaped
    result = run_expecting(
        shared_engine.client, goal, RolloutBatch.Result.INVALID_GOAL,
        "num_candidates 100000 exceeds the node's limit max_candidates=64", batch=True,
    )
    assert result.engine_s == 0.0 and list(result.mp4_paths) == []


def test_work_limits_come_from_parameters_and_describe(make_engine):
    engine = make_engine(max_candidates=2, max_horizon=12, max_num_steps=3)
    client = engine.client
    described = client.describe()
    assert (described.max_candidates, described.max_horizon, described.max_num_steps) == (2, 12, 3)
    RB = RolloutBatch.Result
    run_expecting(client, batch_of(engine, 3, 12), RB.INVALID_GOAL, "max_candidates=2", "num_candidates 3", batch=True)
    run_expecting(client, batch_of(engine, 1, 24), RB.INVALID_GOAL, "max_horizon=12", "horizon 24", batch=True)
    run_expecting(client, batch_of(engine, 1, 12, num_steps=4), RB.INVALID_GOAL, "max_num_steps=3", batch=True)
    too_long = make_goal(pusht_actions(24), start_frame=start_image())
    run_expecting(client, too_long, R.INVALID_GOAL, "horizon 24 exceeds the node's limit max_horizon=12")
    # at every limit at once the batch runs
    result = client.run(batch_of(engine, 2, 12, num_steps=3), batch=True).wait()
    assert result.error_code == RB.OK, result.error_msg


def test_batch_seed_error_names_the_seed_plus_k_rule(shared_engine):
    spec = shared_engine.spec
    top = 2**32 - 2
    run_expecting(
        shared_engine.client, batch_of(shared_engine, 4, spec.chunk_size, seed=top), RolloutBatch.Result.INVALID_GOAL,
        "seed 4294967294 + num_candidates 4 - 1 = 4294967297 must be < 2**32 (candidate k uses seed + k)",
        batch=True,
    )
    # the last candidate may use 2**32 - 1
    result = shared_engine.client.run(batch_of(shared_engine, 2, spec.chunk_size, seed=top), batch=True).wait()
    assert result.error_code == RolloutBatch.Result.OK, result.error_msg
    assert result.seed == top


def test_rollout_seed_beyond_2_pow_32_is_refused_up_front(shared_engine):
    goal = make_goal(pusht_actions(shared_engine.spec.chunk_size), start_frame=start_image(), seed=2**40)
    result = run_expecting(shared_engine.client, goal, R.INVALID_GOAL,
                           "seed 1099511627776 must be an integer in [0, 2**32)")
    assert result.engine_s == 0.0
