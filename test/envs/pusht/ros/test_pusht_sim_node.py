"""``pusht_sim``: the gym-pusht simulator as a robot, driven over real DDS by a separate client
node. The node's trajectory must be the simulator's own, step for step, so a planner driving
it through ROS sees exactly what it would see driving ``PushTRobot`` directly."""

from __future__ import annotations

import itertools
import math
import os
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import pytest
import rclpy
from geometry_msgs.msg import PointStamped
from rclpy.parameter import Parameter
from rclpy.qos import DurabilityPolicy, QoSProfile, ReliabilityPolicy
from sensor_msgs.msg import Image

from dream_engine_msgs.msg import PushTState
from dream_engine_msgs.srv import ResetPushT, SetPushTGoal
from dream_engine_ros.envs.pusht.planning.robot import PushTRobot
from dream_engine_ros.envs.pusht.ros.sim_node import PushTSimNode
from dream_engine_ros.ros.image_conversion import image_msg_to_rgb
from dream_engine_ros.ros.spinning import SpinningExecutor, wait_for_future, wait_until

_namespaces = itertools.count()
WAIT_S = 10.0
START = np.array([100.0, 100.0, 320.0, 300.0, 0.8])  # block turned: exercises exact placement
RELIABLE = QoSProfile(depth=50, reliability=ReliabilityPolicy.RELIABLE)
LATCHED = QoSProfile(depth=1, reliability=ReliabilityPolicy.RELIABLE, durability=DurabilityPolicy.TRANSIENT_LOCAL)


def state_array(msg: PushTState) -> np.ndarray:
    return np.array([msg.agent_x, msg.agent_y, msg.block_x, msg.block_y, msg.block_angle])


class SimClient:
    """Client node: image/state subscriptions, command publisher, reset/set_goal clients."""

    def __init__(self, context: Any, namespace: str) -> None:
        self.context = context
        self.namespace = namespace
        self.node = rclpy.create_node(f"sim_client_{namespace.strip('/')}", context=context)
        self._lock = threading.Lock()
        self.images: list[Image] = []
        self.states: list[PushTState] = []
        self.node.create_subscription(Image, f"{namespace}/image", self._on_image, RELIABLE)
        self.node.create_subscription(PushTState, f"{namespace}/state", self._on_state, RELIABLE)
        self.commands = self.node.create_publisher(
            PointStamped, f"{namespace}/cmd_target", QoSProfile(depth=10, reliability=ReliabilityPolicy.RELIABLE)
        )
        self.reset_client: Any = self.node.create_client(ResetPushT, f"{namespace}/pusht_sim/reset")
        self.goal_client: Any = self.node.create_client(SetPushTGoal, f"{namespace}/pusht_sim/set_goal")
        self.spinner = SpinningExecutor(self.node, name="sim-client-spin")

    def _on_image(self, msg: Image) -> None:
        with self._lock:
            self.images.append(msg)

    def _on_state(self, msg: PushTState) -> None:
        with self._lock:
            self.states.append(msg)

    def received(self) -> tuple[list[Image], list[PushTState]]:
        with self._lock:
            return list(self.images), list(self.states)

    def clear(self) -> None:
        with self._lock:
            self.images.clear()
            self.states.clear()

    def wait_states(self, count: int) -> list[PushTState]:
        wait_until(lambda: len(self.received()[1]) >= count, WAIT_S, f"{count} state messages")
        return self.received()[1]

    def command(self, x: float, y: float) -> None:
        msg = PointStamped()
        msg.point.x, msg.point.y = float(x), float(y)
        self.commands.publish(msg)

    def reset(self, state: Sequence[float] | np.ndarray = (), seed: int = 0) -> ResetPushT.Response:
        request = ResetPushT.Request(state=[float(v) for v in state], seed=seed)
        return wait_for_future(self.reset_client.call_async(request), WAIT_S, "reset")

    def set_goal(self, state: Sequence[float] | np.ndarray) -> SetPushTGoal.Response:
        request = SetPushTGoal.Request(state=[float(v) for v in state])
        return wait_for_future(self.goal_client.call_async(request), WAIT_S, "set_goal")

    def close(self) -> None:
        self.spinner.shutdown()
        self.node.destroy_node()


