"""What ~/describe answers: the node's state, its limits and the model spec.

Why it answers in every state: a planner asks before it sends goals, also while the node is
unconfigured (then the spec comes from the ``spec`` parameter, without loading the model).
"""

from __future__ import annotations

from typing import Any

from rclpy.node import Node

from dream_engine_msgs.msg import ModelSpec
from dream_engine_msgs.srv import DescribeModel
from dream_engine_ros.engine.family import family_of
from dream_engine_ros.ros.engine_protocol import WorldModelEngine
from dream_engine_ros.ros.goal_validation import WorkLimits, work_limits_as_set
from dream_engine_ros.ros.params import EngineParams


def spec_to_msg(spec: Any, device: str) -> ModelSpec:
    """The spec as a planner needs it: geometry, timing, the action box it may search and
    whether a goal may carry history (a generic planner reads these instead of constants)."""
    msg = ModelSpec()
    msg.name = str(spec.name)
    msg.family = str(spec.family)
    msg.height = int(spec.height)
    msg.width = int(spec.width)
    msg.chunk_size = int(spec.chunk_size)
    msg.action_dim = int(spec.action_dim)
    msg.fps = float(spec.fps)
    msg.num_steps = int(spec.num_steps)
    msg.guidance = float(spec.guidance)
    msg.device = str(device)
    msg.dtype = str(spec.dtype)
    msg.action_low = [float(value) for value in spec.action_low]
    msg.action_high = [float(value) for value in spec.action_high]
    msg.reads_history = bool(family_of(spec).reads_history)
    return msg


def describe_node(node: Node, response: DescribeModel.Response, lifecycle_state: str,
                  engine: WorldModelEngine | None, params: EngineParams | None) -> DescribeModel.Response:
    """Fill ``response`` for the engine node: ``engine`` and ``params`` as loaded and checked
    at configure (None before), the rest read from the node's parameters as set."""
    response.lifecycle_state = lifecycle_state
    response.loaded = engine is not None
    response.weights = str(node.get_parameter("weights").value)
    limits = _work_limits(node, params)
    response.max_candidates = limits.max_candidates
    response.max_horizon = limits.max_horizon
    response.max_num_steps = limits.max_num_steps
    if engine is not None:
        response.spec = spec_to_msg(engine.spec, str(engine.device))
        return response
    try:
        from dream_engine_ros.engine.spec import get_spec

        name = str(node.get_parameter("spec").value)
        response.spec = spec_to_msg(get_spec(name), str(node.get_parameter("device").value))
    except Exception as error:  # noqa: BLE001 - describe must answer in every state
        node.get_logger().warning(f"describe: {error}")
    return response


def _work_limits(node: Node, params: EngineParams | None) -> WorkLimits:
    """The checked limits once configured; before that the parameters as set (0 if unreadable)."""
    if params is not None:
        return params.work_limits()
    return work_limits_as_set(*(node.get_parameter(name).value
                                for name in ("max_candidates", "max_horizon", "max_num_steps")))
