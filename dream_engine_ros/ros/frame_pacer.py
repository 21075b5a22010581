"""Publish a goal's predicted frames at a steady rate, from a thread of their own.

Why: the engine decodes a chunk's 12-13 frames at once. Published as one burst, a
best-effort depth-5 subscriber (sensor-data QoS) kept 20 of 49 frames. The pacer spaces
frames at least 1 / rate apart while the rollout worker goes on computing the next chunk.
"""

from __future__ import annotations

import threading
import time
from collections import deque
from collections.abc import Callable
from typing import Generic, TypeVar

T = TypeVar("T")
STOP_POLL_S = 0.05  # how often a waiting worker looks at its cancel hook


class FramePacer(Generic[T]):
    """A queue drained by one thread that calls ``publish(item)`` at most ``rate_hz`` times a second.

    ``rate_hz <= 0`` publishes as soon as an item is queued (no pacing).
    """

    def __init__(self, publish: Callable[[T], None], rate_hz: float, name: str = "frame-pacer") -> None:
        self._publish = publish
        self._period = 1.0 / rate_hz if rate_hz > 0 else 0.0
        self._condition = threading.Condition()
        self._pending: deque[T] = deque()
        self._closed = False  # no more items: drain, then end
        self._aborted = False  # end now, dropping what is queued
        self.published = 0
        self.error: Exception | None = None
        self._thread = threading.Thread(target=self._run, name=name, daemon=True)
        self._thread.start()

    def put(self, item: T) -> None:
        with self._condition:
            self._pending.append(item)
            self._condition.notify_all()

    def finish(self, should_stop: Callable[[], bool], timeout_s: float | None = None) -> bool:
        """Publish what is queued, then end; True when all left (False: stopped or timed out)."""
        with self._condition:
            self._closed = True
            self._condition.notify_all()
        deadline = None if timeout_s is None else time.monotonic() + timeout_s
        while self._thread.is_alive():
            if should_stop() or (deadline is not None and time.monotonic() >= deadline):
                self.abort()
                return False
            self._thread.join(STOP_POLL_S)
        return not self._aborted

    def abort(self, join_timeout_s: float = 5.0) -> None:
        """Drop what is queued and wait for the thread (it never publishes after this returns,
        unless one publish call itself outlasts ``join_timeout_s``)."""
        with self._condition:
            self._aborted = True
            self._pending.clear()
            self._condition.notify_all()
        if self._thread is not threading.current_thread():
            self._thread.join(join_timeout_s)

    def _next_item(self, due: float) -> T | None:
        """Wait for an item and its turn; None when the pacer must end."""
        with self._condition:
            while not self._aborted and not self._pending and not self._closed:
                self._condition.wait()
            while not self._aborted and self._pending and (now := time.monotonic()) < due:
                self._condition.wait(due - now)
            if self._aborted or not self._pending:
                return None
            return self._pending.popleft()

    def _run(self) -> None:
        due = 0.0
        while (item := self._next_item(due)) is not None:
            started = time.monotonic()
            try:
                self._publish(item)
            except Exception as error:  # noqa: BLE001 - e.g. publisher gone: stop, the worker reports it
                self.error = error
                with self._condition:
                    self._aborted = True
                    self._pending.clear()
                return
            self.published += 1
            due = started + self._period
