"""Run a blocking call on a worker thread and await it from an rclpy coroutine.

Why: with a SingleThreadedExecutor (the multi-threaded one stalls in this rclpy release) the
rollout must not block the executor, or cancel requests, feedback and camera frames would stop
flowing. rclpy resumes an awaiting coroutine only when its wait
set wakes up, so the worker explicitly wakes the executor when it is done.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from typing import Any, TypeVar

from rclpy.executors import Executor
from rclpy.node import Node
from rclpy.task import Future

T = TypeVar("T")


def require_executor(node: Node) -> Executor:
    """The executor spinning ``node``; goals only run while there is one."""
    executor = node.executor
    if executor is None:
        raise RuntimeError("the node is not added to an executor")
    return executor


class WorkerThreads:
    """Starts worker threads, remembers the live ones, and joins them on shutdown."""

    def __init__(self, name: str) -> None:
        self._name = name
        self._lock = threading.Lock()
        self._threads: set[threading.Thread] = set()
        self._futures: dict[threading.Thread, Future[Any]] = {}

    def start(self, executor: Executor, work: Callable[[], T]) -> Future[T]:
        """Run ``work`` on a new thread; the returned future completes on the executor."""
        future: Future[T] = Future(executor=executor)

        def run() -> None:
            try:
                value = work()
            except Exception as error:  # noqa: BLE001 - handed to the awaiting coroutine
                future.set_exception(error)
            else:
                future.set_result(value)
            finally:
                with self._lock:
                    self._threads.discard(threading.current_thread())
                executor.wake()

        thread = threading.Thread(target=run, name=self._name, daemon=True)
        with self._lock:
            for ended in [t for t in self._futures if not t.is_alive()]:
                del self._futures[ended]  # their goals moved on: the map stays as small as the live set
            self._threads.add(thread)
            self._futures[thread] = future
        thread.start()
        return future

    def alive(self) -> int:
        """How many workers are still running."""
        with self._lock:
            return sum(thread.is_alive() for thread in self._threads)

    def join(self, timeout_s: float) -> bool:
        """Wait for every live worker; True when all ended within the timeout."""
        with self._lock:
            threads = list(self._threads)
        for thread in threads:
            thread.join(timeout_s)
        with self._lock:
            for thread, future in list(self._futures.items()):
                if not thread.is_alive():
                    # After a teardown no coroutine may await this future any more, and rclpy
                    # prints an unread exception ("never retrieved") when it is collected. The
                    # awaiting coroutine, if it still runs, gets the exception all the same.
                    future.exception()
                    del self._futures[thread]
        return not any(thread.is_alive() for thread in threads)