@dataclass
class SimUnderTest:
    node: PushTSimNode
    spinner: SpinningExecutor
    client: SimClient

    @classmethod
    def start(cls, context: Any, **params: Any) -> SimUnderTest:
        namespace = f"/sim{next(_namespaces)}_{os.getpid()}"
        overrides = [Parameter(name, value=value) for name, value in params.items()]
        node = PushTSimNode(namespace=namespace, context=context, parameter_overrides=overrides)
        spinner = SpinningExecutor(node, name="sim-spin")
        client = SimClient(context, namespace)
        assert client.reset_client.wait_for_service(timeout_sec=WAIT_S), "~/reset not found"
        assert client.goal_client.wait_for_service(timeout_sec=WAIT_S), "~/set_goal not found"
        wait_until(
            lambda: (
                node._state_publisher.get_subscription_count() >= 1
                and node._image_publisher.get_subscription_count() >= 1
                and client.commands.get_subscription_count() >= 1
            ),
            WAIT_S,
            "topics matched",
        )
        return cls(node, spinner, client)

    def stop(self) -> None:
        self.client.close()
        self.spinner.shutdown()
        self.node.destroy_node()


@pytest.fixture(scope="module")
def sim(ros_context):
    """One step_on_command node for the module; every test starts with its own reset."""
    started = SimUnderTest.start(ros_context)
    yield started
    started.stop()


def reset_to(sim: SimUnderTest, state: np.ndarray) -> None:
    """Reset and wait for the step-0 state, so no message of an earlier test is counted later."""
    sim.client.clear()
    assert sim.client.reset(state).success
    wait_until(lambda: any(s.step == 0 for s in sim.client.received()[1]), WAIT_S, "state after reset")
    sim.client.clear()


def test_reset_to_explicit_state_and_random_seed(sim: SimUnderTest) -> None:
    client = sim.client
    client.clear()
    response = client.reset(START)
    assert response.success, response.message
    assert np.allclose(response.state, START, atol=1e-9)  # exact placement, turned block included
    states = client.wait_states(1)
    assert states[-1].step == 0 and not states[-1].has_goal
    assert np.allclose(state_array(states[-1]), START, atol=1e-9)
    wait_until(lambda: len(client.received()[0]) >= 1, WAIT_S, "image after reset")
    image = client.received()[0][-1]
    assert (image.encoding, image.height, image.width, image.header.frame_id) == ("rgb8", 96, 96, "pusht_camera")
    assert image.header.stamp == states[-1].header.stamp

    seeded = [np.array(client.reset(seed=seed).state) for seed in (7, 7, 8)]
    assert np.array_equal(seeded[0], seeded[1])
    assert not np.allclose(seeded[0], seeded[2])
    local = PushTRobot()
    local.env.reset(seed=7)  # the env's own random reset ranges
    assert np.array_equal(seeded[0], local.state)


def test_each_command_is_one_step(sim: SimUnderTest) -> None:
    reset_to(sim, START)
    rng = np.random.default_rng(0)
    targets = np.clip(START[:2] + rng.normal(0, 60, size=(8, 2)).cumsum(axis=0) + [150, 150], 25, 487)
    for x, y in targets:
        sim.client.command(x, y)
    sim.client.wait_states(len(targets))
    wait_until(lambda: len(sim.client.received()[0]) >= len(targets), WAIT_S, "images")
    time.sleep(0.2)  # nothing more may come
    images, states = sim.client.received()
    assert [s.step for s in states] == list(range(1, len(targets) + 1))
    assert len(images) == len(targets)
    assert [i.header.stamp for i in images] == [s.header.stamp for s in states]

    local = PushTRobot()
    local.reset(START)
    for target in targets:
        frame = local.step(target)
    assert np.array_equal(state_array(states[-1]), local.state)
    assert np.array_equal(image_msg_to_rgb(images[-1]), frame)
    assert sim.node.step_count == len(targets)


