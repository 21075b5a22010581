"""The life of an accepted goal, shared by both actions: busy policy, worker, terminal state.

Path of a goal: goal callback (serving?) -> ``admit`` (intake, then the busy policy: execute
now, wait in ACCEPTED, or preempt the running goal; see accepted_goal) -> ``execute`` (the
worker runs the goal's work) -> its typed result (goal_results), then the next queued goal.

Why a class of its own: this bookkeeping (which goals wait, which one runs, why one stops)
is independent of how a job is checked (goal_intake) or run on the model
(rollout_execution); the lifecycle node only switches serving on and off.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any, TypeVar, cast

from rclpy.action import CancelResponse, GoalResponse
from rclpy.node import Node

from dream_engine_ros.engine.errors import InputError, RolloutCancelled
from dream_engine_ros.ros.accepted_goal import AcceptedGoal, GoalHandle
from dream_engine_ros.ros.busy_policy import Decision, RolloutSlots, Ticket
from dream_engine_ros.ros.engine_protocol import WorldModelEngine
from dream_engine_ros.ros.error_codes import ErrorCode, GoalFailure
from dream_engine_ros.ros.goal_results import GoalEnd
from dream_engine_ros.ros.goal_validation import failure_from_input_error
from dream_engine_ros.ros.rollout_execution import StopRequested
from dream_engine_ros.ros.rollout_job import RolloutJob, RolloutOutcome
from dream_engine_ros.ros.video_output import remove_videos
from dream_engine_ros.ros.worker_bridge import WorkerThreads, require_executor

ResultT = TypeVar("ResultT")  # Rollout.Result or RolloutBatch.Result
GoalPreparer = Callable[[bytes, Any], RolloutJob]  # goal id, goal message -> job; raises GoalFailure
WORKER_JOIN_TIMEOUT_S = 10.0  # a worker polls its stop hook per step and per candidate (~1 s)


class GoalFlow:
    """The accepted goals of one node, from admission to result.

    ``node`` is used for its executor, logger and graph; ``lifecycle_state`` and ``engine``
    are read when a goal ends (its message, its result's spec and fps).
    """

    def __init__(self, node: Node, worker_name: str, lifecycle_state: Callable[[], str],
                 engine: Callable[[], WorldModelEngine | None]) -> None:
        self._node = node
        self._lifecycle_state = lifecycle_state
        self._engine = engine
        self._serving = False  # cleared first on deactivate/shutdown (the workers' stop signal)
        self._shutting_down = False
        self._slots = RolloutSlots("reject", 1)
        self._goals: dict[bytes, AcceptedGoal] = {}  # accepted, no result yet (queued ones included)
        self._workers = WorkerThreads(worker_name)
        self.goals_orphaned = 0  # goals stopped because every client of their action was gone

    # ------------------------------------------------------------------ the node's switches
    def set_busy_policy(self, busy_policy: str, max_queue: int) -> None:
        self._slots = RolloutSlots(busy_policy, max_queue)

    def start_serving(self) -> None:
        self._serving = True

    def end_queued_goals(self) -> None:
        """Stop serving: queued goals are handed to their execute callbacks, which end them
        (NOT_ACTIVE); the running one stops at its worker's next check."""
        self._serving = False  # also the running worker's stop signal (see _should_stop)
        for goal in self._goals_holding(self._slots.drain()):
            self._execute_to_end(goal)

    def stop_serving(self) -> None:
        """Refuse new goals, end queued ones, let running ones stop, wait for workers."""
        self.end_queued_goals()
        if not self._workers.join(WORKER_JOIN_TIMEOUT_S):
            self._node.get_logger().warning(f"a rollout worker did not stop within {WORKER_JOIN_TIMEOUT_S:g} s")

    def begin_shutdown(self) -> None:
        """Refuse goals for good (their messages say why), end queued ones, stop the running one."""
        self._shutting_down = True
        self.end_queued_goals()

    def is_idle(self) -> bool:
        return not self._goals and self._workers.alive() == 0

    def workers_alive(self) -> int:
        return self._workers.alive()

    @property
    def goal_running(self) -> bool:
        return self._slots.running is not None

    # ------------------------------------------------------------------ action server callbacks
    def on_goal_request(self, goal: Any) -> GoalResponse:
        if not self._serving:
            self._node.get_logger().warning(f"goal rejected: node is {self._lifecycle_state()}, not active")
            return GoalResponse.REJECT
        return GoalResponse.ACCEPT

    def on_cancel_request(self, goal_handle: GoalHandle) -> CancelResponse:
        """A running goal sees the cancel at its worker's next check; a queued one is ended
        now (after rclpy has moved it to CANCELING, so it never shows EXECUTING)."""
        goal = self._goals.get(bytes(goal_handle.goal_id.uuid))
        if goal is not None:
            self._execute_to_end(goal)
        return CancelResponse.ACCEPT

    def feedback_topic(self, action_name: str) -> str:
        return f"{self._node.get_fully_qualified_name()}/{action_name}/_action/feedback"

    def admit(self, goal: AcceptedGoal, prepare: GoalPreparer) -> None:
        """Validate the goal, then let the busy policy decide: execute it now, leave it queued
        in ACCEPTED, or queue it and preempt the running one. A goal that cannot run (invalid,
        BUSY, node not active) executes at once: its execute callback answers with the error."""
        self._goals[goal.goal_id] = goal
        try:
            if not self._serving:
                raise GoalFailure(ErrorCode.NOT_ACTIVE, f"node is {self._lifecycle_state()}, not active")
            goal.job = prepare(goal.goal_id, goal.goal_handle.request)
            decision, victims = self._slots.admit(goal.ticket)
            if decision is Decision.REJECT:
                raise self._busy_failure()
        except Exception as error:  # noqa: BLE001 - every intake failure becomes the goal's result
            goal.intake_error = error
            goal.start_execution()
            return
        for victim in self._goals_holding(victims):
            self._execute_to_end(victim)  # the running one stops at its worker's next check
        if decision is Decision.RUN:
            goal.start_execution()
        elif goal.goal_handle.is_cancel_requested:
            self._execute_to_end(goal)

    async def execute(self, goal_handle: GoalHandle, build_result: Callable[[GoalEnd], ResultT]) -> ResultT:
        """Run the goal to its end, answer with its action's result, then give the slot to the
        next queued goal (so no two goals ever show EXECUTING together)."""
        goal_id = bytes(goal_handle.goal_id.uuid)
        goal = self._goals.get(goal_id)
        try:
            end = await self._run_to_end(goal_handle, goal)
            result = build_result(end)
            _set_terminal_state(goal_handle, end)  # last, right before the result (rclpy result races)
            return result
        finally:
            self._goals.pop(goal_id, None)
            if goal is not None:
                self._start_next(self._slots.release(goal.ticket))

    def watch_clients(self) -> None:
        """Every action client subscribes to its action's feedback topic. When nobody does any
        more, every client of that action is gone (a planner that died or exited without
        canceling): its goals stop at their next check instead of holding the node busy for a
        result nobody will read. (A client killed without a goodbye is noticed when DDS drops
        its participant, after the lease duration.)"""
        for goal in list(self._goals.values()):
            topic, ticket = goal.feedback_topic, goal.ticket
            if not ticket.orphaned and self._node.count_subscribers(topic) == 0:
                ticket.orphaned = True
                self.goals_orphaned += 1
                self._node.get_logger().warning(f"goal {ticket.name[:8]}: no client of "
                                                f"{topic.rsplit('/_action', 1)[0]} is left; stopping it")
                self._execute_to_end(goal)

    # ------------------------------------------------------------------ internals
    def _busy_failure(self) -> GoalFailure:
        slots = self._slots
        detail = "a rollout is running" if slots.policy == "reject" else f"the queue is full ({slots.max_queue})"
        return GoalFailure(ErrorCode.BUSY, f"busy: {detail} (busy_policy={slots.policy})")

    def _execute_to_end(self, goal: AcceptedGoal) -> None:
        """A goal that waits in ACCEPTED must end (canceled, preempted, orphaned, node
        inactive): its execute callback finds it not running and answers why. Scheduled on the
        executor, so callers on any thread, and rclpy's own cancel transition, come first."""
        executor = self._node.executor
        if not goal.executing and executor is not None:
            executor.create_task(goal.start_execution)

    def _goals_holding(self, tickets: list[Ticket]) -> list[AcceptedGoal]:
        return [goal for goal in list(self._goals.values()) if goal.ticket in tickets]

    def _start_next(self, ticket: Ticket | None) -> None:
        """The slot is free: the busy policy's next goal leaves ACCEPTED and executes."""
        for goal in self._goals_holding([ticket] if ticket is not None else []):
            goal.start_execution()

    def _should_stop(self, goal_handle: GoalHandle, ticket: Ticket) -> bool:
        """Polled by the engine per denoising step and per candidate decode/encode, and by the
        worker per mp4 and while the frame stream drains (worker thread)."""
        return goal_handle.is_cancel_requested or ticket.preempted or ticket.orphaned or not self._serving

    async def _run_to_end(self, goal_handle: GoalHandle, goal: AcceptedGoal | None) -> GoalEnd:
        """What both actions share after the accepted callback's decision: the worker's outcome,
        or the reason the goal ends without one."""
        end = GoalEnd(seed=int(goal_handle.request.seed))
        engine = self._engine()
        if engine is not None:
            end.spec_name, end.fps = str(engine.spec.name), float(engine.spec.fps)
        if goal is None:  # only goals this node accepted reach here
            end.failure = GoalFailure(ErrorCode.ENGINE_ERROR, "goal was never admitted")
            return end
        ticket = goal.ticket
        try:
            if goal.job is not None:
                end.start_stamp_ns = goal.job.start.stamp_ns
            if goal.intake_error is not None:
                raise goal.intake_error
            if goal.job is None or self._slots.running is not ticket or self._should_stop(goal_handle, ticket):
                raise self._stop_reason(goal_handle, ticket, waited=True)  # ended before its turn came
            end.wait_s = time.monotonic() - goal.accepted_at
            job, work = goal.job, goal.work

            def should_stop() -> bool:
                return self._should_stop(goal_handle, ticket)

            executor = require_executor(self._node)
            work_future = self._workers.start(executor, lambda: work(job, goal_handle, should_stop))
            end.outcome = cast(RolloutOutcome, await work_future)  # the worker's return value (or it raised)
        except GoalFailure as refused:
            end.failure = refused
        except (RolloutCancelled, StopRequested):
            end.failure = self._stop_reason(goal_handle, ticket)
        except InputError as error:
            end.failure = failure_from_input_error(error)
        except Exception as error:  # noqa: BLE001 - every failure becomes a result
            self._node.get_logger().error(f"rollout failed: {type(error).__name__}: {error}")
            end.failure = GoalFailure(ErrorCode.ENGINE_ERROR, f"{type(error).__name__}: {error}")
        if end.succeeded and goal_handle.is_cancel_requested:
            remove_videos(end.outcome.video_paths if end.outcome else [])  # no mp4 survives a cancel
            end.failure = self._stop_reason(goal_handle, ticket)
        if end.failure is not None:
            self._node.get_logger().info(
                f"goal {goal.goal_id.hex()[:8]} ended: {end.failure.code.name}: {end.failure.message}"
            )
        end.total_s = time.monotonic() - goal.accepted_at
        return end

    def _stop_reason(self, goal_handle: GoalHandle, ticket: Ticket | None, waited: bool = False) -> GoalFailure:
        where = "while queued" if waited else "during the rollout"
        if goal_handle.is_cancel_requested:
            return GoalFailure(ErrorCode.CANCELED, f"canceled by the client {where}")
        if ticket is not None and ticket.preempted:
            return GoalFailure(ErrorCode.PREEMPTED, f"preempted by a newer goal {where} (busy_policy=preempt)")
        if ticket is not None and ticket.orphaned:
            return GoalFailure(ErrorCode.CANCELED, f"stopped {where}: no client of this action is left to receive "
                               "the result")
        if self._shutting_down:
            return GoalFailure(ErrorCode.NOT_ACTIVE, f"node is shutting down (signal) {where}")
        return GoalFailure(ErrorCode.NOT_ACTIVE, f"node left the active state {where} ({self._lifecycle_state()})")


def _set_terminal_state(goal_handle: GoalHandle, end: GoalEnd) -> None:
    if end.failure is None:
        goal_handle.succeed()
    elif end.failure.code == ErrorCode.CANCELED and goal_handle.is_cancel_requested:
        goal_handle.canceled()
    else:
        goal_handle.abort()
