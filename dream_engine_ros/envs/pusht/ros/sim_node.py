"""Node ``pusht_sim``: the gym-pusht simulator as a robot on ROS topics.

Why: the Dream Engine and its planners are meant to drive a real robot through a camera and
a command topic. This node is that robot, with a ground truth: it publishes what a camera
sees (``image``) and the true state (``state``), takes the agent's target on ``cmd_target``
and says in every state message whether the goal set with ``~/set_goal`` is reached (the
benchmark's success rule, ``planning.pusht_robot.reached``).

Two ways to advance: ``step_on_command`` (default) steps exactly once per command, so a
client gets a reproducible trajectory however slow its planning is; otherwise a timer at
``rate_hz`` steps with the latest target, like a real robot that does not wait.

Explicit states are placed exactly: gym-pusht's own ``reset_to_state`` sets the block's
position before its angle, which turns the block about its centre of mass and moves its
origin (up to 90 units); a state reset here is the state that ``state`` reports back.
"""

from __future__ import annotations

import argparse
import math
import sys
import threading
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import rclpy
from geometry_msgs.msg import PointStamped
from rclpy.callback_groups import ReentrantCallbackGroup
from rclpy.node import Node
from rclpy.parameter import Parameter
from rclpy.qos import DurabilityPolicy, HistoryPolicy, QoSProfile, ReliabilityPolicy
from rclpy.timer import Timer
from sensor_msgs.msg import Image

from dream_engine_msgs.msg import PushTState
from dream_engine_msgs.srv import ResetPushT, SetPushTGoal
from dream_engine_ros.envs.pusht.geometry import WORLD_SIZE
from dream_engine_ros.envs.pusht.planning.robot import PushTRobot, reached
from dream_engine_ros.envs.pusht.ros.node_args import add_pusht_sim_arguments
from dream_engine_ros.ros.image_conversion import rgb_to_image_msg
from dream_engine_ros.ros.node_main import node_cli_args
from dream_engine_ros.ros.params import declare_dataclass_parameters, read_dataclass_parameters
from dream_engine_ros.ros.shutdown import (
    init_with_shutdown_signals,
    main_thread_executor,
    spin_until,
    spin_until_signal,
)

STATE_SIZE = 5  # [agent x, agent y, block x, block y, block angle]; targets and positions in [0, WORLD_SIZE]

WARN_THROTTLE_S = 1.0  # a stream of garbage commands logs one warning per second, not one per message
FLUSH_S = 0.2  # spin a little longer at shutdown so DDS hands out the last messages


@dataclass(frozen=True)
class SimParams:
    """The node's parameters (read once at start-up; they are read-only afterwards)."""

    image_size: int = 96
    frame_id: str = "pusht_camera"
    step_on_command: bool = True
    rate_hz: float = 10.0
    start_seed: int = 0

    def problems(self) -> list[str]:
        found: list[str] = []
        if self.image_size < 1:
            found.append(f"image_size: {self.image_size} must be >= 1")
        if not math.isfinite(self.rate_hz) or self.rate_hz <= 0:
            found.append(f"rate_hz: {self.rate_hz} must be a finite number > 0")
        if self.start_seed < 0:
            found.append(f"start_seed: {self.start_seed} must be >= 0")
        return found


PARAMETER_HELP: dict[str, str] = {
    "image_size": "height and width of the published frames (pixels)",
    "frame_id": "frame_id of image, state and goal_image",
    "step_on_command": "true: every cmd_target advances exactly one control step at once; "
    "false: a timer at rate_hz steps with the latest target",
    "rate_hz": "control steps per second when step_on_command is false (10 = gym-pusht's control rate)",
    "start_seed": "seed of the env's random reset at start-up",
}


def declare_sim_parameters(node: Node) -> None:
    """Read-only: the node reads them once, so a later change would be silently ignored;
    refusing it says so."""
    declare_dataclass_parameters(node, SimParams, PARAMETER_HELP, read_only=True)


def read_sim_parameters(node: Node) -> SimParams:
    return read_dataclass_parameters(node, SimParams)


def state_problem(values: Sequence[float], field: str = "state") -> str | None:
    """Why ``values`` is not a state the robot can be put in, or None when it is."""
    state = np.asarray(values, dtype=np.float64).reshape(-1)
    if state.size != STATE_SIZE:
        return (
            f"{field} must have {STATE_SIZE} values [agent x, agent y, block x, block y, block angle], got {state.size}"
        )
    if not np.isfinite(state).all():
        return f"{field} must be finite, got {state.tolist()}"
    if ((state[:4] < 0) | (state[:4] > WORLD_SIZE)).any():
        return f"{field} positions must lie in [0, {WORLD_SIZE:g}], got {state[:4].tolist()}"
    return None


