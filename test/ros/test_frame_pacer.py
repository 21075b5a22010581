"""FramePacer: spacing, draining and stopping (plain threads, no ROS)."""

from __future__ import annotations

import time

import numpy as np

from dream_engine_ros.ros.frame_pacer import FramePacer


def test_items_leave_at_most_rate_per_second_and_all_arrive():
    sent: list[tuple[float, int]] = []
    pacer: FramePacer[int] = FramePacer(lambda item: sent.append((time.monotonic(), item)), rate_hz=50.0)
    for item in range(10):  # one burst, like a decoded chunk
        pacer.put(item)
    assert pacer.finish(lambda: False, timeout_s=5.0)
    assert [item for _, item in sent] == list(range(10))
    assert np.diff([t for t, _ in sent]).min() >= 0.019


def test_stop_request_drops_what_is_queued_quickly():
    sent: list[int] = []
    pacer: FramePacer[int] = FramePacer(sent.append, rate_hz=5.0)
    for item in range(20):
        pacer.put(item)
    started = time.monotonic()
    assert not pacer.finish(lambda: time.monotonic() - started > 0.3)
    assert time.monotonic() - started < 0.6
    count = len(sent)
    time.sleep(0.4)
    assert len(sent) == count < 20  # nothing leaves after the stop


def test_a_failing_publish_ends_the_pacer_and_keeps_the_error():
    def publish(item: int) -> None:
        raise RuntimeError("publisher's context is invalid")

    pacer: FramePacer[int] = FramePacer(publish, rate_hz=0.0)
    pacer.put(1)
    pacer.put(2)
    assert not pacer.finish(lambda: False, timeout_s=5.0)
    assert isinstance(pacer.error, RuntimeError) and pacer.published == 0
