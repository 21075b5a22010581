"""Rollout goals end to end over DDS: feedback per chunk, streamed frames, mp4 result."""

from __future__ import annotations

import numpy as np
import pytest
from ros_helpers import STATUS, make_goal, pusht_actions, sample_frame, wait_for_camera

from dream_engine_msgs.action import Rollout
from dream_engine_ros.ros.frame_stamps import time_to_ns
from dream_engine_ros.ros.image_conversion import image_msg_to_rgb, rgb_to_image_msg
from dream_engine_ros.ros.spinning import wait_until
from dream_engine_ros.video import read_mp4


def test_explicit_start_frame_goal_streams_frames_and_writes_mp4(shared_engine):
    engine, client = shared_engine, shared_engine.client
    spec = engine.spec
    horizon = 2 * spec.chunk_size
    start_ns = 1_700_000_000_123_456_789
    from dream_engine_ros.ros.frame_stamps import ns_to_time

    start_msg = rgb_to_image_msg(sample_frame(), ns_to_time(start_ns), "start_cam")
    client.clear_predicted()
    run = client.run(make_goal(pusht_actions(horizon), start_frame=start_msg, seed=3, publish_frames=True))
    result = run.wait()

    assert run.status == STATUS.STATUS_SUCCEEDED, result.error_msg
    assert result.error_code == Rollout.Result.OK and result.error_msg == ""
    assert result.num_frames == horizon + 1
    assert result.fps == pytest.approx(spec.fps)
    assert result.spec == spec.name and result.seed == 3
    assert time_to_ns(result.start_frame_stamp) == start_ns
    assert result.engine_s > 0 and result.total_s >= result.engine_s

    chunks = horizon // spec.chunk_size
    assert [f.chunks_done for f in run.feedback] == list(range(1, chunks + 1))
    assert all(f.chunks_total == chunks for f in run.feedback)
    assert run.feedback[-1].frames_done == horizon + 1
    assert run.feedback[-1].eta_s == pytest.approx(0.0, abs=1e-6)

    frames, fps = read_mp4(result.mp4_path)
    assert frames.shape == (horizon + 1, spec.height, spec.width, 3)
    assert fps == pytest.approx(spec.fps)
    assert engine.stray_files() == []

    wait_until(lambda: len(client.predicted_frames()) >= horizon + 1, 10.0, "all predicted frames")
    received = [msg for _, msg in client.predicted_frames()]
    assert len(received) == horizon + 1
    stamps = [time_to_ns(msg.header.stamp) for msg in received]
    assert stamps == sorted(stamps) and len(set(stamps)) == len(stamps)
    expected = [start_ns + round(k * 1e9 / spec.fps) for k in range(horizon + 1)]
    assert stamps == expected
    assert {msg.header.frame_id for msg in received} == {"start_cam"}
    assert {msg.encoding for msg in received} == {"rgb8"}
    assert (received[0].height, received[0].width) == (spec.height, spec.width)

    # the streamed frames are the video's frames (h.264 is lossy: compare loosely)
    def mean_abs_diff(msg, frame) -> float:
        return float(np.abs(image_msg_to_rgb(msg).astype(np.int16) - frame.astype(np.int16)).mean())

    assert mean_abs_diff(received[0], frames[0]) < 10
    assert mean_abs_diff(received[-1], frames[-1]) < 25


def test_camera_frame_goal_uses_latest_camera_frame(shared_engine):
    engine, client = shared_engine, shared_engine.client
    spec = engine.spec
    camera_stamp_ns = client.node.get_clock().now().nanoseconds
    client.publish_camera(sample_frame(90, 130), stamp_ns=camera_stamp_ns, frame_id="robot_camera")
    wait_for_camera(engine)
    client.clear_predicted()
    run = client.run(make_goal(pusht_actions(spec.chunk_size, seed=1), publish_frames=True, write_video=False))
    result = run.wait()
    assert result.error_code == Rollout.Result.OK, result.error_msg
    assert time_to_ns(result.start_frame_stamp) == camera_stamp_ns
    assert result.mp4_path == ""  # write_video false
    wait_until(lambda: len(client.predicted_frames()) >= spec.chunk_size + 1, 10.0, "predicted frames")
    assert {msg.header.frame_id for _, msg in client.predicted_frames()} == {"robot_camera"}


def test_compressed_camera_frame(make_engine):
    engine = make_engine(camera_compressed=True)
    client = engine.client
    client.publish_camera(sample_frame(64, 64), compressed=True, frame_id="zipped_cam")
    wait_for_camera(engine)
    result = client.run(make_goal(pusht_actions(engine.spec.chunk_size), write_video=False)).wait()
    assert result.error_code == Rollout.Result.OK, result.error_msg
