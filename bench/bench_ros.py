"""What the ROS layer costs on top of the engine.

Prints: goal-to-first-frame latency (goal sent -> first frame on ~/predicted/image),
goal round trip vs a direct ``engine.predict`` on the same engine in the same process
(the ROS overhead), and the wall time of ``dream-engine demo`` as a fresh process.

    python bench/bench_ros.py [--horizon 48] [--repeats 2] [--weights DIR] [--skip-demo]
"""

from __future__ import annotations

import argparse
import math
import os
import random
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

os.environ.setdefault("ROS_AUTOMATIC_DISCOVERY_RANGE", "LOCALHOST")
os.environ.setdefault("ROS_DOMAIN_ID", str(random.randint(1, 100)))
os.environ.setdefault("ROS_LOG_DIR", tempfile.mkdtemp(prefix="bench_ros_log_"))
os.environ.setdefault("SDL_VIDEODRIVER", "dummy")

import numpy as np  # noqa: E402
import rclpy  # noqa: E402
from rclpy.action import ActionClient  # noqa: E402
from rclpy.parameter import Parameter  # noqa: E402
from rclpy.qos import QoSProfile, ReliabilityPolicy  # noqa: E402
from sensor_msgs.msg import Image  # noqa: E402

from dream_engine_msgs.action import Rollout  # noqa: E402
from dream_engine_ros.envs.pusht.ros.start_frame import arc_actions, render_pusht_start  # noqa: E402
from dream_engine_ros.ros.engine_node import DreamEngineNode  # noqa: E402
from dream_engine_ros.ros.image_conversion import rgb_to_image_msg  # noqa: E402
from dream_engine_ros.ros.spinning import SpinningExecutor, wait_for_future  # noqa: E402

NAMESPACE = "/bench_ros"


def direct_run(engine, frame: np.ndarray, actions: np.ndarray, seed: int) -> tuple[float, float]:
    """(seconds to first chunk, seconds total) of a direct engine.predict.

    Runs on a fresh thread, like the node's worker: on an oversubscribed CPU a predict on
    the main thread was measured ~10x slower than on a new thread (OpenMP thread-team
    behaviour), which would make the ROS path look faster than the direct call.
    """
    first: list[float] = []
    timing: list[float] = []

    def work() -> None:
        started = time.monotonic()
        engine.predict(frame, actions, seed=seed, on_chunk=lambda event: first or first.append(time.monotonic()))
        timing.extend([first[0] - started, time.monotonic() - started])

    thread = threading.Thread(target=work)
    thread.start()
    thread.join()
    return timing[0], timing[1]


def ros_run(
    client: ActionClient,
    node,
    frame: np.ndarray,
    actions: np.ndarray,
    seed: int,
    frames_seen: list[float],
    lock: threading.Lock,
) -> tuple[float, float, Rollout.Result]:
    """(seconds to first streamed frame, seconds to result, result) of one Rollout goal."""
    goal = Rollout.Goal()
    goal.start_frame = rgb_to_image_msg(frame, node.get_clock().now().to_msg(), "camera")
    goal.actions = actions.reshape(-1).tolist()
    goal.horizon, goal.action_dim = int(actions.shape[0]), int(actions.shape[1])
    goal.seed, goal.num_steps, goal.guidance = seed, 0, math.nan
    goal.publish_frames, goal.write_video = True, False
    with lock:
        frames_seen.clear()
    started = time.monotonic()
    handle = wait_for_future(client.send_goal_async(goal), 30.0, "goal response")
    response = wait_for_future(handle.get_result_async(), 900.0, "result")
    total = time.monotonic() - started
    deadline = time.monotonic() + 5.0
    while time.monotonic() < deadline:
        with lock:
            if len(frames_seen) >= actions.shape[0] + 1:
                break
        time.sleep(0.01)
    with lock:
        first = frames_seen[0] - started if frames_seen else float("nan")
    return first, total, response.result


