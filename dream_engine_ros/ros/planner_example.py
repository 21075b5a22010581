"""Example planner: sends one Rollout goal to a running node, prints feedback and result.

Run against a node (``dream-engine node`` or the launch file):
    python -m dream_engine_ros.ros.planner_example --node /dream_engine --horizon 24
By default the goal carries no start frame, so the node uses its latest camera frame and
answers NO_START_FRAME when nothing publishes on its ``image`` topic. With
``--render-start-frame`` the spec's demo-scene frame (`demo_scenes.py`, e.g. a rendered PushT
frame) is sent in the goal (no camera needed). The actions are the scene's plan where the spec
has a scene, else zeros. SIGINT or SIGTERM end it at once (exit code 128 + signal), also while it waits
for a node that went away; a goal already sent is canceled first (best effort).
"""

from __future__ import annotations

import argparse
import math
import sys
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TypeVar

import numpy as np
import rclpy
from action_msgs.msg import GoalStatus
from rclpy.action import ActionClient
from rclpy.client import Client
from rclpy.node import Node

from dream_engine_msgs.action import Rollout
from dream_engine_msgs.srv import DescribeModel
from dream_engine_ros.ros.shutdown import init_with_shutdown_signals
from dream_engine_ros.ros.spinning import Interrupted, SpinningExecutor, wait_for_future

STATUS_NAMES = {
    GoalStatus.STATUS_SUCCEEDED: "SUCCEEDED",
    GoalStatus.STATUS_ABORTED: "ABORTED",
    GoalStatus.STATUS_CANCELED: "CANCELED",
}
CANCEL_WAIT_S = 1.0  # how long an interrupted planner waits for the node to confirm its cancel
ERROR_NAMES = {value: name for name, value in vars(Rollout.Result).items() if name.isupper() and isinstance(value, int)}
T = TypeVar("T")


def _completed(value: T | None, what: str) -> T:
    """A future's result; rclpy gives None only for a future that was cancelled."""
    if value is None:
        raise RuntimeError(f"{what}: the future was cancelled")
    return value


@dataclass
class RolloutOutcome:
    accepted: bool
    status: int = GoalStatus.STATUS_UNKNOWN
    result: Rollout.Result | None = None
    feedback: list[Rollout.Feedback] = field(default_factory=list)

    @property
    def error_name(self) -> str:
        return ERROR_NAMES.get(self.result.error_code, "?") if self.result is not None else "REJECTED"


class RolloutPlanner:
    """A tiny client: describe the model, build a goal, run it, collect feedback."""

    def __init__(self, node: Node, engine_node: str = "/dream_engine", stop: threading.Event | None = None) -> None:
        self.node = node
        self.stop = stop or threading.Event()  # set by a shutdown signal: every wait ends with Interrupted
        self.engine_node = engine_node.rstrip("/")
        self.client: ActionClient[Rollout.Goal, Rollout.Result, Rollout.Feedback] = ActionClient(
            node, Rollout, f"{self.engine_node}/rollout"
        )
        self.describe_client: Client[DescribeModel.Request, DescribeModel.Response] = node.create_client(
            DescribeModel, f"{self.engine_node}/describe"
        )

    def wait_ready(self, timeout_s: float) -> bool:
        """Action server and describe service both discovered within ``timeout_s``."""
        deadline = time.monotonic() + timeout_s
        while not (self.client.server_is_ready() and self.describe_client.service_is_ready()):
            if self.stop.wait(0.1):
                raise Interrupted("waiting for the engine: interrupted")
            if time.monotonic() > deadline:
                return False
        return True

    def describe(self, timeout_s: float = 10.0) -> DescribeModel.Response:
        future = self.describe_client.call_async(DescribeModel.Request())
        return _completed(wait_for_future(future, timeout_s, "describe", self.stop), "describe")

    def run(
        self,
        goal: Rollout.Goal,
        on_feedback: Callable[[Rollout.Feedback], None] | None = None,
        timeout_s: float = 600.0,
    ) -> RolloutOutcome:
        outcome = RolloutOutcome(accepted=False)

        def feedback_callback(message: Rollout.Impl.FeedbackMessage) -> None:
            outcome.feedback.append(message.feedback)
            if on_feedback is not None:
                on_feedback(message.feedback)

        goal_handle = _completed(wait_for_future(
            self.client.send_goal_async(goal, feedback_callback=feedback_callback), 30.0, "goal response", self.stop
        ), "goal response")
        if not goal_handle.accepted:
            return outcome
        outcome.accepted = True
        result_future = goal_handle.get_result_async()
        try:
            response = _completed(wait_for_future(result_future, timeout_s, "rollout result", self.stop),
                                  "rollout result")
        except Interrupted:
            cancel = goal_handle.cancel_goal_async()
            try:  # best effort and bounded: the node may be gone
                wait_for_future(cancel, CANCEL_WAIT_S, "cancel response")
            except TimeoutError:
                pass
            raise
        outcome.status = response.status
        outcome.result = response.result
        return outcome


