"""``pusht_mpc_planner``: a short closed loop over real DDS — the simulated robot, the engine node
(pusht-structured, search mode) and the planner — ends with a result; bad planner goals get
clear error codes and the planner keeps serving."""

from __future__ import annotations

import itertools
import os
import signal
import subprocess
import sys
import threading
from typing import Any

import numpy as np
import pytest
import rclpy
from geometry_msgs.msg import PointStamped
from rclpy.action import ActionClient
from rclpy.parameter import Parameter
from rclpy.qos import QoSProfile, ReliabilityPolicy
from ros_helpers import EngineUnderTest
from sensor_msgs.msg import Image

from dream_engine_msgs.action import ReachGoal
from dream_engine_msgs.srv import ResetPushT, SetPushTGoal
from dream_engine_ros.envs.pusht.planning.tasks import reach_tasks
from dream_engine_ros.envs.pusht.ros.mpc_planner_node import MpcPlannerNode
from dream_engine_ros.envs.pusht.ros.sim_node import PushTSimNode
from dream_engine_ros.ros.spinning import SpinningExecutor, wait_for_future, wait_until

_ids = itertools.count()
WAIT_S = 20.0


class Loop:
    """Engine + simulator + planner in one namespace, and a client node that drives them."""

    def __init__(self, context: Any, output_dir: str) -> None:
        self.engine = EngineUnderTest.start(context, output_dir=output_dir, spec="pusht-structured")
        ns = self.engine.namespace
        self.sim = PushTSimNode(namespace=ns, context=context)
        self.planner = MpcPlannerNode(namespace=ns, context=context, parameter_overrides=[
            Parameter("samples", value=6), Parameter("elites", value=2), Parameter("iterations", value=2),
            Parameter("execute_steps", value=3), Parameter("output_dir", value=output_dir)])
        self.client = rclpy.create_node(f"loop_client_{next(_ids)}_{os.getpid()}", context=context)
        self.spinners = [SpinningExecutor(n, name=f"{n.get_name()}-spin") for n in (self.sim, self.planner,
                                                                                     self.client)]
        self.reset: Any = self.client.create_client(ResetPushT, f"{ns}/pusht_sim/reset")
        self.set_goal: Any = self.client.create_client(SetPushTGoal, f"{ns}/pusht_sim/set_goal")
        self.reach: Any = ActionClient(self.client, ReachGoal, f"{ns}/mpc_planner/reach_goal")
        self.dreamed: list[Image] = []
        self._lock = threading.Lock()
        self.client.create_subscription(Image, f"{ns}/mpc_planner/dreamed_plan", self._on_dreamed,
                                        QoSProfile(depth=100, reliability=ReliabilityPolicy.RELIABLE))
        self.commands: list[tuple[float, float]] = []
        self.client.create_subscription(PointStamped, f"{ns}/cmd_target", self._on_command,
                                        QoSProfile(depth=100, reliability=ReliabilityPolicy.RELIABLE))
        assert self.reset.wait_for_service(timeout_sec=WAIT_S) and self.set_goal.wait_for_service(timeout_sec=WAIT_S)
        assert self.reach.wait_for_server(timeout_sec=WAIT_S)

    def _on_dreamed(self, message: Image) -> None:
        with self._lock:
            self.dreamed.append(message)

    def _on_command(self, message: PointStamped) -> None:
        with self._lock:
            self.commands.append((message.point.x, message.point.y))

    def commands_during(self, goal: ReachGoal.Goal) -> tuple[ReachGoal.Result, list[tuple[float, float]]]:
        """Run `goal`; the targets the planner commanded meanwhile."""
        with self._lock:
            self.commands.clear()
        result, _ = self.run(goal)
        wait_until(lambda: len(self.commands) >= result.steps, 5.0, "the commanded targets")
        with self._lock:
            return result, list(self.commands)

    def place(self, start: np.ndarray, goal: np.ndarray | None) -> None:
        if goal is not None:
            assert wait_for_future(self.set_goal.call_async(SetPushTGoal.Request(state=goal.tolist())), WAIT_S).success
        assert wait_for_future(self.reset.call_async(ResetPushT.Request(state=start.tolist())), WAIT_S).success
        wait_until(lambda: self.planner._sensors.state is not None and self.planner._sensors.state.step == 0
                   and self.planner._latest_observed(0) is not None, WAIT_S, "planner saw the reset")

    def run(self, goal: ReachGoal.Goal) -> tuple[ReachGoal.Result, list[ReachGoal.Feedback]]:
        feedback: list[ReachGoal.Feedback] = []
        handle = wait_for_future(self.reach.send_goal_async(goal, feedback_callback=lambda m: feedback.append(
            m.feedback)), WAIT_S)
        assert handle is not None and handle.accepted
        response = wait_for_future(handle.get_result_async(), 180.0)
        assert response is not None
        return response.result, feedback

    def stop(self) -> None:
        self.planner.shutdown()
        for spinner in reversed(self.spinners):
            spinner.shutdown()
        for node in (self.client, self.planner, self.sim):
            node.destroy_node()
        self.engine.stop()


