"""~/predicted/image reaches a best-effort depth-5 subscriber (sensor-data QoS) frame for
frame: the pacer spaces frames instead of publishing each chunk as one burst."""

from __future__ import annotations

import threading
import time

import numpy as np
from rclpy.qos import qos_profile_sensor_data
from ros_helpers import make_goal, pusht_actions, sample_frame
from sensor_msgs.msg import Image

from dream_engine_msgs.action import Rollout
from dream_engine_ros.ros.frame_stamps import ns_to_time, time_to_ns
from dream_engine_ros.ros.image_conversion import rgb_to_image_msg
from dream_engine_ros.ros.spinning import wait_until

HORIZON = 48


def test_best_effort_depth5_subscriber_receives_every_frame_at_the_spec_rate(make_engine):
    engine = make_engine()  # predicted_rate_hz default: the spec's fps
    spec, node = engine.spec, engine.client.node
    assert qos_profile_sensor_data.depth == 5
    lock = threading.Lock()
    arrivals: list[tuple[float, int]] = []

    def on_frame(msg: Image) -> None:
        with lock:
            arrivals.append((time.monotonic(), time_to_ns(msg.header.stamp)))

    subscription = node.create_subscription(
        Image, f"{engine.namespace}/dream_engine/predicted/image", on_frame, qos_profile_sensor_data
    )
    wait_until(lambda: subscription.get_publisher_count() >= 1, 10.0, "predicted publisher matched")
    time.sleep(0.5)  # let both sides finish matching
    start_ns = 5_000_000_000
    start = rgb_to_image_msg(sample_frame(), ns_to_time(start_ns), "cam")
    run = engine.client.run(make_goal(pusht_actions(HORIZON), start_frame=start, publish_frames=True,
                                      write_video=False))
    result = run.wait()
    assert result.error_code == Rollout.Result.OK, result.error_msg
    result_at = time.monotonic()
    wait_until(lambda: len(arrivals) >= HORIZON + 1, 5.0, "every predicted frame")
    time.sleep(0.3)
    with lock:
        times, stamps = zip(*arrivals, strict=True)
    print(f"received {len(stamps)} of {HORIZON + 1} frames; spacing min {np.diff(times).min():.3f} s, "
          f"median {np.median(np.diff(times)):.3f} s; stream took {times[-1] - times[0]:.2f} s")
    assert list(stamps) == [start_ns + round(k * 1e9 / spec.fps) for k in range(HORIZON + 1)]
    assert times[-1] <= result_at + 0.05, "the result came before the last frame"
    period = 1.0 / spec.fps
    assert np.median(np.diff(times)) > 0.8 * period  # paced, not bursts
    assert times[-1] - times[0] > 0.9 * HORIZON * period
    node.destroy_subscription(subscription)


def test_unpaced_stream_still_carries_every_frame_to_a_deep_reliable_subscriber(make_engine):
    """predicted_rate_hz < 0: chunk bursts (the old behaviour), for users who want frames at once."""
    engine = make_engine(predicted_rate_hz=-1.0)
    client = engine.client
    client.clear_predicted()
    run = client.run(make_goal(pusht_actions(24), start_frame=rgb_to_image_msg(sample_frame(), ns_to_time(1), "c"),
                               publish_frames=True, write_video=False))
    assert run.wait().error_code == Rollout.Result.OK
    wait_until(lambda: len(client.predicted_frames()) >= 25, 5.0, "every predicted frame")
    frames = client.predicted_frames()
    assert len(frames) == 25
    # unpaced = one burst per decoded chunk: within a burst the frames are not spaced by the
    # 10 fps period (the rollout's own time goes between the bursts, whatever the CPU's speed)
    gaps = np.diff([arrived for arrived, _ in frames])
    assert np.median(gaps) < 0.2 / engine.spec.fps, f"frames were spaced like a paced stream: {gaps.round(3)}"