def target_problem(x: float, y: float) -> str | None:
    """Why (x, y) is not a target the agent may be sent to, or None when it is."""
    if not (math.isfinite(x) and math.isfinite(y)):
        return f"cmd_target ({x}, {y}) is not finite"
    if not (0.0 <= x <= WORLD_SIZE and 0.0 <= y <= WORLD_SIZE):
        return f"cmd_target ({x:g}, {y:g}) is outside the world [0, {WORLD_SIZE:g}]"
    return None


class PushTSimNode(Node):
    """See the module docstring. Topics (relative, so a namespace applies): ``image``,
    ``state``, ``goal_image`` out, ``cmd_target`` in; services ``~/reset``, ``~/set_goal``."""

    def __init__(self, node_name: str = "pusht_sim", *, namespace: str | None = None, **node_kwargs: Any) -> None:
        super().__init__(node_name, namespace=namespace, **node_kwargs)
        declare_sim_parameters(self)
        try:
            self.params = read_sim_parameters(self)
        except ValueError:
            Node.destroy_node(self)  # nothing of ours exists yet; do not leave a half-made node behind
            raise
        # One lock for everything that moves: the robot, the step counter, the target and the goal.
        # Messages are published under it too, so their order is the order of the steps.
        self._lock = threading.Lock()
        self._robot = PushTRobot(self.params.image_size)
        self._goal_robot = PushTRobot(self.params.image_size)  # renders goals; never steps
        self._step = 0
        self._goal: np.ndarray | None = None
        self._target: np.ndarray = np.zeros(2)

        group = ReentrantCallbackGroup()
        reliable = QoSProfile(depth=10, history=HistoryPolicy.KEEP_LAST, reliability=ReliabilityPolicy.RELIABLE)
        latched = QoSProfile(
            depth=1,
            history=HistoryPolicy.KEEP_LAST,
            reliability=ReliabilityPolicy.RELIABLE,
            durability=DurabilityPolicy.TRANSIENT_LOCAL,
        )
        self._image_publisher = self.create_publisher(Image, "image", reliable)
        self._state_publisher = self.create_publisher(PushTState, "state", reliable)
        self._goal_publisher = self.create_publisher(Image, "goal_image", latched)
        self._command_subscription = self.create_subscription(
            PointStamped, "cmd_target", self._on_command, reliable, callback_group=group
        )
        self._reset_service = self.create_service(ResetPushT, "~/reset", self._on_reset, callback_group=group)
        self._goal_service = self.create_service(SetPushTGoal, "~/set_goal", self._on_set_goal, callback_group=group)
        self._timer: Timer | None = None
        if not self.params.step_on_command:
            self._timer = self.create_timer(1.0 / self.params.rate_hz, self._on_tick, callback_group=group)

        with self._lock:
            self._robot.env.reset(seed=self.params.start_seed)
            self._after_reset()
        mode = "one step per cmd_target" if self.params.step_on_command else f"{self.params.rate_hz:g} Hz timer"
        self.get_logger().info(
            f"pusht_sim up: {self.params.image_size}x{self.params.image_size} frames, {mode}, "
            f"random reset from seed {self.params.start_seed}: {np.round(self._robot.state, 2).tolist()}"
        )

    # ------------------------------------------------------------------ state
    @property
    def state(self) -> np.ndarray:
        """The robot's current state (a copy)."""
        with self._lock:
            return self._robot.state

    @property
    def step_count(self) -> int:
        with self._lock:
            return self._step

    def _after_reset(self) -> None:
        """Lock held: step 0, hold the agent where it is (timer mode), publish the new world."""
        self._step = 0
        self._target = self._robot.state[:2].copy()
        self._publish(self._robot.render())

    def _publish(self, frame: np.ndarray) -> None:
        """Lock held: the frame on ``image`` and the state on ``state``, with one stamp."""
        stamp = self.get_clock().now().to_msg()
        state = self._robot.state
        message = PushTState()
        message.header.stamp = stamp
        message.header.frame_id = self.params.frame_id
        message.agent_x, message.agent_y, message.block_x, message.block_y, message.block_angle = (
            float(value) for value in state
        )
        message.has_goal = self._goal is not None
        message.goal_reached = self._goal is not None and reached(state, self._goal)
        message.step = self._step
        self._image_publisher.publish(rgb_to_image_msg(frame, stamp, self.params.frame_id))
        self._state_publisher.publish(message)

    def _advance(self, target: np.ndarray) -> None:
        """Lock held: one control step towards ``target``, then publish."""
        frame = self._robot.step(target)
        self._step += 1
        self._publish(frame)

    # ------------------------------------------------------------------ callbacks
    def _on_command(self, msg: PointStamped) -> None:
        x, y = float(msg.point.x), float(msg.point.y)
        problem = target_problem(x, y)
        if problem is not None:
            self.get_logger().warning(f"refused: {problem}; not stepping", throttle_duration_sec=WARN_THROTTLE_S)
            return
        target = np.array([x, y], dtype=np.float64)
        with self._lock:
            if self.params.step_on_command:
                self._advance(target)
            else:
                self._target = target

    def _on_tick(self) -> None:
        with self._lock:
            self._advance(self._target)

    def _on_reset(self, request: ResetPushT.Request, response: ResetPushT.Response) -> ResetPushT.Response:
        values = list(request.state)
        if values:
            problem = state_problem(values)
            if problem is not None:
                response.success, response.message = False, problem
                return response
        with self._lock:
            if values:
                self._robot.reset(np.asarray(values, dtype=np.float64))
                how = "explicit state"
            else:
                self._robot.env.reset(seed=int(request.seed))
                how = f"random reset from seed {request.seed}"
            self._after_reset()
            state = self._robot.state
        response.success, response.message, response.state = True, how, state.tolist()
        self.get_logger().info(f"reset ({how}): {np.round(state, 2).tolist()}")
        return response

    def _on_set_goal(self, request: SetPushTGoal.Request, response: SetPushTGoal.Response) -> SetPushTGoal.Response:
        values = list(request.state)
        problem = state_problem(values)
        if problem is not None:
            response.success, response.message = False, problem
            return response
        goal = np.asarray(values, dtype=np.float64)
        with self._lock:
            frame = self._goal_robot.reset(goal)
            image = rgb_to_image_msg(frame, self.get_clock().now().to_msg(), self.params.frame_id)
            self._goal = goal
            self._goal_publisher.publish(image)
        response.success, response.message, response.goal_image = True, "goal set", image
        self.get_logger().info(f"goal set: {np.round(goal, 2).tolist()}")
        return response

    def destroy_node(self) -> None:
        with self._lock:
            self._robot.close()
            self._goal_robot.close()
        super().destroy_node()