@pytest.fixture(scope="module")
def loop(ros_context, tmp_path_factory):
    started = Loop(ros_context, str(tmp_path_factory.mktemp("mpc")))
    yield started
    started.stop()


def test_without_goal_image_the_planner_says_so(loop: Loop) -> None:
    task = reach_tasks(1, seed=4242)[0]
    loop.place(task.start, None)
    result, _ = loop.run(ReachGoal.Goal(budget_steps=3))
    assert result.error_code == ReachGoal.Result.NO_GOAL_IMAGE, result.error_msg
    assert "goal_image" in result.error_msg


def test_short_closed_loop_ends_with_a_result(loop: Loop) -> None:
    task = reach_tasks(1, seed=4242)[0]
    loop.place(task.start, task.goal)
    result, feedback = loop.run(ReachGoal.Goal(budget_steps=6, seed=3))
    assert result.error_code == ReachGoal.Result.OK, result.error_msg
    assert result.steps == 6 and result.replans == 2 and len(feedback) == 2
    assert [f.step for f in feedback] == [3, 6]
    assert result.seconds_per_replan > 0 and 0 < result.engine_s_per_replan <= result.seconds_per_replan
    assert 0.0 <= result.ros_overhead_fraction < 0.5
    assert loop.sim._step == 6  # the robot executed exactly the planned steps
    wait_until(lambda: len(loop.dreamed) >= 2 * 12, 5.0, "dreamed plans on ~/dreamed_plan")
    from dream_engine_ros.video import read_mp4

    frames, fps = read_mp4(result.mp4_path)
    assert frames.shape[0] == 6 and frames.shape[2] == 2 * 96 + 4 and fps == 10.0  # real | dreamed

    bad, _ = loop.run(ReachGoal.Goal(budget_steps=6, execute_steps=25))  # the horizon is 24
    assert bad.error_code == ReachGoal.Result.INVALID_GOAL and "horizon" in bad.error_msg


def test_one_goal_per_iteration_plans_as_one_goal_per_replan(loop: Loop) -> None:
    """plan_in_engine false: the planner runs the search and sends one scoring goal per
    iteration (plus one drawing); the same seeds give the same commanded plan as search mode."""
    task = reach_tasks(1, seed=4242)[0]
    commanded: dict[bool, list[tuple[float, float]]] = {}
    for in_engine in (True, False):
        loop.planner.set_parameters([Parameter("plan_in_engine", value=in_engine)])
        loop.place(task.start, task.goal)
        result, seen = loop.commands_during(ReachGoal.Goal(budget_steps=3, seed=5))
        assert result.error_code == ReachGoal.Result.OK, result.error_msg
        assert result.steps == 3 and result.replans == 1
        commanded[in_engine] = seen
    loop.planner.set_parameters([Parameter("plan_in_engine", value=True)])
    np.testing.assert_allclose(commanded[True], commanded[False], atol=1e-3)


@pytest.mark.parametrize("signum", [signal.SIGINT, signal.SIGTERM])
def test_planner_process_exits_cleanly_on_a_signal(ros_context, tmp_path, signum: int) -> None:
    """``dream-engine pusht-mpc-planner`` as a real process: serves ~/reach_goal, a signal ends it with 0."""
    namespace = f"/planner_{os.getpid()}_{int(signum)}"
    env = dict(os.environ, PYTHONUNBUFFERED="1", ROS_LOG_DIR=str(tmp_path / "log"))
    command = [sys.executable, "-m", "dream_engine_ros.cli", "pusht-mpc-planner", "--namespace", namespace,
               "--ros-args", "-p", "samples:=8"]
    process = subprocess.Popen(command, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    client = rclpy.create_node(f"planner_probe_{os.getpid()}_{int(signum)}", context=ros_context)
    spinner = SpinningExecutor(client, name="probe-spin")
    try:
        reach: Any = ActionClient(client, ReachGoal, f"{namespace}/mpc_planner/reach_goal")
        assert reach.wait_for_server(timeout_sec=20.0), "the process never served ~/reach_goal"
        process.send_signal(signum)
        output, _ = process.communicate(timeout=15.0)
    finally:
        spinner.shutdown()
        client.destroy_node()
        if process.poll() is None:
            process.kill()
            process.communicate()
    assert process.returncode == 0, output
    assert "Traceback" not in output and f"{signal.Signals(signum).name}: shutting down" in output, output