def test_goal_image_latched_and_goal_reached(sim: SimUnderTest, ros_context) -> None:
    reset_to(sim, START)
    flat = np.array([200.0, 200.0, 300.0, 250.0, 0.0])  # unturned: gym-pusht's own reset is exact here
    response = sim.client.set_goal(flat)
    assert response.success, response.message
    assert np.array_equal(image_msg_to_rgb(response.goal_image), PushTRobot().reset(flat))

    goal = np.array([100.0, 400.0, *START[2:]])  # the block already sits at the goal pose
    response = sim.client.set_goal(goal)
    assert response.success, response.message
    expected = PushTRobot().reset(goal)
    assert np.array_equal(image_msg_to_rgb(response.goal_image), expected)

    late = rclpy.create_node(f"late_goal_listener_{os.getpid()}", context=ros_context)
    received: list[Image] = []
    late.create_subscription(Image, f"{sim.client.namespace}/goal_image", received.append, LATCHED)
    with SpinningExecutor(late, name="late-spin"):
        wait_until(lambda: len(received) >= 1, WAIT_S, "latched goal image")
    late.destroy_node()
    assert len(received) == 1  # depth 1: only the latest goal
    assert np.array_equal(image_msg_to_rgb(received[0]), expected)

    for _ in range(8):  # PD control: within 20 units of y=400 after 5 steps
        sim.client.command(*goal[:2])
    states = sim.client.wait_states(8)
    assert all(s.has_goal for s in states)
    assert not states[0].goal_reached
    assert states[-1].goal_reached
    assert np.array_equal(state_array(states[-1])[2:], goal[2:])  # the block was not touched

    assert sim.client.set_goal([100.0, 400.0, 150.0, 150.0, -1.0]).success  # far block pose
    sim.client.clear()
    sim.client.command(*goal[:2])
    last = sim.client.wait_states(1)[-1]
    assert last.has_goal and not last.goal_reached


def test_bad_input_is_refused_and_node_keeps_serving(sim: SimUnderTest) -> None:
    client = sim.client
    for state, words in (
        ([1.0, 2.0, 3.0, 4.0], "5 values"),
        ([1.0, 2.0, math.nan, 4.0, 0.0], "finite"),
        ([1.0, 2.0, 3.0, 900.0, 0.0], "[0, 512]"),
    ):
        response = client.reset(state)
        assert not response.success and words in response.message, response.message
        response = client.set_goal(state)
        assert not response.success and words in response.message, response.message

    reset_to(sim, START)
    client.command(150.0, 150.0)
    assert [s.step for s in client.wait_states(1)] == [1]
    for x, y in ((math.nan, 100.0), (100.0, math.inf), (600.0, 100.0), (100.0, -1.0)):
        client.command(x, y)
    client.command(160.0, 160.0)
    client.wait_states(2)
    time.sleep(0.2)
    assert [s.step for s in client.received()[1]] == [1, 2]  # the four refused commands did not step
    assert sim.node.step_count == 2


def test_parameters_are_checked_and_read_only(ros_context) -> None:
    with pytest.raises(ValueError, match="rate_hz"):
        PushTSimNode("bad_sim", context=ros_context, parameter_overrides=[Parameter("rate_hz", value=0.0)])
    node = PushTSimNode("ro_sim", context=ros_context, parameter_overrides=[Parameter("image_size", value=32)])
    try:
        assert node.params.image_size == 32
        result = node.set_parameters([Parameter("image_size", value=64)])[0]
        assert not result.successful
    finally:
        node.destroy_node()


def test_timer_mode_steps_on_its_own(ros_context) -> None:
    sim = SimUnderTest.start(ros_context, step_on_command=False, rate_hz=50)
    try:
        reset_to(sim, START)
        states = sim.client.wait_states(5)
        steps = [s.step for s in states[:5]]
        assert steps[0] >= 1 and steps == list(range(steps[0], steps[0] + 5))  # the timer steps, one by one
        assert all(np.allclose(state_array(s), START, atol=1e-9) for s in states)  # holds its place before a command
        sim.client.command(100.0, 300.0)
        wait_until(lambda: sim.client.received()[1][-1].agent_y > 250.0, WAIT_S, "agent moving to the target")
    finally:
        sim.stop()


def test_main_exits_cleanly_on_sigint(ros_context, tmp_path) -> None:
    """The entry point as a real process: serves, then SIGINT ends it with exit code 0."""
    namespace = f"/proc_{os.getpid()}"
    env = dict(os.environ, SDL_VIDEODRIVER="dummy", PYTHONUNBUFFERED="1", ROS_LOG_DIR=str(tmp_path / "log"))
    command = [
        sys.executable,
        "-m",
        "dream_engine_ros.envs.pusht.ros.sim_node",
        "--namespace",
        namespace,
        "--ros-args",
        "-p",
        "start_seed:=3",
    ]
    process = subprocess.Popen(command, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    client = SimClient(ros_context, namespace)
    try:
        assert client.reset_client.wait_for_service(timeout_sec=20.0), "the process never served ~/reset"
        assert client.reset(seed=3).success
        process.send_signal(signal.SIGINT)
        output, _ = process.communicate(timeout=15.0)
    finally:
        client.close()
        if process.poll() is None:
            process.kill()
            process.communicate()
    assert process.returncode == 0, output
    assert "Traceback" not in output and "SIGINT: shutting down" in output, output