# ---------------------------------------------------------------------- entry point
PUSHT_SIM_HELP = "run the gym-pusht simulator as a ROS 2 robot (image, state, cmd_target)"


def sim_parameter_overrides(args: argparse.Namespace) -> list[Parameter[Any]]:
    chosen: dict[str, Any] = {"image_size": args.image_size, "rate_hz": args.rate_hz, "start_seed": args.start_seed}
    if args.timer:
        chosen["step_on_command"] = False
    return [Parameter(name, value=value) for name, value in chosen.items() if value is not None]


def run_pusht_sim_with_args(args: argparse.Namespace) -> int:
    """Create and spin the node until SIGINT/SIGTERM (once or twice); returns the exit code:
    0 after a signal, 2 for a missing params file or bad parameters."""
    try:
        cli_args = node_cli_args(args.params_file, None, args.ros_args or [])
    except FileNotFoundError as error:
        print(f"pusht_sim: {error}", file=sys.stderr)
        return 2
    signals = init_with_shutdown_signals()
    try:
        node = PushTSimNode(
            args.name,
            namespace=args.namespace or None,
            cli_args=cli_args,
            parameter_overrides=sim_parameter_overrides(args),
        )
    except ValueError as error:  # bad parameters: nothing was started
        print(f"pusht_sim: {error}", file=sys.stderr)
        rclpy.try_shutdown()
        return 2
    with main_thread_executor(node) as executor:
        spin_until_signal(executor, node, signals)
        spin_until(executor, lambda: False, FLUSH_S)  # the last states and frames leave
    return 0


def pusht_sim_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="pusht_sim", description=PUSHT_SIM_HELP)
    add_pusht_sim_arguments(parser)
    return parser


def main(argv: list[str] | None = None) -> int:
    """Entry point: ``python -m dream_engine_ros.envs.pusht.ros.sim_node [options] [--ros-args ...]``."""
    args = pusht_sim_parser().parse_args(sys.argv[1:] if argv is None else argv)
    return run_pusht_sim_with_args(args)


if __name__ == "__main__":
    sys.exit(main())
