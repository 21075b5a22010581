"""Node ``mpc_planner``: model-predictive control of any robot through the Dream Engine node.

    image (camera) ──┐                          ┌──► command_topic (command_type: command_fields)
    goal_image ──────┼─► ~/reach_goal ──► loop ─┼──► <engine>/rollout_batch (search mode: the plan)
    goal_reached ────┘   (ReachGoal action)     └──► ~/dreamed_plan (the plan's frames)

What it needs from the robot: a camera (sensor_msgs/Image on ``image``), a command topic whose
message carries one action in numeric fields (``command_topic``, ``command_type``,
``command_fields``: ``ros/command_message.py``) and, optionally, a std_msgs/Bool on
``goal_reached`` (the robot or an environment plug-in says when the goal is reached). The goal
is an image, latched on ``goal_image``. Nothing here knows a scene: the action size, bounds and
rate, the chunk and whether goals carry history are the served model's, from the engine's
~/describe, asked once per goal (`ros/engine_spec.py`).

One ReachGoal goal runs the receding-horizon loop:

    1. describe the engine; check the goal's settings against its spec (INVALID_GOAL names them);
    2. observe: the latest camera frame, and where the spec reads history the frames before it
       and the actions that led from each to the next;
    3. plan: one RolloutBatch goal in search mode (`ros/engine_search.py`), started from the last
       plan shifted by what was executed (the first from ``initial_action`` held, by default the
       centre of the search box); cost ``cost``, "" = the model's default ("latent-goal", decode-free,
       where the model rolls out that way);
    4. publish the dreamed plan (``display_plan``), then execute its first ``execute_steps`` actions
       (``step_mode``: `ros/command_stepping.py`);
    5. feedback per replan; until goal_reached says true or ``budget_steps`` are spent.

Success is the robot's word: without a goal_reached publisher the loop spends its whole budget
and the result's success is false. The result carries steps, replans, seconds per replan, the
engine's share, and with ``output_dir`` the mp4 of the real camera beside the dreamed plan.

The loop runs on a worker thread (`worker_bridge`): the executor stays free for camera frames,
goal_reached and the engine's answers.
"""

from __future__ import annotations

import argparse
import threading
import time
from collections import deque
from dataclasses import dataclass, field
from functools import partial
from pathlib import Path
from typing import Any, TypeAlias

import numpy as np
from rclpy.action import ActionClient, ActionServer, CancelResponse
from rclpy.action.server import ServerGoalHandle
from rclpy.client import Client
from rclpy.node import Node
from rclpy.qos import DurabilityPolicy, QoSProfile, ReliabilityPolicy
from sensor_msgs.msg import Image
from std_msgs.msg import Bool

from dream_engine_msgs.action import ReachGoal, RolloutBatch
from dream_engine_msgs.srv import DescribeModel
from dream_engine_ros.planning.cem import SEARCH_SEEDS, CrossEntropyPlanner
from dream_engine_ros.planning.receding_horizon import spread_for_box
from dream_engine_ros.ros.command_stepping import FrameStepper, RateStepper, StepTimeout
from dream_engine_ros.ros.engine_search import (
    EngineCallError,
    RolloutBatchClient,
    SearchAnswer,
    SearchSettings,
    run_search,
    search_goal,
)
from dream_engine_ros.ros.engine_spec import SpecFacts, describe_engine, search_box
from dream_engine_ros.ros.image_conversion import ImageConversionError, image_msg_to_rgb
from dream_engine_ros.ros.mpc_planner_params import MpcPlannerParams
from dream_engine_ros.ros.planner_sensors import CameraFrame, PlannerSensors
from dream_engine_ros.ros.spinning import Interrupted
from dream_engine_ros.ros.worker_bridge import WorkerThreads, require_executor

# The reach_goal action's server-side goal handle (quoted: only type checkers read it).
ReachHandle: TypeAlias = "ServerGoalHandle[ReachGoal.Goal, ReachGoal.Result, ReachGoal.Feedback]"
Codes = ReachGoal.Result


class PlannerFailure(Exception):
    """Ends a goal with a ReachGoal error code and message."""

    def __init__(self, code: int, message: str) -> None:
        super().__init__(message)
        self.code, self.message = code, message


@dataclass
class ReachOutcome:
    """What one goal did, so far (a failed goal reports its steps too)."""

    success: bool = False
    steps: int = 0
    fps: float = 10.0  # the spec's: the film's rate
    frame_size: tuple[int, int] = (0, 0)  # the spec's (height, width): the film's halves
    replans: int = 0
    plan_s: float = 0.0
    engine_s: float = 0.0
    real: list[np.ndarray] = field(default_factory=list)  # the camera after each step (filmed goals only)
    dreamed: list[np.ndarray | None] = field(default_factory=list)  # the plan's frame for that step


