"""Turn action goals into engine inputs, or into an error code + message naming the rule.

Why separate from the node: every rule here is checked before any model work, and the
mapping from failures to ``Result`` codes is the contract planners program against, so it
is kept small, pure and unit-tested.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from enum import IntEnum
from typing import Any, Protocol

import numpy as np

from dream_engine_ros.engine.errors import plain_value


class ErrorCode(IntEnum):
    """Mirror of the ``Result`` constants in Rollout.action / RolloutBatch.action."""

    OK = 0
    INVALID_GOAL = 1
    NO_START_FRAME = 2
    STALE_START_FRAME = 3
    BUSY = 4
    CANCELED = 5
    PREEMPTED = 6
    ENGINE_ERROR = 7
    IO_ERROR = 8
    NOT_ACTIVE = 9


class GoalFailure(Exception):
    """A goal ends with this code and message (raised anywhere, answered as a result)."""

    def __init__(self, code: ErrorCode, message: str) -> None:
        self.code = code
        self.message = message
        super().__init__(f"{code.name}: {message}")


class SpecLike(Protocol):
    name: str
    chunk_size: int
    action_dim: int
    num_steps: int
    guidance: float


@dataclass(frozen=True)
class SamplingOverrides:
    """Per-goal sampler settings; None means the spec default."""

    num_steps: int | None
    guidance: float | None


def invalid(field: str, rule: str) -> GoalFailure:
    return GoalFailure(ErrorCode.INVALID_GOAL, f"{field}: {rule}")


@dataclass(frozen=True)
class WorkLimits:
    """The node's bounds on one goal (parameters max_candidates, max_horizon, max_num_steps)."""

    max_candidates: int
    max_horizon: int
    max_num_steps: int


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
    spec: SpecLike,
    num_candidates: int | None = None,
) -> np.ndarray:
    """Check the flat ``actions`` field against the declared shape and the spec.

    Returns ``(T, D)`` float32, or ``(K, T, D)`` when ``num_candidates`` is given.
    """
    values = np.asarray(flat, dtype=np.float32).reshape(-1)
    if horizon <= 0:
        raise invalid("horizon", f"horizon {horizon} must be > 0")
    if horizon % spec.chunk_size:
        raise invalid(
            "horizon", f"horizon {horizon} is not a multiple of chunk_size {spec.chunk_size} (spec {spec.name})"
        )
    if action_dim != spec.action_dim:
        raise invalid(
            "action_dim",
            f"action_dim {action_dim} does not match the spec's action_dim {spec.action_dim} (spec {spec.name})",
        )
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
    bad = np.flatnonzero(~np.isfinite(values))
    if bad.size:
        raise invalid(
            "actions",
            f"actions[{int(bad[0])}] is {plain_value(values[bad[0]])}; every action value must be finite "
            f"({bad.size} are not)",
        )
    return values.reshape(shape)


def sampling_overrides(num_steps: int, guidance: float) -> SamplingOverrides:
    """Goal encoding: num_steps 0 and guidance NaN mean 'spec default'."""
    if not math.isnan(guidance) and not math.isfinite(guidance):
        raise invalid("guidance", f"guidance {guidance} must be finite (NaN = spec default)")
    return SamplingOverrides(
        num_steps=int(num_steps) if num_steps > 0 else None,
        guidance=None if math.isnan(guidance) else float(guidance),
    )


def failure_from_input_error(error: Any) -> GoalFailure:
    """Map the engine's InputError(field, value, rule) to INVALID_GOAL with its wording."""
    field = getattr(error, "field", "goal")
    rule = getattr(error, "rule", str(error))
    return invalid(str(field), str(rule))
