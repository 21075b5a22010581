"""Read sample bags back with rosbags, independently of the package's own reader; the recordings are
written by `dream_engine_ros.envs.pusht.augment.recordings`."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
from rosbags.rosbag2 import Reader

from dream_engine_ros.envs.pusht.augment.recordings import (  # noqa: F401  (re-exported for the tests)
    ACTION,
    CAMERA,
    T0_NS,
    TYPESTORE,
    action_msg,
    image_msg,
    write_bag,
)
from dream_engine_ros.envs.pusht.training.pusht_data import EpisodeBatch


def read_sample_bag(path: Path) -> dict[str, Any]:
    """Everything a sample bag holds, decoded: frames, stamps, actions, metadata, topic types."""
    import json

    out: dict[str, Any] = {"frames": [], "frame_stamps": [], "log_stamps": [], "actions": [], "action_stamps": [],
                           "recorded_actions": [], "metadata": [], "types": {}, "frame_ids": set()}
    with Reader(path) as reader:
        out["types"] = {c.topic: c.msgtype for c in reader.connections}
        out["custom_data"] = reader.metadata.get("custom_data") if hasattr(reader, "metadata") else None
        for connection, log_ns, raw in reader.messages():
            msg = TYPESTORE.deserialize_cdr(raw, connection.msgtype)
            if connection.topic == "/augment/camera/image_raw":
                assert msg.encoding == "rgb8"
                out["frames"].append(np.frombuffer(bytes(msg.data), np.uint8).reshape(msg.height, msg.width, 3))
                out["frame_stamps"].append(msg.header.stamp.sec * 1_000_000_000 + msg.header.stamp.nanosec)
                out["log_stamps"].append(log_ns)
                out["frame_ids"].add(msg.header.frame_id)
            elif connection.topic == "/augment/action":
                out["actions"].append(np.asarray(msg.data, np.float32))
                out["action_stamps"].append(log_ns)
            elif connection.topic == "/augment/recorded_action":
                out["recorded_actions"].append(np.asarray(msg.data, np.float32))
            elif connection.topic == "/augment/metadata":
                out["metadata"].append(json.loads(msg.data))
    out["frames"] = np.stack(out["frames"])
    out["actions"] = np.stack(out["actions"])
    out["recorded_actions"] = np.stack(out["recorded_actions"])
    return out


@dataclass(frozen=True)
class Recordings:
    """The session's tiny recordings (conftest.py builds them)."""

    episodes: EpisodeBatch
    mcap: Path
    sqlite: Path
    npz: Path
