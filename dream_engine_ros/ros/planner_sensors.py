"""What a planner's worker thread waits on: the robot's camera frames, the latched goal image and
the robot's own goal_reached, filled by subscription callbacks, read under one condition.

Why frames are kept as messages: a camera may publish far more frames than a planner uses; a
frame is converted only when the planner sends it (the engine converts it) or films it.
"""

from __future__ import annotations

import threading
import time
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass
from typing import TypeVar

from sensor_msgs.msg import Image

from dream_engine_ros.ros.frame_stamps import time_to_ns

T = TypeVar("T")


@dataclass(frozen=True)
class CameraFrame:
    message: Image
    stamp_ns: int  # the header's stamp; the arrival time for an unstamped frame


class PlannerSensors:
    """Thread-safe latest values; `wait` blocks a worker until one is there."""

    def __init__(self, now_ns: Callable[[], int], keep: int = 8) -> None:
        self._now_ns = now_ns
        self._condition = threading.Condition()
        self._frames: deque[CameraFrame] = deque(maxlen=keep)
        self._goal_image: Image | None = None
        self._goal_reached = False

    def on_image(self, message: Image) -> None:
        stamp_ns = time_to_ns(message.header.stamp) or self._now_ns()
        with self._condition:
            self._frames.append(CameraFrame(message, stamp_ns))
            self._condition.notify_all()

    def on_goal_image(self, message: Image) -> None:
        with self._condition:
            self._goal_image = message
            self._condition.notify_all()

    def on_goal_reached(self, reached: bool) -> None:
        with self._condition:
            self._goal_reached = self._goal_reached or reached
            self._condition.notify_all()

    @property
    def goal_image(self) -> Image | None:
        with self._condition:
            return self._goal_image

    @property
    def goal_reached(self) -> bool:
        """True once the robot said so since `clear_goal_reached`."""
        with self._condition:
            return self._goal_reached

    def clear_goal_reached(self) -> None:
        """A new goal starts: only what the robot says from now on counts."""
        with self._condition:
            self._goal_reached = False

    def latest_frame(self) -> CameraFrame | None:
        with self._condition:
            return self._frames[-1] if self._frames else None

    def frame_after(self, stamp_ns: int) -> CameraFrame | None:
        """The newest frame stamped after `stamp_ns` (e.g. a command's stamp), None before one came."""
        with self._condition:
            return self._frames[-1] if self._frames and self._frames[-1].stamp_ns > stamp_ns else None

    def wait(self, ready: Callable[[], T | None], timeout_s: float, stop: threading.Event | None = None) -> T | None:
        """Block until `ready()` returns something (its value) or `timeout_s` passes or `stop` is set (None)."""
        deadline = time.monotonic() + timeout_s
        with self._condition:
            while True:
                value = ready()
                remaining = deadline - time.monotonic()
                if value is not None or remaining <= 0 or (stop is not None and stop.is_set()):
                    return value
                self._condition.wait(min(remaining, 0.1))
