"""What only the ROS face checks: the flat ``actions`` field against its declared shape, the
goal encoding of "spec default" (num_steps 0, guidance NaN) and the node's work limits.

Every rule about the request itself (horizon a multiple of chunk_size, action_dim, finite
values inside the action bounds, steps, guidance, seeds) lives once, in
``engine/validation.py``; the node runs it before any model work and answers its InputError
as INVALID_GOAL with the engine's own wording (``failure_from_input_error``).
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, Protocol

import numpy as np

from dream_engine_ros.ros.error_codes import GoalFailure, invalid


class SpecLike(Protocol):
    """The spec fields the limits are checked against (read-only, as on the frozen ModelSpec)."""

    @property
    def name(self) -> str: ...
    @property
    def chunk_size(self) -> int: ...
    @property
    def action_dim(self) -> int: ...
    @property
    def num_steps(self) -> int: ...
    @property
    def guidance(self) -> float: ...


@dataclass(frozen=True)
class SamplingOverrides:
    """Per-goal sampler settings; None means the spec default."""

    num_steps: int | None
    guidance: float | None


@dataclass(frozen=True)
class WorkLimits:
    """The node's bounds on one goal (parameters max_candidates, max_horizon, max_num_steps)."""

    max_candidates: int
    max_horizon: int
    max_num_steps: int


def work_limits_as_set(max_candidates: object, max_horizon: object, max_num_steps: object) -> WorkLimits:
    """The limits as the parameters are set before configure has checked them (``~/describe``
    answers in every state): a value that is not a positive integer reads as 0."""
    values = (max_candidates, max_horizon, max_num_steps)
    return WorkLimits(*(value if isinstance(value, int) and not isinstance(value, bool) and value > 0 else 0
                        for value in values))


def check_work_limits(
    limits: WorkLimits, spec: SpecLike, horizon: int, num_steps: int, num_candidates: int = 1
) -> None:
    """Refuse oversized goals before their actions are even reshaped.

    Why up front: an oversized batch would otherwise be accepted, hold the node BUSY and die
    later with MemoryError; the message names the parameter to raise when the work is meant.
    ``num_steps`` 0 means the spec default, which is bounded too.
    """
    if num_candidates > limits.max_candidates:
        raise invalid(
            "num_candidates",
            f"num_candidates {num_candidates} exceeds the node's limit max_candidates={limits.max_candidates}",
        )
    if horizon > limits.max_horizon:
        raise invalid("horizon", f"horizon {horizon} exceeds the node's limit max_horizon={limits.max_horizon}")
    steps = num_steps if num_steps > 0 else spec.num_steps
    if steps > limits.max_num_steps:
        source = "" if num_steps > 0 else f" (spec {spec.name} default)"
        raise invalid(
            "num_steps",
            f"num_steps {steps}{source} exceeds the node's limit max_num_steps={limits.max_num_steps}",
        )


def actions_array(
    flat: Sequence[float] | np.ndarray,
    horizon: int,
    action_dim: int,
    num_candidates: int | None = None,
) -> np.ndarray:
    """The flat ``actions`` field as ``(T, D)`` float32, or ``(K, T, D)`` when ``num_candidates``
    is given: only the size is checked here (the engine's validator checks the values)."""
    values = np.asarray(flat, dtype=np.float32).reshape(-1)
    shape: tuple[int, ...] = (horizon, action_dim)
    label = "horizon*action_dim"
    if num_candidates is not None:
        if num_candidates < 1:
            raise invalid("num_candidates", f"num_candidates {num_candidates} must be >= 1")
        shape = (num_candidates, horizon, action_dim)
        label = "num_candidates*horizon*action_dim"
    expected = int(np.prod(shape))
    if values.size != expected:
        raise invalid(
            "actions",
            f"actions has {values.size} values, expected {label} = {' x '.join(map(str, shape))} = {expected}",
        )
    return values.reshape(shape)


def sampling_overrides(num_steps: int, guidance: float) -> SamplingOverrides:
    """Goal encoding: num_steps 0 and guidance NaN mean 'spec default' (other values are
    checked by the engine's validator)."""
    return SamplingOverrides(
        num_steps=int(num_steps) if num_steps > 0 else None,
        guidance=None if math.isnan(guidance) else float(guidance),
    )


def failure_from_input_error(error: Any) -> GoalFailure:
    """Map the engine's InputError(field, value, rule) to INVALID_GOAL with its wording."""
    field = getattr(error, "field", "goal")
    rule = getattr(error, "rule", str(error))
    return invalid(str(field), str(rule))
