"""``mpc_planner`` (the generic one) over real DDS: a robot written here — a yellow square on dark
green, moved by a geometry_msgs/Twist, nothing like PushT — the engine node serving a tiny
block-diffusion model folder, and the planner, which knows neither: it reads the spec from the
engine and its command from parameters. Bad set-ups are refused with the name of what is wrong."""

from __future__ import annotations

import itertools
import os
import subprocess
import sys
import threading
from pathlib import Path
from typing import Any

import numpy as np
import pytest
import rclpy
import yaml
from geometry_msgs.msg import Twist
from rclpy.action import ActionClient
from rclpy.node import Node
from rclpy.parameter import Parameter
from rclpy.qos import DurabilityPolicy, QoSProfile, ReliabilityPolicy
from sensor_msgs.msg import Image
from std_msgs.msg import Bool

from dream_engine_msgs.action import ReachGoal
from dream_engine_msgs.msg import ModelSpec
from dream_engine_ros.ros.command_message import CommandConfigError
from dream_engine_ros.ros.engine_spec import SpecFacts, search_box
from dream_engine_ros.ros.frame_stamps import ns_to_time, time_to_ns
from dream_engine_ros.ros.image_conversion import rgb_to_image_msg
from dream_engine_ros.ros.mpc_planner import GenericMpcPlannerNode
from dream_engine_ros.ros.spinning import SpinningExecutor, wait_for_future, wait_until

REPO = Path(__file__).resolve().parents[2]
WAIT_S = 20.0
RELIABLE = QoSProfile(depth=50, reliability=ReliabilityPolicy.RELIABLE)
LATCHED = QoSProfile(depth=1, reliability=ReliabilityPolicy.RELIABLE, durability=DurabilityPolicy.TRANSIENT_LOCAL)
_ids = itertools.count()
SMALL_SEARCH = {"samples": 8, "elites": 2, "iterations": 2, "horizon": 4, "hold": 2, "execute_steps": 2,
                "budget_steps": 4, "command_type": "geometry_msgs/msg/Twist", "command_fields": "linear.x,linear.y",
                "step_timeout_s": 10.0}


def square_scene(position: np.ndarray, size: int = 32) -> np.ndarray:
    """A dark-green 32 x 32 frame with a 6 x 6 yellow square at `position` (its corner, pixels)."""
    frame = np.zeros((size, size, 3), np.uint8)
    frame[...] = (20, 70, 30)
    x, y = (int(round(v)) for v in position)
    frame[y:y + 6, x:x + 6] = (240, 210, 40)
    return frame


class SquareRobot(Node):
    """Moves its square by each Twist's (linear.x - 5, linear.y - 5) / 2 pixels, then publishes
    goal_reached and a camera frame stamped after the command (it steps on command)."""

    def __init__(self, namespace: str, context: Any, goal: np.ndarray) -> None:
        super().__init__(f"square_robot_{next(_ids)}", namespace=namespace, context=context)
        self.position = np.array([4.0, 4.0])
        self.goal = goal
        self.commands: list[tuple[float, float]] = []
        self._lock = threading.Lock()
        self._camera = self.create_publisher(Image, "image", RELIABLE)
        self._reached = self.create_publisher(Bool, "goal_reached", RELIABLE)
        self.create_subscription(Twist, "cmd", self._on_command, RELIABLE)

    def publish_frame(self) -> None:
        stamp = self.get_clock().now().to_msg()
        self._camera.publish(rgb_to_image_msg(square_scene(self.position), stamp, "square_camera"))

    def _on_command(self, message: Twist) -> None:
        with self._lock:
            self.commands.append((message.linear.x, message.linear.y))
        step = (np.array([message.linear.x, message.linear.y]) - 5.0) / 2.0
        self.position = np.clip(self.position + step, 0.0, 26.0)
        self._reached.publish(Bool(data=bool(np.abs(self.position - self.goal).max() < 1.0)))
        self.publish_frame()


