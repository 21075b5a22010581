"""The goal result codes planners program against, and the exception that carries one.

Why a module of its own: every part of the node (validation, the worker, video output) ends
goals with these codes; none of them should have to import the others to do so.
"""

from __future__ import annotations

from enum import IntEnum


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


def invalid(field: str, rule: str) -> GoalFailure:
    return GoalFailure(ErrorCode.INVALID_GOAL, f"{field}: {rule}")
