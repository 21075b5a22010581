"""Stamps of predicted frames: frame k shows the world k / fps after the start frame."""

from __future__ import annotations

from builtin_interfaces.msg import Time

NANOS_PER_SECOND = 1_000_000_000


def time_to_ns(stamp: Time) -> int:
    return int(stamp.sec) * NANOS_PER_SECOND + int(stamp.nanosec)


def ns_to_time(nanoseconds: int) -> Time:
    sec, nanosec = divmod(int(nanoseconds), NANOS_PER_SECOND)
    return Time(sec=sec, nanosec=nanosec)


def predicted_frame_stamp(start_ns: int, frame_index: int, fps: float) -> Time:
    """Stamp of frame ``frame_index`` (0 = the start frame), rounded to the nanosecond."""
    return ns_to_time(start_ns + round(frame_index * NANOS_PER_SECOND / fps))
