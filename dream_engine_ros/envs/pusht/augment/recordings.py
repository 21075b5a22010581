"""PushT teleop-like rosbag2 recordings built with rosbags' Writer (no ROS install): the inputs of the
tests, `make demo-augment` and `bench/bench_augment.py`.

A recording holds a camera topic (sensor_msgs/Image rgb8, or CompressedImage PNG) and an action topic
(Float32MultiArray, PointStamped or JointState) the way a teleop stack records them: frame k at
t0 + k / fps with +-1 ms jitter, action k published a few ms after frame k. The bag itself is written by
the generic `dream_engine_ros.augment.teleop_bag`; this module adds PushT's topics and action messages.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np

from dream_engine_ros.augment import teleop_bag
from dream_engine_ros.augment.typestore import ros2_typestore

TYPESTORE = ros2_typestore()
T = TYPESTORE.types
CAMERA = "/camera/image_raw"
ACTION = "/teleop/target"
T0_NS = teleop_bag.T0_NS
FRAME_ID = "pusht_camera"


def _header(ns: int) -> Any:
    return teleop_bag.header_msg(ns, FRAME_ID)


def image_msg(rgb: np.ndarray, ns: int, compressed: bool) -> tuple[str, Any]:
    return teleop_bag.image_message(rgb, ns, compressed, FRAME_ID)


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
    return teleop_bag.write_teleop_bag(
        path, frames, actions, lambda values, ns: action_msg(values, ns, action_kind), camera_topic=CAMERA,
        action_topic=ACTION, frame_id=FRAME_ID, storage=storage, compressed=compressed, fps=fps,
        action_latency_ns=action_latency_ns, camera_jitter_ns=camera_jitter_ns, t0_ns=t0_ns)


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
