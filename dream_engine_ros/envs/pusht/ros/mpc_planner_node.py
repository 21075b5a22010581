"""Node ``pusht_mpc_planner``: model-predictive control of the PushT robot through the Dream Engine node.

Its node name stays ``mpc_planner`` (the demo's, the docs' and rviz/mpc.rviz's topics). Any other
robot or model: the generic ``mpc_planner`` entry point (ros/mpc_planner.py).

    camera (image) ──┐                       ┌──► cmd_target (geometry_msgs/PointStamped)
    goal_image ──────┼─► ~/reach_goal ──► CEM ──► dream_engine/rollout_batch (search mode: the plan)
    state ───────────┘   (ReachGoal action)  └──► ~/dreamed_plan (the chosen plan's frames)

One ReachGoal goal runs the receding-horizon loop until the robot reports `goal_reached` or
the step budget is spent:

    1. observe: the latest camera frame, the two before it and the targets commanded between;
    2. plan: CEM over held knots, warm-started from the previous plan shifted by what was
       executed. By default (cost "pusht-state", decode-free; `plan_in_engine`) the whole search
       is one RolloutBatch goal in search mode: the engine runs it next to the model and
       answers with the plan, drawn (parameter `display_plan`). Otherwise every iteration is one
       goal of K candidates scored by the engine (cost "pusht-pose": drawn and read back), and
       a frameless plan is drawn by one more goal;
    3. publish the dreamed plan, then execute its first actions one control step at a time
       (command, wait for the robot's next state and frame);
    4. feedback per replan; the result carries success, steps, seconds per replan, the
       engine's share of them, and the mp4 of the real camera beside the dreamed plan.

The loop runs on a worker thread (see worker_bridge): the executor stays free for camera
frames, robot states and the engine's answers.
"""

from __future__ import annotations

import argparse
import threading
import time
from collections import deque
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, TypeAlias, cast

import numpy as np
from geometry_msgs.msg import PointStamped
from rclpy.action import ActionClient, ActionServer, CancelResponse
from rclpy.action.server import ServerGoalHandle
from rclpy.node import Node
from rclpy.qos import DurabilityPolicy, QoSProfile, ReliabilityPolicy
from sensor_msgs.msg import Image

from dream_engine_msgs.action import ReachGoal, RolloutBatch
from dream_engine_msgs.msg import PushTState
from dream_engine_ros.envs.pusht.costs import POSE, STATE
from dream_engine_ros.envs.pusht.planning.mpc import PlanningController, agent_position
from dream_engine_ros.envs.pusht.planning.scorers import Observation
from dream_engine_ros.envs.pusht.ros.engine_scorer import EngineCallError, EnginePlanner, EngineScorer
from dream_engine_ros.planning.cem import CEMConfig, CrossEntropyPlanner
from dream_engine_ros.ros.image_conversion import ImageConversionError, image_msg_to_rgb, rgb_to_image_msg
from dream_engine_ros.ros.spinning import Interrupted
from dream_engine_ros.ros.worker_bridge import WorkerThreads

ACTION_LOW, ACTION_HIGH = np.zeros(2), np.full(2, 512.0)  # PushT targets, world units
# The reach_goal action's server-side goal handle (quoted: only type checkers read it).
ReachHandle: TypeAlias = "ServerGoalHandle[ReachGoal.Goal, ReachGoal.Result, ReachGoal.Feedback]"


class PlannerFailure(Exception):
    def __init__(self, code: int, message: str) -> None:
        super().__init__(message)
        self.code, self.message = code, message


@dataclass
class Sensors:
    """Latest camera frame, robot state and goal image, with a condition to wait on."""

    condition: threading.Condition = field(default_factory=threading.Condition)
    frames: dict[tuple[int, int], np.ndarray] = field(default_factory=dict)  # by stamp
    state: PushTState | None = None
    goal_image: Image | None = None

    def frame_at(self, stamp: Any) -> np.ndarray | None:
        return self.frames.get((int(stamp.sec), int(stamp.nanosec)))


@dataclass
class ReachOutcome:
    success: bool = False
    steps: int = 0
    replans: int = 0
    plan_s: float = 0.0
    engine_s: float = 0.0
    real: list[np.ndarray] = field(default_factory=list)
    dreamed: list[np.ndarray] = field(default_factory=list)