class PlannerRig:
    """The planner in `namespace` (its parameters overridden), a client for its action, the robot."""

    def __init__(self, context: Any, namespace: str, goal: np.ndarray | None = None, **parameters: Any) -> None:
        self.planner = GenericMpcPlannerNode(namespace=namespace, context=context, parameter_overrides=[
            Parameter(name, value=value) for name, value in parameters.items()])
        self.robot = SquareRobot(namespace, context, goal if goal is not None else np.array([18.0, 18.0]))
        self.client = rclpy.create_node(f"planner_client_{next(_ids)}_{os.getpid()}", namespace=namespace,
                                        context=context)
        self.goal_image = self.client.create_publisher(Image, "goal_image", LATCHED)
        self.dreamed: list[Image] = []
        self.client.create_subscription(Image, "mpc_planner/dreamed_plan", self.dreamed.append, RELIABLE)
        self.reach: Any = ActionClient(self.client, ReachGoal, "mpc_planner/reach_goal")
        self.spinners = [SpinningExecutor(node, name=f"{node.get_name()}-spin")
                         for node in (self.planner, self.robot, self.client)]
        assert self.reach.wait_for_server(timeout_sec=WAIT_S)

    def show_first_frame(self) -> None:
        wait_until(lambda: self.robot.count_subscribers(self.robot.resolve_topic_name("image")) > 0, WAIT_S,
                   "the planner's camera subscription")
        self.robot.publish_frame()
        wait_until(lambda: self.planner._sensors.latest_frame() is not None, WAIT_S, "the planner's first frame")

    def latch_goal(self, goal: np.ndarray) -> None:
        self.goal_image.publish(rgb_to_image_msg(square_scene(goal), ns_to_time(0), "square_camera"))
        wait_until(lambda: self.planner._sensors.goal_image is not None, WAIT_S, "the latched goal image")

    def run(self, goal: ReachGoal.Goal) -> tuple[ReachGoal.Result, list[ReachGoal.Feedback]]:
        feedback: list[ReachGoal.Feedback] = []
        handle = wait_for_future(self.reach.send_goal_async(goal, feedback_callback=lambda m: feedback.append(
            m.feedback)), WAIT_S, "reach_goal accepted")
        assert handle is not None and handle.accepted
        response = wait_for_future(handle.get_result_async(), 120.0, "reach_goal result")
        assert response is not None
        return response.result, feedback

    def stop(self) -> None:
        self.planner.shutdown()
        for spinner in reversed(self.spinners):
            spinner.shutdown()
        for node in (self.client, self.robot, self.planner):
            node.destroy_node()


def test_a_square_robot_is_driven_by_a_block_diffusion_folder(make_engine, block_model_folder, ros_context,
                                                              tmp_path) -> None:
    engine = make_engine(spec=str(block_model_folder("square-model")), weights="")
    goal = np.array([18.0, 18.0])
    rig = PlannerRig(ros_context, engine.namespace, goal, output_dir=str(tmp_path / "films"), **SMALL_SEARCH)
    try:
        rig.show_first_frame()
        rig.latch_goal(goal)
        result, feedback = rig.run(ReachGoal.Goal(budget_steps=4, seed=7))
        assert result.error_code == ReachGoal.Result.OK, result.error_msg
        assert result.steps == 4 or (result.success and 0 < result.steps <= 4)
        assert result.replans >= 2 and len(feedback) == result.replans
        assert [f.step for f in feedback][-1] == result.steps
        assert result.seconds_per_replan > 0 and 0 < result.engine_s_per_replan <= result.seconds_per_replan
        assert 0.0 <= result.ros_overhead_fraction < 1.0 and result.total_s >= result.seconds_per_replan
        commands = np.array(rig.robot.commands)
        assert commands.shape == (result.steps, 2)  # one command per step, in the spec's box [0, 10]^2
        assert np.all(commands >= 0.0) and np.all(commands <= 10.0)
        wait_until(lambda: len(rig.dreamed) >= 4 * result.replans, 5.0, "the dreamed plans")  # horizon 4 each
        assert (rig.dreamed[0].height, rig.dreamed[0].width) == (32, 32)
        from dream_engine_ros.video import read_mp4

        frames, fps = read_mp4(result.mp4_path)
        assert frames.shape[:3] == (result.steps, 32, 2 * 32 + 4) and fps == 10.0  # real | dreamed
    finally:
        rig.stop()


