"""Latest-frame camera cache (depth 1) that refuses frames older than a maximum age.

Why keep the raw message: decoding every incoming 30 Hz frame would waste CPU the model
needs; a frame is decoded only when a goal actually uses it.

Why age is judged by two clocks: the header stamp says how old the picture is, but a camera
computer whose clock runs fast stamps frames in the future, and such a frame would never
look old. Age is therefore the larger of ``now - stamp`` and ``now - arrival`` (both on the
node clock), so a frame also goes stale once it has been held longer than the limit.
"""

from __future__ import annotations

import threading
from dataclasses import dataclass
from typing import Generic, TypeVar

Payload = TypeVar("Payload")

NANOS_PER_SECOND = 1_000_000_000


@dataclass(frozen=True)
class CachedFrame(Generic[Payload]):
    """One camera message with the times needed to judge its age."""

    payload: Payload
    stamp_ns: int  # header stamp (0 when the publisher left it unset)
    frame_id: str
    received_ns: int  # node clock when the message arrived

    @property
    def reference_ns(self) -> int:
        """Time the frame shows: its header stamp, or arrival when the stamp is unset."""
        return self.stamp_ns if self.stamp_ns > 0 else self.received_ns

    def age_ns(self, now_ns: int) -> int:
        """max(now - stamp, now - arrival): a future stamp cannot keep a frame fresh forever."""
        return max(now_ns - self.reference_ns, now_ns - self.received_ns)


class NoFrameError(LookupError):
    """No camera frame has arrived yet."""


class StaleFrameError(LookupError):
    """The latest camera frame is older than allowed."""

    def __init__(self, age_s: float, max_age_s: float) -> None:
        self.age_s = age_s
        self.max_age_s = max_age_s
        super().__init__(f"latest camera frame is {age_s:.3f} s old, older than max_frame_age_s={max_age_s:g}")


class LatestFrameCache(Generic[Payload]):
    """Thread-safe holder of the newest frame; ``latest()`` enforces the age limit."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._frame: CachedFrame[Payload] | None = None

    def put(self, payload: Payload, stamp_ns: int, frame_id: str, received_ns: int) -> None:
        """Replace the cached frame (depth 1: older frames are simply dropped)."""
        frame = CachedFrame(payload, int(stamp_ns), frame_id, int(received_ns))
        with self._lock:
            self._frame = frame

    def clear(self) -> None:
        with self._lock:
            self._frame = None

    def peek(self) -> CachedFrame[Payload] | None:
        with self._lock:
            return self._frame

    def latest(self, now_ns: int, max_age_s: float) -> CachedFrame[Payload]:
        """Newest frame if it is at most ``max_age_s`` old (``max_age_s <= 0``: no limit).

        Age is ``CachedFrame.age_ns``: by header stamp and by arrival, whichever is older.
        """
        frame = self.peek()
        if frame is None:
            raise NoFrameError("no camera frame received yet on the image topic")
        age_s = frame.age_ns(now_ns) / NANOS_PER_SECOND
        if max_age_s > 0 and age_s > max_age_s:
            raise StaleFrameError(age_s, max_age_s)
        return frame
