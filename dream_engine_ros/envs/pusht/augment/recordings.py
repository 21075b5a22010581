"""PushT teleop-like rosbag2 recordings built with rosbags' Writer (no ROS install): the inputs of the
tests, `make demo-augment` and `bench/bench_augment.py`.

A recording holds a camera topic (sensor_msgs/Image rgb8, or CompressedImage PNG) and an action topic
(Float32MultiArray, PointStamped or JointState) the way a teleop stack records them: frame k at
t0 + k / fps with +-1 ms jitter, action k published a few ms after frame k.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np

from dream_engine_ros.augment.typestore import ros2_typestore

TYPESTORE = ros2_typestore()
T = TYPESTORE.types
CAMERA = "/camera/image_raw"
ACTION = "/teleop/target"
T0_NS = 1_700_000_000_123_000_000


def _time(ns: int) -> Any:
    return T["builtin_interfaces/msg/Time"](sec=ns // 1_000_000_000, nanosec=ns % 1_000_000_000)


def _header(ns: int, frame_id: str = "pusht_camera") -> Any:
    return T["std_msgs/msg/Header"](stamp=_time(ns), frame_id=frame_id)


def image_msg(rgb: np.ndarray, ns: int, compressed: bool) -> tuple[str, Any]:
    if compressed:
        import cv2

        ok, png = cv2.imencode(".png", np.ascontiguousarray(rgb[:, :, ::-1]))
        assert ok
        return "sensor_msgs/msg/CompressedImage", T["sensor_msgs/msg/CompressedImage"](
            header=_header(ns), format="png", data=png.reshape(-1))
    h, w = rgb.shape[:2]
    return "sensor_msgs/msg/Image", T["sensor_msgs/msg/Image"](
        header=_header(ns), height=h, width=w, encoding="rgb8", is_bigendian=0, step=w * 3,
        data=np.ascontiguousarray(rgb).reshape(-1))


def action_msg(values: np.ndarray, ns: int, kind: str) -> tuple[str, Any]:
    if kind == "array":
        layout = T["std_msgs/msg/MultiArrayLayout"](dim=[], data_offset=0)
        return "std_msgs/msg/Float32MultiArray", T["std_msgs/msg/Float32MultiArray"](
            layout=layout, data=np.asarray(values, dtype=np.float32))
    if kind == "point":
        point = T["geometry_msgs/msg/Point"](x=float(values[0]), y=float(values[1]), z=0.0)
        return "geometry_msgs/msg/PointStamped", T["geometry_msgs/msg/PointStamped"](header=_header(ns), point=point)
    if kind == "joint":  # a 3-joint arm whose joints 'x' and 'y' carry the target, 'wrist' is noise
        return "sensor_msgs/msg/JointState", T["sensor_msgs/msg/JointState"](
            header=_header(ns), name=["wrist", "x", "y"],
            position=np.array([0.5, values[0], values[1]], dtype=np.float64),
            velocity=np.zeros(0), effort=np.zeros(0))
    raise ValueError(kind)


def write_bag(path: Path, frames: np.ndarray, actions: np.ndarray, *, storage: str = "mcap",
              compressed: bool = False, action_kind: str = "array", fps: float = 10.0,
              action_latency_ns: int = 3_000_000, camera_jitter_ns: int = 1_000_000,
              t0_ns: int = T0_NS) -> Path:
    """A teleop-like recording: frame k at t0 + k/fps (+-jitter), action k published `action_latency_ns` after
    frame k (so it belongs to frame k only through the zero-order-hold rule). Log time = header stamp."""
    from rosbags.rosbag2 import StoragePlugin, Writer

    plugin = StoragePlugin.MCAP if storage == "mcap" else StoragePlugin.SQLITE3
    period = round(1e9 / fps)
    with Writer(path, version=9, storage_plugin=plugin) as writer:
        connections: dict[str, Any] = {}

        def write(topic: str, msgtype: str, msg: Any, ns: int) -> None:
            if topic not in connections:
                connections[topic] = writer.add_connection(topic, msgtype, typestore=TYPESTORE)
            writer.write(connections[topic], ns, TYPESTORE.serialize_cdr(msg, msgtype))

        for k, frame in enumerate(frames):
            ns = t0_ns + k * period + (camera_jitter_ns if k % 2 else -camera_jitter_ns)
            msgtype, msg = image_msg(frame, ns, compressed)
            write(CAMERA, msgtype, msg, ns)
            if k < len(actions):
                a_ns = t0_ns + k * period + action_latency_ns
                msgtype, msg = action_msg(actions[k], a_ns, action_kind)
                write(ACTION, msgtype, msg, a_ns)
    return path


def make_pusht_recordings(root: Path, count: int, steps: int, seed: int, storage: str = "mcap") -> list[Path]:
    """`count` scripted PushT episodes of `steps` actions as rosbag2 recordings root/teleop_<i>, plus the
    same episodes as root/episodes.npz (with simulator states and reset seeds, for the tracking check)."""
    from dream_engine_ros.envs.pusht.training.pusht_data import generate_episodes_full

    episodes = generate_episodes_full(count, steps, seed)
    root.mkdir(parents=True, exist_ok=True)
    paths = [write_bag(root / f"teleop_{i}", episodes.frames[i], episodes.actions[i], storage=storage)
             for i in range(count)]
    np.savez(root / "episodes.npz", frames=episodes.frames, actions=episodes.actions, states=episodes.states,
             reset_seeds=episodes.reset_seeds, fps=10.0)
    return paths