def test_without_a_goal_image_the_goal_ends_naming_the_topic(ros_context) -> None:
    namespace = f"/no_goal_{next(_ids)}"
    rig = PlannerRig(ros_context, namespace, **SMALL_SEARCH)
    try:
        result, _ = rig.run(ReachGoal.Goal(budget_steps=2))
        assert result.error_code == ReachGoal.Result.NO_GOAL_IMAGE
        assert f"{namespace}/goal_image" in result.error_msg and result.steps == 0
    finally:
        rig.stop()


def test_a_bad_command_field_stops_the_node_at_start(ros_context) -> None:
    with pytest.raises(CommandConfigError, match=r"^parameter command_fields: 'linear\.q'.*no field 'q'"):
        GenericMpcPlannerNode(namespace="/bad_field", context=ros_context, parameter_overrides=[
            Parameter("command_type", value="geometry_msgs/msg/Twist"),
            Parameter("command_fields", value="linear.q")])


def test_the_entry_point_refuses_a_bad_command_type(tmp_path) -> None:
    """``dream-engine mpc-planner`` exits 2 naming the parameter, without serving anything."""
    command = [sys.executable, "-m", "dream_engine_ros.cli", "mpc-planner", "--namespace", "/bad_type",
               "--ros-args", "-p", "command_type:=geometry_msgs/msg/Twistt"]
    env = dict(os.environ, ROS_LOG_DIR=str(tmp_path / "log"))
    done = subprocess.run(command, env=env, capture_output=True, text=True, timeout=60)
    assert done.returncode == 2, done.stdout + done.stderr
    assert "parameter command_type: 'geometry_msgs/msg/Twistt'" in done.stderr and "Traceback" not in done.stderr


def test_the_shipped_params_file_starts_the_node(ros_context) -> None:
    """config/mpc_planner.yaml: every key is a parameter of the node, loaded with --params-file."""
    path = REPO / "config" / "mpc_planner.yaml"
    shipped = yaml.safe_load(path.read_text())["/**"]["ros__parameters"]
    node = GenericMpcPlannerNode(namespace="/params_file", context=ros_context,
                                 cli_args=["--ros-args", "--params-file", str(path)])
    try:
        for name, value in shipped.items():
            assert node.has_parameter(name), name
            assert node.get_parameter(name).value == value, name
        builtin = {"use_sim_time", "start_type_description_service"}  # every rclpy node's
        unset = {name for name in node._parameters if name not in shipped and name not in builtin}
        assert unset == {"search_low", "search_high", "initial_action"}  # documented there, commented out
    finally:
        node.destroy_node()


def _facts(low: list[float] | None, high: list[float] | None) -> SpecFacts:
    spec = ModelSpec(name="box", action_dim=2, chunk_size=2, fps=10.0, action_low=low or [], action_high=high or [])
    return SpecFacts.from_msg(spec)


def test_the_search_box_is_the_spec_bounds_or_narrower() -> None:
    facts = _facts([0.0, 0.0], [10.0, 10.0])
    low, high = search_box(facts, None, None)
    assert low.tolist() == [0.0, 0.0] and high.tolist() == [10.0, 10.0]
    low, high = search_box(facts, [2.0, 3.0], [])
    assert low.tolist() == [2.0, 3.0] and high.tolist() == [10.0, 10.0]
    with pytest.raises(ValueError, match="leave the spec's action bounds"):
        search_box(facts, [-1.0, 0.0], None)
    with pytest.raises(ValueError, match="search_high has 3 values"):
        search_box(facts, None, [1.0, 2.0, 3.0])
    with pytest.raises(ValueError, match="declares no action bounds: set the parameters search_low and search_high"):
        search_box(_facts(None, None), None, None)
    assert search_box(_facts(None, None), [-1.0, -1.0], [1.0, 1.0])[1].tolist() == [1.0, 1.0]


