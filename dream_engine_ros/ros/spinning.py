"""Spin nodes on a SingleThreadedExecutor in a background thread, and stop cleanly.

Why: the CLI, the demo, the tests and the bench all need "node runs while my code does
something else", and the shutdown order (executor.shutdown, join the spin thread,
then destroy nodes, then rclpy.shutdown) is easy to get wrong in each of them.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from typing import TypeVar

from rclpy.executors import ExternalShutdownException, SingleThreadedExecutor
from rclpy.node import Node
from rclpy.task import Future

T = TypeVar("T")


class SpinningExecutor:
    """A SingleThreadedExecutor spinning the given nodes on a daemon thread."""

    def __init__(self, *nodes: Node, name: str = "ros-spin") -> None:
        context = nodes[0].context if nodes else None
        self.executor = SingleThreadedExecutor(context=context)
        for node in nodes:
            self.executor.add_node(node)
        self._thread = threading.Thread(target=self._spin, name=name, daemon=True)
        self._thread.start()

    def _spin(self) -> None:
        try:
            self.executor.spin()
        except ExternalShutdownException:
            pass

    def add_node(self, node: Node) -> None:
        self.executor.add_node(node)

    def shutdown(self, timeout_s: float = 10.0) -> None:
        """Stop spinning and wait for the spin thread (nodes stay alive for the caller)."""
        self.executor.shutdown(timeout_sec=timeout_s)
        self._thread.join(timeout_s)

    def __enter__(self) -> SpinningExecutor:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.shutdown()


class Interrupted(Exception):
    """A wait ended because ``stop`` was set (a shutdown signal), not because of its future."""


def wait_for_future(
    future: Future[T], timeout_s: float, what: str = "future", stop: threading.Event | None = None
) -> T | None:
    """Block the calling (non-executor) thread until ``future`` is done; TimeoutError otherwise,
    Interrupted as soon as ``stop`` is set (so a signal ends a wait on a server that is gone).
    Returns the future's result (None only for a cancelled future, as rclpy's ``Future.result``)."""
    done = threading.Event()
    future.add_done_callback(lambda _: done.set())
    deadline = time.monotonic() + timeout_s
    while not done.is_set() and not future.done():
        if stop is not None and stop.is_set():
            raise Interrupted(f"{what}: interrupted")
        remaining = deadline - time.monotonic()
        if remaining <= 0:
            raise TimeoutError(f"{what} not done within {timeout_s:g} s")
        done.wait(min(remaining, 0.1) if stop is not None else remaining)
    return future.result()


def wait_until(condition: Callable[[], bool], timeout_s: float, what: str, poll_s: float = 0.01) -> None:
    """Poll ``condition`` until true; TimeoutError naming ``what`` otherwise."""
    deadline = time.monotonic() + timeout_s
    while not condition():
        if time.monotonic() > deadline:
            raise TimeoutError(f"{what} not reached within {timeout_s:g} s")
        time.sleep(poll_s)