def demo_wall_time(weights: str) -> float:
    command = [
        str(Path(sys.executable).with_name("dream-engine")),
        "demo",
        "--output-dir",
        tempfile.mkdtemp(prefix="bench_demo_"),
    ]
    if weights:
        command += ["--weights", weights]
    started = time.monotonic()
    completed = subprocess.run(command, capture_output=True, text=True)
    elapsed = time.monotonic() - started
    if completed.returncode != 0:
        print(completed.stdout[-2000:], completed.stderr[-2000:], file=sys.stderr)
        raise SystemExit("dream-engine demo failed")
    return elapsed


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--spec", default="pusht-tiny")
    parser.add_argument("--weights", default="")
    parser.add_argument("--horizon", type=int, default=48)
    parser.add_argument("--repeats", type=int, default=2)
    parser.add_argument("--skip-demo", action="store_true")
    args = parser.parse_args()

    start = render_pusht_start(0)
    actions = arc_actions(start.agent_xy, args.horizon)
    rclpy.init()
    engine_node = DreamEngineNode(
        "dream_engine",
        namespace=NAMESPACE,
        parameter_overrides=[
            Parameter("spec", value=args.spec),
            Parameter("weights", value=args.weights),
            Parameter("device", value="cpu"),
        ],
    )
    client_node = rclpy.create_node("bench_client", namespace=NAMESPACE)
    frames_seen: list[float] = []
    lock = threading.Lock()

    def on_frame(_: Image) -> None:
        with lock:
            frames_seen.append(time.monotonic())

    client_node.create_subscription(
        Image,
        f"{NAMESPACE}/dream_engine/predicted/image",
        on_frame,
        QoSProfile(depth=200, reliability=ReliabilityPolicy.RELIABLE),
    )
    client = ActionClient(client_node, Rollout, f"{NAMESPACE}/dream_engine/rollout")
    engine_spin = SpinningExecutor(engine_node, name="engine-spin")
    client_spin = SpinningExecutor(client_node, name="client-spin")
    try:
        if not engine_node.autostart_if_requested():
            raise SystemExit("engine node failed to start")
        if not client.wait_for_server(timeout_sec=30):
            raise SystemExit("action server not found")
        engine = engine_node.engine
        warm_up = threading.Thread(
            target=engine.predict, args=(start.rgb, actions[: engine.spec.chunk_size]), kwargs={"num_steps": 1}
        )
        warm_up.start()
        warm_up.join()
        direct, ros = [], []
        for repeat in range(args.repeats):
            direct.append(direct_run(engine, start.rgb, actions, seed=repeat))
            first, total, result = ros_run(client, client_node, start.rgb, actions, repeat, frames_seen, lock)
            if result.error_code != 0:
                raise SystemExit(f"goal failed: {result.error_msg}")
            ros.append((first, total, result.engine_s))
    finally:
        client_spin.shutdown()
        engine_spin.shutdown()
        client_node.destroy_node()
        engine_node.destroy_node()
        rclpy.try_shutdown()

    def median(values: list[float]) -> float:
        return statistics.median(values)

    direct_first, direct_total = median([d[0] for d in direct]), median([d[1] for d in direct])
    ros_first, ros_total, ros_engine = (median([r[i] for r in ros]) for i in range(3))
    print(
        f"spec {args.spec}, horizon {args.horizon} ({args.horizon // 12} chunks), spec-default steps, "
        f"cpu, median of {args.repeats}"
    )
    print(f"direct engine.predict:            first chunk {direct_first:7.3f} s   total {direct_total:7.3f} s")
    print(
        f"ROS Rollout goal (publish frames): first frame {ros_first:7.3f} s   result {ros_total:7.3f} s"
        f"   (engine inside the node {ros_engine:.3f} s)"
    )
    print(
        f"goal-to-first-frame latency:      {ros_first:.3f} s "
        f"(+{ros_first - direct_first:.3f} s over the engine's first chunk)"
    )
    print(
        f"ROS overhead vs direct call:      {ros_total - direct_total:+.3f} s "
        f"({100 * (ros_total - direct_total) / direct_total:+.1f} %); "
        f"goal round trip minus engine time in the node: {ros_total - ros_engine:.3f} s"
    )
    if not args.skip_demo:
        print(f"dream-engine demo wall time:      {demo_wall_time(args.weights):.1f} s (fresh process, incl. load)")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
