"""``dream-engine demo``: the whole ROS loop on the embedded default spec, in one process.

Starts the engine node, publishes the spec's demo-scene frame (`demo_scenes.py`, registered by
its environment) on the camera topic (10 Hz, fresh stamps), sends a Rollout goal with the
scene's plan that uses the camera frame, prints feedback and the result,
and prints the mp4 path as the very last line (scripts can ``tail -n1``).
"""

from __future__ import annotations

import os
import random
import sys
import tempfile
import time
from pathlib import Path

from dream_engine_ros.defaults import DEFAULT_SPEC

DEMO_NAMESPACE = "/dream_demo"


def isolate_ros_traffic() -> None:
    """Keep the demo's DDS traffic on this machine unless the user chose otherwise."""
    os.environ.setdefault("ROS_AUTOMATIC_DISCOVERY_RANGE", "LOCALHOST")
    os.environ.setdefault("ROS_DOMAIN_ID", str(random.randint(1, 100)))
    os.environ.setdefault("ROS_LOG_DIR", tempfile.mkdtemp(prefix="dream_engine_ros_log_"))


def run_demo(
    spec: str = DEFAULT_SPEC,
    weights: str | None = None,
    device: str = "auto",
    horizon: int = 0,
    seed: int = 0,
    output_dir: str | None = None,
) -> int:
    isolate_ros_traffic()
    import rclpy
    from rclpy.parameter import Parameter
    from rclpy.qos import QoSProfile, ReliabilityPolicy
    from sensor_msgs.msg import Image

    from dream_engine_ros.demo_scenes import demo_start
    from dream_engine_ros.ros.engine_node import DreamEngineNode
    from dream_engine_ros.ros.image_conversion import rgb_to_image_msg
    from dream_engine_ros.ros.planner_example import RolloutPlanner, build_goal, format_feedback, format_result
    from dream_engine_ros.ros.spinning import SpinningExecutor

    began = time.monotonic()
    out_dir = Path(output_dir or Path.cwd() / "out" / "demo").expanduser().resolve()
    try:
        start = demo_start(spec, seed)
    except KeyError as error:
        print(f"[demo] {error.args[0]}: the demo needs a scene of its environment (a start frame and a plan)",
              file=sys.stderr)
        return 1
    rclpy.init()
    engine_node = DreamEngineNode(
        "dream_engine",
        namespace=DEMO_NAMESPACE,
        parameter_overrides=[
            Parameter("spec", Parameter.Type.STRING, spec),
            Parameter("weights", Parameter.Type.STRING, weights or ""),
            Parameter("device", Parameter.Type.STRING, device),
            Parameter("output_dir", Parameter.Type.STRING, str(out_dir)),
        ],
    )
    client_node = rclpy.create_node("demo_planner", namespace=DEMO_NAMESPACE)
    engine_spin = SpinningExecutor(engine_node, name="engine-spin")
    client_spin = SpinningExecutor(client_node, name="client-spin")
    try:
        print(f"[demo] loading spec {spec} ...", flush=True)
        if not engine_node.autostart_if_requested():
            print("[demo] the engine node failed to configure/activate (see the log above)", file=sys.stderr)
            return 1
        camera = client_node.create_publisher(
            Image, f"{DEMO_NAMESPACE}/image", QoSProfile(depth=1, reliability=ReliabilityPolicy.RELIABLE)
        )

        def publish_camera_frame() -> None:
            camera.publish(rgb_to_image_msg(start.rgb, client_node.get_clock().now().to_msg(), "camera"))

        client_node.create_timer(0.1, publish_camera_frame)
        planner = RolloutPlanner(client_node, f"{DEMO_NAMESPACE}/dream_engine")
        if not planner.wait_ready(30.0):
            print("[demo] engine action server did not appear", file=sys.stderr)
            return 1
        described = planner.describe().spec
        steps = horizon or 4 * described.chunk_size
        actions = start.plan(steps)
        time.sleep(0.3)  # let a few camera frames arrive
        print(
            f"[demo] spec {described.name} on {described.device}: {described.height}x{described.width}, "
            f"chunk {described.chunk_size}, {described.fps:g} fps; sending {steps} actions "
            f"(start frame from {DEMO_NAMESPACE}/image)",
            flush=True,
        )
        sent = time.monotonic()
        outcome = planner.run(
            build_goal(actions, seed), on_feedback=lambda f: print(f"[demo] {format_feedback(f)}", flush=True)
        )
        print(f"[demo] {format_result(outcome)}", flush=True)
        if outcome.result is None or outcome.result.error_code != 0 or not outcome.result.mp4_path:
            return 1
        print(
            f"[demo] goal round trip {time.monotonic() - sent:.2f}s, demo wall time {time.monotonic() - began:.2f}s",
            flush=True,
        )
        print(outcome.result.mp4_path, flush=True)
        return 0
    finally:
        client_spin.shutdown()
        engine_spin.shutdown()
        client_node.destroy_node()
        engine_node.destroy_node()
        rclpy.try_shutdown()
