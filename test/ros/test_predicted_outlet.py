"""PredictedImageOutlet: predicted frames leave only while a publisher is attached (no ROS graph)."""

from __future__ import annotations

from typing import Any

import numpy as np
from builtin_interfaces.msg import Time

from dream_engine_ros.ros.rollout_execution import PredictedImageOutlet


class RecordingPublisher:
    def __init__(self) -> None:
        self.sent: list[Any] = []

    def publish(self, message: Any) -> None:
        self.sent.append(message)


def frame(value: int) -> tuple[np.ndarray, Time, str]:
    return np.full((2, 3, 3), value, np.uint8), Time(sec=1, nanosec=value), "camera"


def test_frames_leave_only_between_attach_and_detach():
    outlet = PredictedImageOutlet()
    outlet.publish(frame(1))  # before configure: dropped, not an error
    publisher = RecordingPublisher()
    outlet.attach(publisher)
    outlet.publish(frame(2))
    assert outlet.detach() is publisher
    outlet.publish(frame(3))  # the pacer thread after teardown: dropped
    assert outlet.detach() is None
    assert [(m.header.stamp.nanosec, m.header.frame_id, m.width, m.height, bytes(m.data)[:1]) for m in publisher.sent] \
        == [(2, "camera", 3, 2, b"\x02")]
