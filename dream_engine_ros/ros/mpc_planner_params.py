"""The generic MPC planner's parameters (config/mpc_planner.yaml lists them), declared and
checked once when the node starts: a bad value stops the node with a message naming it.

What depends on the model (action size and bounds, control rate, chunk) is not here: the
planner asks the engine for it per goal (`ros/engine_spec.py`).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from rclpy.node import Node
from rclpy.parameter import Parameter

from dream_engine_ros.planning.cem import CEMConfig
from dream_engine_ros.ros.command_message import CommandLayout
from dream_engine_ros.ros.engine_spec import SEARCH_HIGH, SEARCH_LOW

STEP_MODES = ("frame", "rate")
RELIABILITIES = ("reliable", "best_effort")


class PlannerParameterError(ValueError):
    """A parameter value the planner cannot run with (the message names it)."""


@dataclass(frozen=True)
class MpcPlannerParams:
    engine: str
    cost: str
    display_plan: bool
    cem: CEMConfig  # init_std/min_std here are placeholders: the search box sets them per goal
    init_std_fraction: float
    min_std_fraction: float
    search_low: list[float] | None
    search_high: list[float] | None
    initial_action: list[float] | None
    num_steps: int
    execute_steps: int
    budget_steps: int
    history: int
    step_mode: str
    step_timeout_s: float
    engine_timeout_s: float
    command_topic: str
    command: CommandLayout
    command_frame_id: str
    camera_reliability: str
    goal_reached_topic: str
    output_dir: str

    @classmethod
    def declare(cls, node: Node) -> MpcPlannerParams:
        """Declare every parameter on `node` and read them, checked (PlannerParameterError)."""
        shipped = CEMConfig()

        def value(name: str, default: object) -> Any:
            return node.declare_parameter(name, default).value

        def optional_floats(name: str) -> list[float] | None:
            read: list[float] | None = node.declare_parameter(name, Parameter.Type.DOUBLE_ARRAY).value
            return None if read is None or len(read) == 0 else [float(v) for v in read]

        try:
            cem = CEMConfig(horizon=int(value("horizon", shipped.horizon)), hold=int(value("hold", shipped.hold)),
                            samples=int(value("samples", shipped.samples)),
                            elites=int(value("elites", shipped.elites)),
                            iterations=int(value("iterations", shipped.iterations)))
        except ValueError as error:
            raise PlannerParameterError(f"parameters horizon/hold/samples/elites/iterations: {error}") from error
        params = cls(
            engine=str(value("engine", "dream_engine")),
            cost=str(value("cost", "")),
            display_plan=bool(value("display_plan", True)),
            cem=cem,
            init_std_fraction=float(value("init_std_fraction", 0.15)),
            min_std_fraction=float(value("min_std_fraction", 0.01)),
            search_low=optional_floats(SEARCH_LOW),
            search_high=optional_floats(SEARCH_HIGH),
            initial_action=optional_floats("initial_action"),
            num_steps=int(value("num_steps", 0)),
            execute_steps=int(value("execute_steps", 4)),
            budget_steps=int(value("budget_steps", 50)),
            history=int(value("history", 2)),
            step_mode=str(value("step_mode", "frame")),
            step_timeout_s=float(value("step_timeout_s", 5.0)),
            engine_timeout_s=float(value("engine_timeout_s", 60.0)),
            command_topic=str(value("command_topic", "cmd")),
            command=CommandLayout.parse(str(value("command_type", "std_msgs/msg/Float32MultiArray")),
                                        str(value("command_fields", "data"))),
            command_frame_id=str(value("command_frame_id", "")),
            camera_reliability=str(value("camera_reliability", "reliable")),
            goal_reached_topic=str(value("goal_reached_topic", "goal_reached")),
            output_dir=str(value("output_dir", "")),
        )
        params.check()
        return params

    def check(self) -> None:
        problems = []
        if self.step_mode not in STEP_MODES:
            problems.append(f"step_mode {self.step_mode!r} is not one of {', '.join(STEP_MODES)}")
        if self.camera_reliability not in RELIABILITIES:
            problems.append(f"camera_reliability {self.camera_reliability!r} is not one of {', '.join(RELIABILITIES)}")
        if not 1 <= self.execute_steps <= self.cem.horizon:
            problems.append(f"execute_steps {self.execute_steps} must be in [1, horizon = {self.cem.horizon}]")
        if self.budget_steps < 1:
            problems.append(f"budget_steps {self.budget_steps} must be >= 1")
        if self.history < 0 or self.num_steps < 0:
            problems.append("history and num_steps must be >= 0")
        if not self.init_std_fraction > 0 or not self.min_std_fraction >= 0:
            problems.append("init_std_fraction must be > 0 and min_std_fraction >= 0")
        if not (self.step_timeout_s > 0 and self.engine_timeout_s > 0):
            problems.append("step_timeout_s and engine_timeout_s must be > 0")
        if not self.command_topic.strip():
            problems.append("command_topic is empty")
        if not self.engine.strip():
            problems.append("engine (the engine node's name) is empty")
        if problems:
            raise PlannerParameterError("parameter " + "; parameter ".join(problems))
