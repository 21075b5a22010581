"""Write finished samples on one thread while rollouts go on.

Why: writing a bag (serialising, the rosbag2 metadata, two fsyncs) costs ~20 ms, a tenth of a short
PushT rollout. On its own thread it overlaps the next rollout instead of delaying it. The queue is
bounded, so a writer that falls behind slows the producer down instead of piling frames up in memory.
A write error is raised again in the producer at its next `submit` or at `close`.
"""

from __future__ import annotations

import queue
import threading
import time
from collections.abc import Callable
from typing import Generic, TypeVar

Item = TypeVar("Item")
_STOP = object()


class BackgroundWriter(Generic[Item]):
    def __init__(self, write: Callable[[Item], None], depth: int = 4) -> None:
        self._write = write
        self._queue: queue.Queue[object] = queue.Queue(maxsize=depth)
        self._error: BaseException | None = None
        self.wait_s = 0.0  # time the producer spent blocked on the writer (its real cost)
        self._thread = threading.Thread(target=self._run, name="augment-writer", daemon=True)
        self._thread.start()

    def _run(self) -> None:
        while True:
            item = self._queue.get()
            if item is _STOP:
                return
            if self._error is not None:
                continue  # drain without writing after a failure
            try:
                self._write(item)  # type: ignore[arg-type]  # only Items and _STOP are queued
            except BaseException as exc:  # handed to the producer
                self._error = exc

    def _raise(self) -> None:
        if self._error is not None:
            raise self._error

    def submit(self, item: Item) -> None:
        self._raise()
        start = time.perf_counter()
        self._queue.put(item)
        self.wait_s += time.perf_counter() - start

    def close(self) -> None:
        """Write what is queued, stop the thread, raise a write error if there was one."""
        start = time.perf_counter()
        self._queue.put(_STOP)
        self._thread.join()
        self.wait_s += time.perf_counter() - start
        self._raise()