@dataclass(frozen=True)
class GoalPlan:
    """One goal's checked settings: the spec, the search and how many steps."""

    facts: SpecFacts
    search: SearchSettings
    initial_action: np.ndarray
    budget: int
    execute: int


class GenericMpcPlannerNode(Node):
    """See the module docstring. A bad parameter stops the constructor (ValueError naming it)."""

    def __init__(self, node_name: str = "mpc_planner", **kwargs: Any) -> None:
        super().__init__(node_name, **kwargs)
        try:
            self._params = params = MpcPlannerParams.declare(self)
        except ValueError:
            self.destroy_node()  # refused: nothing of it stays in the graph
            raise
        self._sensors = PlannerSensors(lambda: self.get_clock().now().nanoseconds)
        self._stop = threading.Event()
        self._workers = WorkerThreads(f"{node_name}-loop")
        camera_qos = QoSProfile(depth=10, reliability=ReliabilityPolicy.RELIABLE
                                if params.camera_reliability == "reliable" else ReliabilityPolicy.BEST_EFFORT)
        reliable = QoSProfile(depth=10, reliability=ReliabilityPolicy.RELIABLE)
        latched = QoSProfile(depth=1, reliability=ReliabilityPolicy.RELIABLE,
                             durability=DurabilityPolicy.TRANSIENT_LOCAL)
        self.create_subscription(Image, "image", self._sensors.on_image, camera_qos)
        self.create_subscription(Image, "goal_image", self._sensors.on_goal_image, latched)
        if params.goal_reached_topic:
            self.create_subscription(Bool, params.goal_reached_topic,
                                     lambda message: self._sensors.on_goal_reached(bool(message.data)), reliable)
        self._command = self.create_publisher(params.command.message_class, params.command_topic, reliable)
        self._dreamed = self.create_publisher(Image, "~/dreamed_plan", reliable)
        self._engine: RolloutBatchClient = ActionClient(self, RolloutBatch, f"{params.engine}/rollout_batch")
        self._describe: Client[DescribeModel.Request, DescribeModel.Response] = self.create_client(
            DescribeModel, f"{params.engine}/describe")
        self._server = ActionServer(self, ReachGoal, "~/reach_goal", execute_callback=self._execute_reach,
                                    cancel_callback=lambda _: CancelResponse.ACCEPT)

    # ------------------------------------------------------------------ the action
    async def _execute_reach(self, goal_handle: ReachHandle) -> ReachGoal.Result:
        started = time.perf_counter()
        result = ReachGoal.Result()
        outcome = ReachOutcome()
        try:
            await self._workers.start(require_executor(self), lambda: self._reach(goal_handle, outcome))
        except PlannerFailure as failure:
            result.error_code, result.error_msg = failure.code, failure.message
        self._fill_result(result, outcome)
        if not result.error_code:
            result.mp4_path = self._write_video(outcome, bytes(goal_handle.goal_id.uuid))
        result.total_s = time.perf_counter() - started
        if not result.error_code:
            goal_handle.succeed()
        elif goal_handle.is_cancel_requested:
            goal_handle.canceled()
        else:
            goal_handle.abort()
        return result

    @staticmethod
    def _fill_result(result: ReachGoal.Result, outcome: ReachOutcome) -> None:
        result.success, result.steps, result.replans = outcome.success, outcome.steps, outcome.replans
        if outcome.replans:
            result.seconds_per_replan = outcome.plan_s / outcome.replans
            result.engine_s_per_replan = outcome.engine_s / outcome.replans
            result.ros_overhead_fraction = max(0.0, 1.0 - outcome.engine_s / outcome.plan_s) if outcome.plan_s else 0.0

    def _reach(self, goal_handle: ReachHandle, outcome: ReachOutcome) -> None:
        """The loop of the module docstring, on the worker thread; PlannerFailure ends it."""
        try:
            self._run_loop(goal_handle, outcome)
        except EngineCallError as error:
            raise PlannerFailure(Codes.ENGINE_ERROR, str(error)) from error
        except TimeoutError as error:
            raise PlannerFailure(Codes.ENGINE_ERROR, f"engine call did not finish: {error}") from error
        except StepTimeout as error:
            raise PlannerFailure(Codes.ROBOT_ERROR, f"{error} (step_mode {self._params.step_mode!r}; is the "
                                 f"robot listening on {self.resolve_topic_name(self._params.command_topic)}?)") \
                from error
        except Interrupted as error:
            raise PlannerFailure(Codes.CANCELED, f"the planner is shutting down ({error})") from error

    def _run_loop(self, goal_handle: ReachHandle, outcome: ReachOutcome) -> None:
        params, sensors = self._params, self._sensors
        goal_image = sensors.goal_image
        if goal_image is None:
            raise PlannerFailure(Codes.NO_GOAL_IMAGE, "no goal image received on "
                                 f"{self.resolve_topic_name('goal_image')} (publish it latched: transient local)")
        plan = self._goal_plan(goal_handle.request)
        frame = sensors.wait(sensors.latest_frame, params.step_timeout_s, self._stop)
        if frame is None:
            raise PlannerFailure(Codes.NO_CAMERA, f"no camera frame on {self.resolve_topic_name('image')} within "
                                 f"{params.step_timeout_s:g} s (camera_reliability is {params.camera_reliability})")
        sensors.clear_goal_reached()
        stepper = (FrameStepper(sensors, params.step_timeout_s, self._stop) if params.step_mode == "frame"
                   else RateStepper(sensors, 1.0 / plan.facts.fps, params.step_timeout_s, self._stop))
        planner = CrossEntropyPlanner(plan.search.config, plan.search.low, plan.search.high)
        knots = planner.initial_mean(plan.initial_action)
        seeds = np.random.default_rng(int(goal_handle.request.seed))
        history = params.history if plan.facts.reads_history else 0
        past: deque[tuple[CameraFrame, np.ndarray]] = deque(maxlen=max(history, 1))
        filming = bool(params.output_dir)
        outcome.fps, outcome.frame_size = plan.facts.fps or 10.0, (plan.facts.height, plan.facts.width)
        while outcome.steps < plan.budget and not outcome.success:
            self._check_cancel(goal_handle)
            frame = sensors.latest_frame() or frame  # a camera on its own clock may have moved on
            answer = self._replan(plan.search, planner.expand(knots), frame, goal_image,
                                  int(seeds.integers(0, SEARCH_SEEDS)), list(past) if history else [])
            outcome.plan_s += answer.wall_s
            outcome.engine_s += answer.engine_s
            outcome.replans += 1
            self._publish_dreamed(answer, frame)
            executed = 0
            for action in answer.actions[:min(plan.execute, plan.budget - outcome.steps)]:
                self._check_cancel(goal_handle)
                past.append((frame, action))
                frame = stepper.step(partial(self._send_command, action))
                executed += 1
                outcome.steps += 1
                if filming:
                    outcome.real.append(self._rgb(frame))
                    outcome.dreamed.append(answer.frames[executed] if executed < len(answer.frames) else None)
                if sensors.goal_reached:
                    outcome.success = True
                    break
            knots = planner.shift(answer.actions[::plan.search.config.hold].astype(np.float64), executed)
            feedback = ReachGoal.Feedback()
            feedback.step, feedback.replan = outcome.steps, outcome.replans
            feedback.best_cost, feedback.seconds_per_replan = answer.cost, outcome.plan_s / outcome.replans
            goal_handle.publish_feedback(feedback)

    def _goal_plan(self, request: ReachGoal.Goal) -> GoalPlan:
        """The engine's spec and this goal's settings, checked against it (INVALID_GOAL names them)."""
        params = self._params
        try:
            described = describe_engine(self._describe, min(params.engine_timeout_s, 10.0), self._stop)
        except TimeoutError as error:
            raise PlannerFailure(Codes.ENGINE_ERROR, f"engine {params.engine!r}: {error}") from error
        facts = SpecFacts.from_msg(described.spec)
        budget = int(request.budget_steps) or params.budget_steps
        execute = int(request.execute_steps) or params.execute_steps
        config = params.cem
        problems = []
        if execute > config.horizon:
            problems.append(f"execute_steps {execute} exceeds the planning horizon {config.horizon}")
        if facts.chunk_size and config.horizon % facts.chunk_size:
            problems.append(f"parameter horizon {config.horizon} is not a multiple of the spec's chunk_size "
                            f"{facts.chunk_size}")
        command_problem = params.command.check_action_dim(facts.action_dim)
        if command_problem:
            problems.append(command_problem)
        if facts.fps <= 0 and params.step_mode == "rate":
            problems.append(f"step_mode 'rate' needs the spec's fps; {facts.name!r} has {facts.fps:g}")
        try:
            low, high = search_box(facts, params.search_low, params.search_high)
        except ValueError as error:
            raise PlannerFailure(Codes.INVALID_GOAL, "; ".join([*problems, str(error)])) from error
        initial = (low + high) / 2.0 if params.initial_action is None else np.asarray(params.initial_action)
        if initial.shape != low.shape:
            problems.append(f"parameter initial_action has {initial.size} values; the spec's actions have "
                            f"{facts.action_dim}")
        if problems:
            raise PlannerFailure(Codes.INVALID_GOAL, "; ".join(problems))
        cem = spread_for_box(config, low, high, params.init_std_fraction, params.min_std_fraction)
        search = SearchSettings(cem, low, high, cost=params.cost, num_steps=params.num_steps,
                                draw_plan=params.display_plan)
        return GoalPlan(facts, search, np.clip(initial, low, high), budget, execute)

    def _replan(self, search: SearchSettings, start: np.ndarray, frame: CameraFrame, goal_image: Image, seed: int,
                past: list[tuple[CameraFrame, np.ndarray]]) -> SearchAnswer:
        if not self._engine.wait_for_server(timeout_sec=min(self._params.engine_timeout_s, 10.0)):
            raise PlannerFailure(Codes.ENGINE_ERROR, f"engine action {self._engine_action_name()} is not available")
        history = ([f.message for f, _ in past], np.asarray([a for _, a in past], dtype=np.float32)) if past else None
        goal = search_goal(search, start.astype(np.float32), frame.message, goal_image, seed, history)
        return run_search(self._engine, goal, self._params.engine_timeout_s, self._stop)

    def _engine_action_name(self) -> str:
        return self.resolve_topic_name(f"{self._params.engine}/rollout_batch")

    def _send_command(self, action: np.ndarray) -> int:
        """Publish one action as the configured command; its stamp (ns)."""
        stamp = self.get_clock().now()
        self._command.publish(self._params.command.build(action, stamp.to_msg(), self._params.command_frame_id))
        return int(stamp.nanoseconds)

    def _publish_dreamed(self, answer: SearchAnswer, frame: CameraFrame) -> None:
        from dream_engine_ros.ros.image_conversion import rgb_to_image_msg

        stamp = self.get_clock().now().to_msg()
        for image in answer.frames[1:]:
            self._dreamed.publish(rgb_to_image_msg(image, stamp, frame.message.header.frame_id))

    @staticmethod
    def _check_cancel(goal_handle: ReachHandle) -> None:
        if goal_handle.is_cancel_requested:
            raise PlannerFailure(Codes.CANCELED, "canceled by the client")

    @staticmethod
    def _rgb(frame: CameraFrame) -> np.ndarray:
        try:
            return image_msg_to_rgb(frame.message, "image")
        except ImageConversionError as error:
            raise PlannerFailure(Codes.NO_CAMERA, str(error)) from error

    def _write_video(self, outcome: ReachOutcome, goal_id: bytes) -> str:
        """The film of `plan_video.py` in output_dir ("" without output_dir or steps)."""
        if not self._params.output_dir or not outcome.real:
            return ""
        from dream_engine_ros.ros.plan_video import write_plan_video

        height, width = outcome.frame_size
        path = Path(self._params.output_dir).expanduser() / f"reach_goal_{goal_id.hex()[:12]}.mp4"
        try:
            write_plan_video(path, outcome.real, outcome.dreamed, height, width, outcome.fps)
        except (OSError, ValueError) as error:
            self.get_logger().error(f"could not write {path}: {error}")
            return ""
        return str(path)

    def shutdown(self, timeout_s: float = 10.0) -> bool:
        """Stop a running loop (its goal ends with CANCELED) and join it."""
        self._stop.set()
        return self._workers.join(timeout_s)


def run_planner_with_args(args: argparse.Namespace) -> int:
    """Spin the planner until SIGINT/SIGTERM (a running goal is stopped first). Exit 0 after a
    signal, 2 for a missing params file or a parameter the planner cannot run with."""
    from dream_engine_ros.ros.node_main import run_until_signal

    return run_until_signal(args, lambda cli_args: GenericMpcPlannerNode(
        args.name, namespace=args.namespace or None, cli_args=cli_args), "mpc_planner")


def main(argv: list[str] | None = None) -> int:
    """Entry point ``mpc_planner`` (``ros2 run dream_engine_ros mpc_planner --params-file config/mpc_planner.yaml``)."""
    import sys

    from dream_engine_ros.ros.node_args import add_mpc_planner_arguments

    parser = argparse.ArgumentParser(prog="mpc_planner", description=(__doc__ or "").splitlines()[0])
    add_mpc_planner_arguments(parser)
    return run_planner_with_args(parser.parse_args(sys.argv[1:] if argv is None else argv))


if __name__ == "__main__":
    raise SystemExit(main())