def test_history_and_warm_start_follow_the_spec_in_rate_mode(ros_context, monkeypatch) -> None:
    """With a spec that reads history (described by a stand-in engine), each replan sends the frames
    before its start frame and the actions between, and starts from the last plan shifted by what
    was executed; in step_mode rate the commands go out at the spec's fps."""
    import time

    from dream_engine_msgs.srv import DescribeModel
    from dream_engine_ros.ros import mpc_planner
    from dream_engine_ros.ros.engine_search import SearchAnswer

    described = DescribeModel.Response(spec=ModelSpec(name="history-model", height=32, width=32, chunk_size=2,
                                                      action_dim=2, fps=20.0, reads_history=True,
                                                      action_low=[0.0, 0.0], action_high=[10.0, 10.0]))
    goals: list[Any] = []
    sent_at: list[float] = []

    def engine_search(client: Any, goal: Any, timeout_s: float, stop: Any) -> SearchAnswer:
        goals.append(goal)
        knots = np.array([len(goals), len(goals) + 2.0])  # replan n: knots n and n + 2, each held 2 steps
        plan = np.stack([np.repeat(knots, 2)] * 2, axis=1).astype(np.float32)
        return SearchAnswer(plan, 1.0, engine_s=0.01, wall_s=0.02)

    monkeypatch.setattr(mpc_planner, "describe_engine", lambda *args, **kwargs: described)
    monkeypatch.setattr(mpc_planner, "run_search", engine_search)
    rig = PlannerRig(ros_context, f"/history_{next(_ids)}", **{**SMALL_SEARCH, "step_mode": "rate", "history": 2})
    rig.planner._engine.wait_for_server = lambda timeout_sec=None: True  # no engine: the stand-in answers
    original_command = rig.planner._send_command
    rig.planner._send_command = lambda action: sent_at.append(time.monotonic()) or original_command(action)
    try:
        rig.show_first_frame()
        rig.latch_goal(np.array([18.0, 18.0]))
        result, _ = rig.run(ReachGoal.Goal(budget_steps=4, seed=1))
        assert result.error_code == ReachGoal.Result.OK, result.error_msg
        assert (result.steps, result.replans, result.success) == (4, 2, False)  # no goal_reached: the whole budget
        assert [len(goal.history_frames) for goal in goals] == [0, 2]
        np.testing.assert_allclose(goals[0].actions, [5.0] * 8)  # the first plan holds the box's centre
        stamps = [time_to_ns(image.header.stamp) for image in [*goals[1].history_frames, goals[1].start_frame]]
        assert stamps == sorted(set(stamps))  # oldest first, the start frame after them
        np.testing.assert_allclose(np.reshape(goals[1].history_actions, (2, 2)), [[1.0, 1.0], [1.0, 1.0]])
        np.testing.assert_allclose(np.reshape(goals[1].actions, (4, 2))[:, 0], [3.0] * 4)  # plan 1 after 2 steps
        assert rig.robot.commands == [(1.0, 1.0), (1.0, 1.0), (2.0, 2.0), (2.0, 2.0)]
        assert sent_at[1] - sent_at[0] >= 0.045 and sent_at[3] - sent_at[2] >= 0.045  # 1 / 20 fps apart
    finally:
        rig.stop()


def test_the_planner_process_serves_and_exits_cleanly_on_sigint(ros_context, tmp_path) -> None:
    """``dream-engine mpc-planner --params-file config/mpc_planner.yaml`` serves ~/reach_goal; SIGINT: exit 0."""
    import signal

    namespace = f"/generic_planner_{os.getpid()}"
    command = [sys.executable, "-m", "dream_engine_ros.cli", "mpc-planner", "--namespace", namespace,
               "--params-file", str(REPO / "config" / "mpc_planner.yaml")]
    env = dict(os.environ, PYTHONUNBUFFERED="1", ROS_LOG_DIR=str(tmp_path / "log"))
    process = subprocess.Popen(command, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    probe = rclpy.create_node(f"generic_planner_probe_{os.getpid()}", context=ros_context)
    spinner = SpinningExecutor(probe, name="probe-spin")
    try:
        reach: Any = ActionClient(probe, ReachGoal, f"{namespace}/mpc_planner/reach_goal")
        assert reach.wait_for_server(timeout_sec=20.0), "the process never served ~/reach_goal"
        process.send_signal(signal.SIGINT)
        output, _ = process.communicate(timeout=15.0)
    finally:
        spinner.shutdown()
        probe.destroy_node()
        if process.poll() is None:
            process.kill()
            process.communicate()
    assert process.returncode == 0, output
    assert "Traceback" not in output and "SIGINT: shutting down" in output, output
