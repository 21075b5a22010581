"""Who runs when a goal arrives while another rollout is running: reject | queue | preempt.

Why a separate state machine: the three policies are the part of the node most likely to
be wrong in corner cases (cancel while queued, preempting a queue), so the bookkeeping is
kept free of ROS and tested on its own. The node owns the goal states (a waiting goal stays
ACCEPTED until the node executes it, see accepted_goal.py); this class only decides.
"""

from __future__ import annotations

from collections import deque
from dataclasses import dataclass
from enum import Enum


class Decision(Enum):
    RUN = "run"  # start now
    WAIT = "wait"  # queued; started later by release()
    REJECT = "reject"  # answer BUSY


@dataclass(eq=False)
class Ticket:
    """One goal's place in line. ``preempted`` is read by the worker's cancel check."""

    name: str
    preempted: bool = False
    orphaned: bool = False  # no client of the goal's action is left to receive its result


class RolloutSlots:
    """One running rollout at a time, plus an optional FIFO queue."""

    def __init__(self, policy: str, max_queue: int) -> None:
        if policy not in ("reject", "queue", "preempt"):
            raise ValueError(f"busy_policy: {policy!r} is not one of reject, queue, preempt")
        self.policy = policy
        self.max_queue = max(1, max_queue)
        self.running: Ticket | None = None
        self.queue: deque[Ticket] = deque()

    @property
    def busy(self) -> bool:
        return self.running is not None or bool(self.queue)

    def admit(self, ticket: Ticket) -> tuple[Decision, list[Ticket]]:
        """Decide for a new ticket; also return tickets this one preempts (already marked)."""
        if not self.busy:
            self.running = ticket
            return Decision.RUN, []
        if self.policy == "reject":
            return Decision.REJECT, []
        if self.policy == "queue":
            if len(self.queue) >= self.max_queue:
                return Decision.REJECT, []
            self.queue.append(ticket)
            return Decision.WAIT, []
        victims = ([self.running] if self.running is not None else []) + list(self.queue)
        for victim in victims:
            victim.preempted = True
        self.queue.clear()
        self.queue.append(ticket)
        return Decision.WAIT, victims

    def release(self, ticket: Ticket) -> Ticket | None:
        """The ticket is done (or left the queue); return the ticket to start next, if any."""
        if self.running is ticket:
            self.running = None
        elif ticket in self.queue:
            self.queue.remove(ticket)
        if self.running is None and self.queue:
            self.running = self.queue.popleft()
            return self.running
        return None

    def drain(self) -> list[Ticket]:
        """Forget every ticket (deactivate/cleanup); returns them so the node can wake them."""
        tickets = ([self.running] if self.running is not None else []) + list(self.queue)
        self.running = None
        self.queue.clear()
        return tickets