def build_goal(
    actions: np.ndarray,
    seed: int,
    publish_frames: bool = True,
    write_video: bool = True,
    start_frame: object | None = None,
) -> Rollout.Goal:
    """Goal for ``actions`` (T, D); start_frame None = the node's latest camera frame."""
    goal = Rollout.Goal()
    if start_frame is not None:
        goal.start_frame = start_frame
    goal.actions = np.ascontiguousarray(actions, dtype=np.float32).reshape(-1).tolist()
    goal.horizon, goal.action_dim = int(actions.shape[0]), int(actions.shape[1])
    goal.seed = int(seed)
    goal.num_steps = 0
    goal.guidance = math.nan
    goal.publish_frames = publish_frames
    goal.write_video = write_video
    return goal


def format_feedback(feedback: Rollout.Feedback) -> str:
    return (
        f"chunk {feedback.chunks_done}/{feedback.chunks_total}  frames {feedback.frames_done}  "
        f"elapsed {feedback.elapsed_s:.2f}s  eta {feedback.eta_s:.2f}s"
    )


def format_result(outcome: RolloutOutcome) -> str:
    if not outcome.accepted or outcome.result is None:
        return "goal rejected (is the node active?)"
    r = outcome.result
    status = STATUS_NAMES.get(outcome.status, str(outcome.status))
    if r.error_code != Rollout.Result.OK:
        return f"{status}: {outcome.error_name}: {r.error_msg}"
    return (
        f"{status}: {r.num_frames} frames at {r.fps:g} fps from spec {r.spec} (seed {r.seed}); "
        f"engine {r.engine_s:.2f}s (denoise {r.denoise_s:.2f}s), video {r.video_s:.2f}s, total {r.total_s:.2f}s"
    )


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--node", default="/dream_engine", help="fully qualified engine node name")
    parser.add_argument("--horizon", type=int, default=0, help="actions to send (0 = 2 chunks)")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument(
        "--render-start-frame",
        action="store_true",
        help="send the spec's demo-scene frame (e.g. a rendered PushT frame) instead of the node's camera",
    )
    parser.add_argument("--timeout", type=float, default=30.0, help="seconds to wait for the node")
    args = parser.parse_args(argv)

    from dream_engine_ros.demo_scenes import DEMO_SCENES
    from dream_engine_ros.ros.image_conversion import rgb_to_image_msg

    signals = init_with_shutdown_signals()
    node = rclpy.create_node("planner_example")
    spinner = SpinningExecutor(node)
    try:
        planner = RolloutPlanner(node, args.node, stop=signals.event)
        if not planner.wait_ready(args.timeout):
            print(f"no engine at {args.node} (action server / describe not found)", file=sys.stderr)
            return 2
        spec = planner.describe().spec
        horizon = args.horizon or 2 * spec.chunk_size
        start = DEMO_SCENES.get(spec.name)(args.seed) if spec.name in DEMO_SCENES else None
        actions = start.plan(horizon) if start is not None else np.zeros((horizon, spec.action_dim), np.float32)
        start_msg = None
        if args.render_start_frame:
            if start is None:
                print(f"--render-start-frame: spec {spec.name} has no demo scene", file=sys.stderr)
                return 2
            start_msg = rgb_to_image_msg(start.rgb, node.get_clock().now().to_msg(), "camera")
        goal = build_goal(actions, args.seed, start_frame=start_msg)
        print(f"goal: spec {spec.name}, horizon {horizon}, action_dim {spec.action_dim}", flush=True)
        outcome = planner.run(goal, on_feedback=lambda f: print(format_feedback(f), flush=True))
        print(format_result(outcome), flush=True)
        if outcome.result is not None and outcome.result.mp4_path:
            print(outcome.result.mp4_path, flush=True)
        return 0 if outcome.result is not None and outcome.result.error_code == Rollout.Result.OK else 1
    except Interrupted as interrupted:
        name = signals.first_signal.name if signals.first_signal is not None else "signal"
        print(f"{name}: {interrupted}", file=sys.stderr, flush=True)
        return signals.exit_code
    finally:
        spinner.shutdown()
        node.destroy_node()
        rclpy.try_shutdown()


if __name__ == "__main__":
    raise SystemExit(main())
