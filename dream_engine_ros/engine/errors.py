"""Errors the engine raises; callers (CLI, ROS adapter) map them to exit codes / result codes."""

from __future__ import annotations

from typing import Any


class EngineError(RuntimeError):
    """Base class of every error the engine raises on purpose."""


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
    """The caller's cancel check returned True between two denoising steps."""


class WeightsError(EngineError):
    """Checkpoint files are absent, truncated or do not match the architecture."""
