"""Teleop-like rosbag2 recordings (camera frames + one action topic) written with rosbags' Writer, no ROS
install: what scripted simulator episodes become so that `dream-engine train` reads them exactly as it
reads a robot's own logs.

Timing is a teleop stack's: frame k at t0 + k / fps with +-jitter, action k published a few ms after
frame k (it belongs to frame k through the reader's zero-order-hold rule). Log time = header stamp.
Which message carries an action is the caller's choice (`ActionMessage`), so every scene keeps its own
message type and this module names none.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np

from dream_engine_ros.augment.typestore import ros2_typestore

T0_NS = 1_700_000_000_123_000_000
ActionMessage = Callable[[np.ndarray, int], tuple[str, Any]]
"""(action vector, stamp ns) -> (ROS message type name, message) for the action topic."""


def time_msg(ns: int) -> Any:
    return ros2_typestore().types["builtin_interfaces/msg/Time"](sec=ns // 1_000_000_000, nanosec=ns % 1_000_000_000)


def header_msg(ns: int, frame_id: str) -> Any:
    return ros2_typestore().types["std_msgs/msg/Header"](stamp=time_msg(ns), frame_id=frame_id)


def image_message(rgb: np.ndarray, ns: int, compressed: bool, frame_id: str) -> tuple[str, Any]:
    """An (H, W, 3) uint8 frame as sensor_msgs CompressedImage (PNG) or Image (rgb8)."""
    types = ros2_typestore().types
    if compressed:
        import cv2

        ok, png = cv2.imencode(".png", np.ascontiguousarray(rgb[:, :, ::-1]))
        if not ok:
            raise ValueError(f"PNG encoding of a {rgb.shape} frame failed")
        return "sensor_msgs/msg/CompressedImage", types["sensor_msgs/msg/CompressedImage"](
            header=header_msg(ns, frame_id), format="png", data=png.reshape(-1))
    h, w = rgb.shape[:2]
    return "sensor_msgs/msg/Image", types["sensor_msgs/msg/Image"](
        header=header_msg(ns, frame_id), height=h, width=w, encoding="rgb8", is_bigendian=0, step=w * 3,
        data=np.ascontiguousarray(rgb).reshape(-1))


def write_teleop_bag(path: Path, frames: np.ndarray, actions: np.ndarray, action_message: ActionMessage, *,
                     camera_topic: str, action_topic: str, frame_id: str, storage: str = "mcap",
                     compressed: bool = False, fps: float = 10.0, action_latency_ns: int = 3_000_000,
                     camera_jitter_ns: int = 1_000_000, t0_ns: int = T0_NS) -> Path:
    """frames (T+1, H, W, 3) uint8 and actions (T, D) as one rosbag2 folder at `path` (module docstring)."""
    from rosbags.rosbag2 import StoragePlugin, Writer

    typestore = ros2_typestore()
    plugin = StoragePlugin.MCAP if storage == "mcap" else StoragePlugin.SQLITE3
    period = round(1e9 / fps)
    with Writer(path, version=9, storage_plugin=plugin) as writer:
        connections: dict[str, Any] = {}

        def write(topic: str, msgtype: str, msg: Any, ns: int) -> None:
            if topic not in connections:
                connections[topic] = writer.add_connection(topic, msgtype, typestore=typestore)
            writer.write(connections[topic], ns, typestore.serialize_cdr(msg, msgtype))

        for k, frame in enumerate(frames):
            ns = t0_ns + k * period + (camera_jitter_ns if k % 2 else -camera_jitter_ns)
            msgtype, msg = image_message(frame, ns, compressed, frame_id)
            write(camera_topic, msgtype, msg, ns)
            if k < len(actions):
                a_ns = t0_ns + k * period + action_latency_ns
                msgtype, msg = action_message(np.asarray(actions[k]), a_ns)
                write(action_topic, msgtype, msg, a_ns)
    return path
