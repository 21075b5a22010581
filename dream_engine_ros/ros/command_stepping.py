"""When the next action may go out, and which camera frame shows what the last one did.

    "frame": after each command wait for a camera frame stamped after it (a simulated robot
             that steps once per command, or any robot whose camera answers each step);
    "rate":  one command per 1 / fps s, the spec's control rate (a robot that runs on its own
             clock); the frame is the latest one at the tick.

Why two modes: a model predicts one frame per action at the spec's fps. A robot stepped by
commands must be waited for, or the planner would race ahead of it; a robot on its own clock
must be commanded at the rate the model was trained on, whatever the camera does.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable

from dream_engine_ros.ros.planner_sensors import CameraFrame, PlannerSensors
from dream_engine_ros.ros.spinning import Interrupted


class StepTimeout(Exception):
    """The robot's camera did not show the step in time."""


class FrameStepper:
    """Step mode "frame": command, then wait for a camera frame stamped after the command."""

    def __init__(self, sensors: PlannerSensors, timeout_s: float, stop: threading.Event) -> None:
        self._sensors, self._timeout_s, self._stop = sensors, timeout_s, stop

    def step(self, command: Callable[[], int]) -> CameraFrame:
        """`command()` publishes and returns its stamp (ns); the newest frame stamped after it."""
        stamp_ns = command()
        frame = self._sensors.wait(lambda: self._sensors.frame_after(stamp_ns), self._timeout_s, self._stop)
        if frame is not None:
            return frame
        if self._stop.is_set():
            raise Interrupted("stopped while waiting for the robot")
        raise StepTimeout(f"no camera frame stamped after the command within {self._timeout_s:g} s")


class RateStepper:
    """Step mode "rate": commands on a fixed period; a pause (a replan) restarts the schedule
    instead of sending the missed ticks in a burst."""

    def __init__(self, sensors: PlannerSensors, period_s: float, timeout_s: float, stop: threading.Event) -> None:
        self._sensors, self._period_s, self._timeout_s, self._stop = sensors, period_s, timeout_s, stop
        self._next_tick: float | None = None

    def step(self, command: Callable[[], int]) -> CameraFrame:
        now = time.monotonic()
        if self._next_tick is None or now > self._next_tick + self._period_s:
            self._next_tick = now
        command()
        self._next_tick += self._period_s
        if self._stop.wait(max(0.0, self._next_tick - time.monotonic())):
            raise Interrupted("stopped while waiting for the next control tick")
        frame = self._sensors.wait(self._sensors.latest_frame, self._timeout_s, self._stop)
        if frame is None:
            raise StepTimeout(f"no camera frame within {self._timeout_s:g} s")
        return frame
