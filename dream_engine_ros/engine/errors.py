"""Errors the engine raises; callers (CLI, ROS adapter) map them to exit codes / result codes."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any


class EngineError(RuntimeError):
    """Base class of every error the engine raises on purpose."""


def plain_value(value: Any) -> str:
    """A value as a user reads it in an error: ``nan``, ``1.5``, ``(5, 1)``.

    Why: numpy 2 scalars repr as ``np.float32(nan)``, which is noise in a CLI line or a ROS
    result message.
    """
    if isinstance(value, tuple):
        return "(" + ", ".join(plain_value(v) for v in value) + ("," if len(value) == 1 else "") + ")"
    item = getattr(value, "item", None)
    if callable(item) and getattr(value, "ndim", None) == 0:
        value = item()  # numpy scalar / 0-d array -> Python int, float or bool
    if isinstance(value, float):
        return repr(value)  # 'nan', 'inf', '1.5'
    if isinstance(value, str):
        return repr(value)
    return str(value)


class InputError(EngineError, ValueError):
    """A request failed validation; raised before any model work is done.

    Carries the offending field, its value and the rule it broke so that a ROS result or a CLI
    line can name all three.
    """

    def __init__(self, field: str, value: Any, rule: str) -> None:
        self.field = field
        self.value = value
        self.rule = rule
        super().__init__(f"{field}: {rule}")


class RolloutCancelled(EngineError):
    """The caller's cancel check returned True between two steps of a rollout."""


def check_cancel(should_cancel: Callable[[], bool] | None, where: str = "between denoising steps") -> None:
    """Raise RolloutCancelled when the caller asked to stop. The one place every stage polls
    (denoising steps, per-candidate decode and re-encode, per frame of a causal rollout), so a
    cancel is answered within one step's work, not one stage's."""
    if should_cancel is not None and should_cancel():
        raise RolloutCancelled(f"rollout cancelled {where}")


class WeightsError(EngineError):
    """Checkpoint files are absent, truncated or do not match the architecture."""
