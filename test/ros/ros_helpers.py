"""Helpers for the ROS tests: an engine node under test and a client that talks to it
over real DDS (separate node, separate executor thread)."""

from __future__ import annotations

import itertools
import math
import os
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import rclpy
from action_msgs.msg import GoalStatus
from rclpy.action import ActionClient
from rclpy.parameter import Parameter
from rclpy.qos import QoSProfile, ReliabilityPolicy
from sensor_msgs.msg import CompressedImage, Image

from dream_engine_msgs.action import Rollout, RolloutBatch
from dream_engine_msgs.srv import DescribeModel
from dream_engine_ros.ros.engine_node import DreamEngineNode
from dream_engine_ros.ros.spinning import SpinningExecutor, wait_for_future, wait_until

SPEC = "pusht-tiny"
# Tests check plumbing, not image quality: few denoising steps keep CPU rollouts short.
FAST_STEPS = 2
# Weights for the test nodes: "" = the spec's shipped weights; a developer can point this
# at another checkpoint directory (same architecture) with DREAM_ENGINE_TEST_WEIGHTS.
TEST_WEIGHTS = os.environ.get("DREAM_ENGINE_TEST_WEIGHTS", "")
_namespaces = itertools.count()


def sample_frame(height: int = 120, width: int = 160) -> np.ndarray:
    """A deterministic RGB image with structure (not the spec's size on purpose)."""
    y, x = np.mgrid[0:height, 0:width]
    return np.stack([(x * 255 // max(1, width - 1)), (y * 255 // max(1, height - 1)), ((x + y) % 256)], -1).astype(
        np.uint8
    )


def pusht_actions(horizon: int, action_dim: int = 2, seed: int = 0) -> np.ndarray:
    rng = np.random.default_rng(seed)
    start = rng.uniform(150, 350, size=action_dim)
    steps = rng.normal(0, 8, size=(horizon, action_dim)).cumsum(axis=0)
    return np.clip(start + steps, 25, 487).astype(np.float32)


def make_goal(
    actions: np.ndarray,
    *,
    start_frame: Image | None = None,
    seed: int = 0,
    num_steps: int = FAST_STEPS,
    publish_frames: bool = False,
    write_video: bool = True,
) -> Rollout.Goal:
    goal = Rollout.Goal()
    if start_frame is not None:
        goal.start_frame = start_frame
    goal.actions = actions.reshape(-1).astype(np.float32).tolist()
    goal.horizon, goal.action_dim = int(actions.shape[0]), int(actions.shape[1])
    goal.seed = seed
    goal.num_steps = num_steps
    goal.guidance = math.nan
    goal.publish_frames = publish_frames
    goal.write_video = write_video
    return goal


@dataclass
class GoalRun:
    """A goal in flight: its handle, the feedback seen so far, and its result when done."""

    handle: Any
    feedback: list[Any] = field(default_factory=list)
    feedback_times: list[float] = field(default_factory=list)
    response: Any = None

    @property
    def accepted(self) -> bool:
        return bool(self.handle.accepted)

    def wait(self, timeout_s: float = 120.0, ask_every_s: float = 30.0) -> Any:
        """The goal's result, asking again every `ask_every_s` when no answer comes.

        Why: the result is a DDS service call too, and right after discovery the server can take the
        request before it has matched the client's response reader; that answer is then lost for
        good (the race `describe` also guards against; seen once in a CI run: a goal of the first
        seconds after the node came up never got its result). The server keeps a finished goal's
        result, so asking again is safe; a goal that never ends still fails after `timeout_s`."""
        deadline = time.monotonic() + timeout_s
        while self.response is None:
            remaining = deadline - time.monotonic()
            try:
                self.response = wait_for_future(self.handle.get_result_async(), min(ask_every_s, max(remaining, 0.0)),
                                                "result")
            except TimeoutError:
                if time.monotonic() >= deadline:
                    raise TimeoutError(f"result not done within {timeout_s:g} s") from None
        return self.response.result

    @property
    def status(self) -> int:
        return self.response.status

    def cancel(self, timeout_s: float = 10.0) -> Any:
        return wait_for_future(self.handle.cancel_goal_async(), timeout_s, "cancel response")


class EngineClient:
    """Client node with action clients, describe client, camera publishers, frame subscriber."""

    def __init__(self, context: Any, namespace: str) -> None:
        self.namespace = namespace
        self.node = rclpy.create_node(f"test_client_{namespace.strip('/')}", context=context)
        base = f"{namespace}/dream_engine"
        self.rollout = ActionClient(self.node, Rollout, f"{base}/rollout")
        self.batch = ActionClient(self.node, RolloutBatch, f"{base}/rollout_batch")
        self.describe_client = self.node.create_client(DescribeModel, f"{base}/describe")
        reliable = QoSProfile(depth=1, reliability=ReliabilityPolicy.RELIABLE)
        self.camera = self.node.create_publisher(Image, f"{namespace}/image", reliable)
        self.camera_compressed = self.node.create_publisher(CompressedImage, f"{namespace}/image/compressed", reliable)
        self._frames_lock = threading.Lock()
        self.predicted: list[tuple[float, Image]] = []
        self.node.create_subscription(
            Image,
            f"{base}/predicted/image",
            self._on_predicted,
            QoSProfile(depth=200, reliability=ReliabilityPolicy.RELIABLE),
        )
        self.spinner = SpinningExecutor(self.node, name="client-spin")

    def _on_predicted(self, msg: Image) -> None:
        with self._frames_lock:
            self.predicted.append((time.monotonic(), msg))

    def predicted_frames(self) -> list[tuple[float, Image]]:
        with self._frames_lock:
            return list(self.predicted)

    def clear_predicted(self) -> None:
        with self._frames_lock:
            self.predicted.clear()

    def wait_ready(self, timeout_s: float = 20.0) -> None:
        assert self.rollout.wait_for_server(timeout_sec=timeout_s), "rollout action server not found"
        assert self.batch.wait_for_server(timeout_sec=timeout_s), "rollout_batch action server not found"
        assert self.describe_client.wait_for_service(timeout_sec=timeout_s), "describe service not found"

    def send(self, goal: Any, batch: bool = False) -> GoalRun:
        client = self.batch if batch else self.rollout
        run = GoalRun(handle=None)

        def on_feedback(message: Any) -> None:
            run.feedback_times.append(time.monotonic())
            run.feedback.append(message.feedback)

        run.handle = wait_for_future(client.send_goal_async(goal, feedback_callback=on_feedback), 20.0, "goal response")
        return run

    def run(self, goal: Any, batch: bool = False, timeout_s: float = 180.0) -> GoalRun:
        run = self.send(goal, batch=batch)
        assert run.accepted, "goal was rejected"
        run.wait(timeout_s)
        return run

    def describe(self, attempts: int = 4, timeout_s: float = 5.0) -> DescribeModel.Response:
        """Call ~/describe, asking again when no answer comes.

        Why: right after discovery a DDS service can take a request before the server has matched
        the client's response reader, and that response is then lost for good (the known ROS 2
        race behind "service call hangs after wait_for_service"). Describe is read-only, so asking
        again is safe; a node that never answers still fails after attempts x timeout_s.
        """
        for attempt in range(1, attempts + 1):
            try:
                return wait_for_future(self.describe_client.call_async(DescribeModel.Request()), timeout_s,
                                       "describe")
            except TimeoutError:
                if attempt == attempts:
                    raise
        raise AssertionError("unreachable")

    def publish_camera(
        self,
        rgb: np.ndarray,
        stamp_ns: int | None = None,
        frame_id: str = "test_camera",
        compressed: bool = False,
        encoding_image: Image | None = None,
    ) -> None:
        from dream_engine_ros.ros.frame_stamps import ns_to_time
        from dream_engine_ros.ros.image_conversion import rgb_to_compressed_msg, rgb_to_image_msg

        now_ns = self.node.get_clock().now().nanoseconds
        stamp = ns_to_time(now_ns if stamp_ns is None else stamp_ns)
        if encoding_image is not None:
            encoding_image.header.stamp = stamp
            self.camera.publish(encoding_image)
        elif compressed:
            self.camera_compressed.publish(rgb_to_compressed_msg(rgb, stamp, frame_id))
        else:
            self.camera.publish(rgb_to_image_msg(rgb, stamp, frame_id))

    def close(self) -> None:
        self.spinner.shutdown()
        self.node.destroy_node()


@dataclass
class EngineUnderTest:
    node: DreamEngineNode
    spinner: SpinningExecutor
    client: EngineClient
    output_dir: Path
    namespace: str

    @classmethod
    def start(cls, context: Any, output_dir: Path, autostart: bool = True, **params: Any) -> EngineUnderTest:
        namespace = f"/t{next(_namespaces)}_{int(time.time() * 1000) % 100000}"
        values = {"spec": SPEC, "weights": TEST_WEIGHTS, "device": "cpu", "output_dir": str(output_dir), **params}
        overrides = [Parameter(name, value=value) for name, value in values.items()]
        node = DreamEngineNode("dream_engine", namespace=namespace, context=context, parameter_overrides=overrides)
        if autostart:
            assert node.autostart_if_requested(), "engine node failed to configure/activate"
        spinner = SpinningExecutor(node, name="engine-spin")
        client = EngineClient(context, namespace)
        client.wait_ready()
        return cls(node, spinner, client, output_dir, namespace)

    @property
    def spec(self) -> Any:
        return self.node.engine.spec

    def mp4_files(self) -> list[Path]:
        return sorted(self.output_dir.glob("*.mp4"))

    def stray_files(self) -> list[Path]:
        """Anything in output_dir that is not a finished mp4 (temp files from a bad write)."""
        return [path for path in self.output_dir.iterdir() if path.suffix != ".mp4"]

    def stop(self) -> None:
        self.client.close()
        self.spinner.shutdown()
        self.node.destroy_node()


def wait_for_camera(engine: EngineUnderTest, timeout_s: float = 5.0) -> None:
    wait_until(lambda: engine.node._camera.peek() is not None, timeout_s, "camera frame in the node's cache")


def wait_until_running(engine: EngineUnderTest, timeout_s: float = 30.0) -> None:
    """A goal holds the node's rollout slot (its worker is inside the engine)."""
    wait_until(lambda: engine.node.goal_running, timeout_s, "a running rollout")


STATUS = GoalStatus
