"""The engine node's camera topics, feeding its latest-frame cache.

Why a class of its own: the subscriptions exist only between configure and cleanup, with the
QoS the parameters choose; goal intake only ever reads the cache they fill (camera_cache).
"""

from __future__ import annotations

from typing import Any

from rclpy.node import Node
from rclpy.qos import HistoryPolicy, QoSProfile, ReliabilityPolicy
from rclpy.subscription import Subscription
from sensor_msgs.msg import CompressedImage, Image

from dream_engine_ros.ros.camera_cache import LatestFrameCache
from dream_engine_ros.ros.frame_stamps import time_to_ns


class CameraInput:
    """Subscribes ``image`` (and optionally ``image/compressed``) into ``cache``."""

    def __init__(self, node: Node, cache: LatestFrameCache[Image | CompressedImage]) -> None:
        self._node = node
        self._cache = cache
        self._subscriptions: list[Subscription[Any]] = []

    def open(self, camera_reliability: str, camera_compressed: bool) -> None:
        """Subscribe (configure); the parameters' values, already checked."""
        reliability = ReliabilityPolicy.RELIABLE if camera_reliability == "reliable" else ReliabilityPolicy.BEST_EFFORT
        qos = QoSProfile(depth=1, history=HistoryPolicy.KEEP_LAST, reliability=reliability)
        self._subscriptions = [self._node.create_subscription(Image, "image", self._on_frame, qos)]
        if camera_compressed:
            self._subscriptions.append(
                self._node.create_subscription(CompressedImage, "image/compressed", self._on_frame, qos)
            )

    def close(self) -> None:
        """Unsubscribe and forget the cached frame (cleanup, shutdown)."""
        for subscription in self._subscriptions:
            self._node.destroy_subscription(subscription)
        self._subscriptions = []
        self._cache.clear()

    def _on_frame(self, msg: Image | CompressedImage) -> None:
        now_ns = self._node.get_clock().now().nanoseconds
        self._cache.put(msg, time_to_ns(msg.header.stamp), msg.header.frame_id, now_ns)