class MpcPlannerNode(Node):
    """See the module docstring."""

    def __init__(self, node_name: str = "mpc_planner", **kwargs: Any) -> None:
        super().__init__(node_name, **kwargs)
        declare = self.declare_parameter
        shipped = CEMConfig()
        self._engine_name = str(declare("engine", "dream_engine").value)
        self._samples = int(declare("samples", shipped.samples).value)
        self._elites = int(declare("elites", shipped.elites).value)
        self._iterations = int(declare("iterations", shipped.iterations).value)
        self._horizon = int(declare("horizon", shipped.horizon).value)
        self._hold = int(declare("hold", shipped.hold).value)
        self._execute = int(declare("execute_steps", 4).value)
        self._budget = int(declare("budget_steps", 50).value)
        self._history = int(declare("history", 2).value)
        self._step_timeout_s = float(declare("step_timeout_s", 5.0).value)
        self._output_dir = str(declare("output_dir", "").value)
        self._cost = str(declare("cost", "pusht-state").value)
        self._display_plan = bool(declare("display_plan", True).value)
        declare("plan_in_engine", True)  # read per goal: one goal per replan (search mode) or per iteration
        self._cem = CEMConfig(horizon=self._horizon, hold=self._hold, samples=self._samples, elites=self._elites,
                              iterations=self._iterations)
        self._sensors = Sensors()
        self._stop = threading.Event()
        self._workers = WorkerThreads(f"{node_name}-loop")
        reliable = QoSProfile(depth=10, reliability=ReliabilityPolicy.RELIABLE)
        latched = QoSProfile(depth=1, reliability=ReliabilityPolicy.RELIABLE,
                             durability=DurabilityPolicy.TRANSIENT_LOCAL)
        self.create_subscription(Image, "image", self._on_image, reliable)
        self.create_subscription(PushTState, "state", self._on_state, reliable)
        self.create_subscription(Image, "goal_image", self._on_goal_image, latched)
        self._command = self.create_publisher(PointStamped, "cmd_target", reliable)
        self._dreamed = self.create_publisher(Image, "~/dreamed_plan", reliable)
        self._engine: ActionClient[RolloutBatch.Goal, RolloutBatch.Result, RolloutBatch.Feedback] = ActionClient(
            self, RolloutBatch, f"{self._engine_name}/rollout_batch")
        self._server = ActionServer(self, ReachGoal, "~/reach_goal", execute_callback=self._execute_reach,
                                    cancel_callback=lambda _: CancelResponse.ACCEPT)
        agent_position(np.full((96, 96, 3), 255, np.uint8))  # one-off set-up (~0.1-0.3 s) now, not in replan 1

    # ------------------------------------------------------------------ sensors
    def _on_image(self, message: Image) -> None:
        try:
            rgb = image_msg_to_rgb(message, "image")
        except ImageConversionError as error:
            self.get_logger().warning(f"camera frame dropped: {error}")
            return
        with self._sensors.condition:
            self._sensors.frames[(int(message.header.stamp.sec), int(message.header.stamp.nanosec))] = rgb
            while len(self._sensors.frames) > 16:
                self._sensors.frames.pop(next(iter(self._sensors.frames)))
            self._sensors.condition.notify_all()

    def _on_state(self, message: PushTState) -> None:
        with self._sensors.condition:
            self._sensors.state = message
            self._sensors.condition.notify_all()

    def _on_goal_image(self, message: Image) -> None:
        with self._sensors.condition:
            self._sensors.goal_image = message

    def _wait_for(self, ready: Any, what: str, code: int, timeout_s: float) -> Any:
        """Block the worker until `ready()` returns something; PlannerFailure on timeout."""
        deadline = time.monotonic() + timeout_s
        with self._sensors.condition:
            while True:
                value = ready()
                if value is not None:
                    return value
                remaining = deadline - time.monotonic()
                if remaining <= 0 or self._stop.is_set():
                    raise PlannerFailure(code, f"no {what} within {timeout_s:g} s")
                self._sensors.condition.wait(min(remaining, 0.1))

    def _latest_observed(self, min_step: int) -> tuple[PushTState, np.ndarray] | None:
        state = self._sensors.state
        if state is None or state.step < min_step:
            return None
        frame = self._sensors.frame_at(state.header.stamp)
        return None if frame is None else (state, frame)

    # ------------------------------------------------------------------ the action
    async def _execute_reach(self, goal_handle: ReachHandle) -> ReachGoal.Result:
        started = time.perf_counter()
        result = ReachGoal.Result()
        executor = self.executor
        assert executor is not None
        try:
            outcome = cast(ReachOutcome, await self._workers.start(executor, lambda: self._reach(goal_handle)))
        except PlannerFailure as failure:
            result.error_code, result.error_msg = failure.code, failure.message
            goal_handle.canceled() if failure.code == ReachGoal.Result.CANCELED else goal_handle.abort()
            result.total_s = time.perf_counter() - started
            return result
        result.success, result.steps, result.replans = outcome.success, outcome.steps, outcome.replans
        if outcome.replans:
            result.seconds_per_replan = outcome.plan_s / outcome.replans
            result.engine_s_per_replan = outcome.engine_s / outcome.replans
            result.ros_overhead_fraction = max(0.0, 1.0 - outcome.engine_s / outcome.plan_s) if outcome.plan_s else 0.0
        result.mp4_path = self._write_video(outcome, bytes(goal_handle.goal_id.uuid))
        result.total_s = time.perf_counter() - started
        goal_handle.succeed()
        return result

    def _reach(self, goal_handle: ReachHandle) -> ReachOutcome:
        request = goal_handle.request
        budget = int(request.budget_steps) or self._budget
        execute = int(request.execute_steps) or self._execute
        if execute > self._horizon:
            raise PlannerFailure(ReachGoal.Result.INVALID_GOAL,
                                 f"execute_steps {execute} exceeds the planning horizon {self._horizon}")
        with self._sensors.condition:
            goal_image = self._sensors.goal_image
        if goal_image is None:
            raise PlannerFailure(ReachGoal.Result.NO_GOAL_IMAGE, "no goal image received on "
                                 f"{self.resolve_topic_name('goal_image')}")
        if not self._engine.wait_for_server(timeout_sec=10.0):
            raise PlannerFailure(ReachGoal.Result.ENGINE_ERROR, f"engine action {self._engine_name}/rollout_batch "
                                 "is not available")
        state, frame = self._wait_for(lambda: self._latest_observed(0), "robot state with its camera frame",
                                      ReachGoal.Result.NO_CAMERA, self._step_timeout_s)
        if self._cost not in (STATE, POSE):
            raise PlannerFailure(ReachGoal.Result.INVALID_GOAL,
                                 f"parameter cost {self._cost!r} is not {STATE!r} or {POSE!r}")
        frameless = self._cost == STATE
        in_engine = frameless and bool(self.get_parameter("plan_in_engine").value)
        scorer = EngineScorer(self, self._engine, goal_image, seed=int(request.seed), cost=self._cost,
                              return_best_frames=self._display_plan and (in_engine or not frameless), stop=self._stop)
        planner = (EnginePlanner if in_engine else CrossEntropyPlanner)(self._cem, ACTION_LOW, ACTION_HIGH)
        controller = PlanningController("mpc", planner, scorer, execute=execute, seed=int(request.seed))
        past: deque[tuple[np.ndarray, np.ndarray]] = deque(maxlen=self._history)  # (frame, action that left it)
        outcome = ReachOutcome(success=bool(state.goal_reached), real=[frame])
        while outcome.steps < budget and not outcome.success:
            if goal_handle.is_cancel_requested:
                raise PlannerFailure(ReachGoal.Result.CANCELED, "canceled by the client")
            history_frames = np.asarray([f for f, _ in past], dtype=np.uint8).reshape(len(past), *frame.shape)
            history_actions = np.asarray([a for _, a in past], dtype=np.float32).reshape(len(past), 2)
            scorer.reset_timers()
            tic = time.perf_counter()
            try:  # the same planning step as the in-process MPC loop (planning/mpc.py)
                actions = controller.act(Observation(frame, history_frames, history_actions))
                plan = controller.last_plan
                assert plan is not None
                dreamed = scorer.best_frames
                if frameless and self._display_plan and not in_engine:
                    dreamed = scorer.render(plan.actions)
            except EngineCallError as error:
                raise PlannerFailure(ReachGoal.Result.ENGINE_ERROR, str(error)) from error
            except (Interrupted, TimeoutError) as error:
                raise PlannerFailure(ReachGoal.Result.ENGINE_ERROR, f"engine call did not finish: {error}") from error
            outcome.plan_s += time.perf_counter() - tic
            outcome.engine_s += scorer.engine_s
            outcome.replans += 1
            for image in dreamed[1:]:
                self._dreamed.publish(rgb_to_image_msg(image, self.get_clock().now().to_msg(), "pusht_camera"))
            for i, action in enumerate(actions[:budget - outcome.steps]):
                past.append((frame, action))
                state, frame = self._command_and_wait(action, int(state.step) + 1)
                outcome.steps += 1
                outcome.real.append(frame)
                outcome.dreamed.append(dreamed[i + 1] if i + 1 < len(dreamed) else np.zeros_like(frame))
                if state.goal_reached:
                    outcome.success = True
                    break
            feedback = ReachGoal.Feedback()
            feedback.step, feedback.replan = outcome.steps, outcome.replans
            feedback.best_cost = float(plan.cost)
            feedback.seconds_per_replan = outcome.plan_s / outcome.replans
            goal_handle.publish_feedback(feedback)
        return outcome

    def _command_and_wait(self, action: np.ndarray, step: int) -> tuple[PushTState, np.ndarray]:
        command = PointStamped()
        command.header.stamp = self.get_clock().now().to_msg()
        command.header.frame_id = "pusht_world"
        command.point.x, command.point.y = float(action[0]), float(action[1])
        self._command.publish(command)
        return cast(tuple[PushTState, np.ndarray], self._wait_for(
            lambda: self._latest_observed(step), f"robot step {step}", ReachGoal.Result.ROBOT_ERROR,
            self._step_timeout_s))

    def _write_video(self, outcome: ReachOutcome, goal_id: bytes) -> str:
        """Real camera (left) beside the frame the plan in force dreamed for that step (right)."""
        if not self._output_dir or not outcome.dreamed:
            return ""
        from dream_engine_ros.video import write_mp4

        real = np.stack(outcome.real[1:])
        dreamed = np.stack(outcome.dreamed)
        gap = np.full((real.shape[0], real.shape[1], 4, 3), 255, np.uint8)
        path = Path(self._output_dir).expanduser() / f"reach_goal_{goal_id.hex()[:12]}.mp4"
        try:
            path.parent.mkdir(parents=True, exist_ok=True)
            write_mp4(path, np.concatenate([real, gap, dreamed], axis=2), 10.0)
        except (OSError, ValueError) as error:
            self.get_logger().error(f"could not write {path}: {error}")
            return ""
        return str(path)

    def shutdown(self, timeout_s: float = 10.0) -> bool:
        """Stop a running loop (its goal ends with ENGINE_ERROR or CANCELED) and join it."""
        self._stop.set()
        return self._workers.join(timeout_s)


def run_planner_with_args(args: argparse.Namespace) -> int:
    """Spin the planner until SIGINT/SIGTERM; a running ReachGoal loop is stopped (its goal
    ends) before the node goes. Exit 0 after a signal, 2 for a missing params file."""
    from dream_engine_ros.ros.node_main import run_until_signal

    return run_until_signal(args, lambda cli_args: MpcPlannerNode(
        args.name, namespace=args.namespace or None, cli_args=cli_args), "pusht_mpc_planner")


def main(argv: list[str] | None = None) -> int:
    """Entry point ``pusht_mpc_planner`` (``ros2 run dream_engine_ros pusht_mpc_planner``)."""
    import sys

    from dream_engine_ros.envs.pusht.ros.node_args import add_planner_arguments

    parser = argparse.ArgumentParser(prog="pusht_mpc_planner", description=__doc__.splitlines()[0])
    add_planner_arguments(parser)
    return run_planner_with_args(parser.parse_args(sys.argv[1:] if argv is None else argv))


if __name__ == "__main__":
    raise SystemExit(main())
