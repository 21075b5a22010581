"""A goal between its acceptance and its result, and the one way it starts executing.

Why: the busy policy is decided in the action server's accepted callback (as in rclpy's
``action/server.py`` and ros2/examples ``server_queue_goals.py``). A goal that must wait is
left in ACCEPTED; ``goal_handle.execute()`` (ACCEPTED -> EXECUTING, then the execute
callback) is called only when it may run, or when it must end (canceled, preempted, node
inactive) so that its execute callback can answer with a result.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from rclpy.action.server import ServerGoalHandle

from dream_engine_ros.ros.busy_policy import Ticket
from dream_engine_ros.ros.rollout_job import RolloutJob, RolloutOutcome

GoalHandle = ServerGoalHandle[Any, Any, Any]
"""A goal handle of either action (the generated messages carry no type information)."""

StopCheck = Callable[[], bool]
"""Polled by the worker: True once its goal must stop (canceled, preempted, orphaned, node inactive)."""

RolloutWork = Callable[[RolloutJob, GoalHandle, StopCheck], RolloutOutcome]
"""The worker-thread body of one action: job, its goal handle, its stop check -> outcome."""


@dataclass(eq=False)
class AcceptedGoal:
    """One accepted goal: its handle, its place in line, and what its worker will run."""

    goal_handle: GoalHandle
    work: RolloutWork
    feedback_topic: str  # subscribed by every client of the goal's action (see the orphan watch)
    ticket: Ticket
    accepted_at: float = field(default_factory=time.monotonic)
    job: RolloutJob | None = None
    intake_error: Exception | None = None  # raised again by the execute callback: the goal's result
    executing: bool = False

    @classmethod
    def create(cls, goal_handle: GoalHandle, work: RolloutWork, feedback_topic: str) -> AcceptedGoal:
        """A goal just accepted; its ticket is named after the goal id."""
        return cls(goal_handle, work, feedback_topic, Ticket(bytes(goal_handle.goal_id.uuid).hex()))

    @property
    def goal_id(self) -> bytes:
        return bytes(self.goal_handle.goal_id.uuid)

    def start_execution(self) -> None:
        """Hand the goal to its execute callback, once. A goal whose cancel was already
        accepted skips EXECUTING (rclpy's ``execute``) and goes straight to its result."""
        if not self.executing:
            self.executing = True
            self.goal_handle.execute()
