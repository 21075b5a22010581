"""SIGINT / SIGTERM as a shutdown request instead of an exception.

Why: ``ros2 launch`` forwards Ctrl-C, so a node started from a terminal gets SIGINT twice
(ros2/launch#830). rclpy's own handler (or Python's KeyboardInterrupt) fires wherever the
main thread happens to be, including inside teardown, which left tracebacks and aborts. Here
every signal only sets an event; the main loop polls it and tears down in order. A second
signal finds the event already set and does nothing. The process mains of the engine node,
the planner and the simulator share this whole sequence: ``init_with_shutdown_signals``,
``main_thread_executor`` (teardown order) and ``spin_until_signal``.
"""

from __future__ import annotations

import signal
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from types import FrameType

import rclpy
from rclpy.executors import Executor, ExternalShutdownException, SingleThreadedExecutor
from rclpy.node import Node
from rclpy.signals import SignalHandlerOptions

HANDLED_SIGNALS: tuple[signal.Signals, ...] = (signal.SIGINT, signal.SIGTERM)
SPIN_POLL_S = 0.1  # how long one spin_once may block before the shutdown flag is looked at again


class ShutdownSignals:
    """Installs SIGINT/SIGTERM handlers that record the signal and set ``event``."""

    def __init__(self) -> None:
        self.event = threading.Event()
        self.first_signal: signal.Signals | None = None

    @classmethod
    def install(cls) -> ShutdownSignals:
        """Must run in the main thread, before rclpy.init(signal_handler_options=NO)."""
        signals = cls()
        for signum in HANDLED_SIGNALS:
            signal.signal(signum, signals._handle)
        return signals

    def _handle(self, signum: int, frame: FrameType | None) -> None:
        if self.first_signal is None:
            self.first_signal = signal.Signals(signum)
        self.event.set()

    @property
    def requested(self) -> bool:
        return self.event.is_set()

    @property
    def exit_code(self) -> int:
        """128 + signal number, the shell's convention for a client that was interrupted."""
        return 128 + int(self.first_signal) if self.first_signal is not None else 0

    def sleep(self, seconds: float) -> bool:
        """Sleep unless a shutdown is requested; True when one was."""
        return self.event.wait(seconds)


def spin_until(executor: Executor, done: Callable[[], bool], timeout_s: float | None = None) -> bool:
    """spin_once until ``done()``; False when ``timeout_s`` ran out first."""
    deadline = None if timeout_s is None else time.monotonic() + timeout_s
    while not done():
        if deadline is not None and time.monotonic() >= deadline:
            return False
        executor.spin_once(timeout_sec=SPIN_POLL_S)
    return True


def init_with_shutdown_signals() -> ShutdownSignals:
    """Our SIGINT/SIGTERM handlers first, then rclpy.init without its own (main thread only)."""
    signals = ShutdownSignals.install()  # kept until exit: a late second signal stays harmless
    rclpy.init(signal_handler_options=SignalHandlerOptions.NO)
    return signals


def spin_until_signal(executor: Executor, node: Node, signals: ShutdownSignals) -> None:
    """Spin until SIGINT/SIGTERM (or the context is shut down elsewhere), then log which."""
    spin_until(executor, lambda: signals.requested or not rclpy.ok())
    reason = signals.first_signal.name if signals.first_signal is not None else "context"
    node.get_logger().info(f"{reason}: shutting down")


@contextmanager
def main_thread_executor(node: Node) -> Iterator[SingleThreadedExecutor]:
    """An executor for ``node`` that the caller spins; on leaving, whatever happened, the
    executor, then the node, then the context go, in that order."""
    executor = SingleThreadedExecutor()
    executor.add_node(node)
    try:
        yield executor
    except ExternalShutdownException:
        pass  # the context went away under us: nothing left to spin
    finally:
        executor.shutdown()
        node.destroy_node()
        rclpy.try_shutdown()
