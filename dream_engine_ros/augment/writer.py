"""One rosbag2 (MCAP) per sample, finalised atomically, plus the summary index of the output folder.

Layout of OUT:
    augment.json              the settings the samples were made with (a rerun must match them)
    index.json                every finished sample (rewritten atomically); "complete" once all are done
    samples/<sample_id>/      a rosbag2 directory: metadata.yaml + <sample_id>.mcap
    .partial/                 bags being written; never read as results, emptied when a run starts

Finished = `samples/<sample_id>` exists. A bag is written under `.partial/`, closed, fsynced and renamed
into `samples/` in one step, so a crash leaves either nothing or a complete bag there.

Topics of a sample bag (header stamps = log times = source start stamp + k / fps):
    /augment/camera/image_raw   sensor_msgs/msg/Image rgb8, frames 0..T (0 = the resized start frame)
    /augment/action             std_msgs/msg/Float32MultiArray, the perturbed action k at frame k's stamp
    /augment/recorded_action    std_msgs/msg/Float32MultiArray, the recording's action k (before perturbing)
    /augment/metadata           std_msgs/msg/String, the sample's metadata as JSON, at the start stamp
The metadata JSON is also the bag's custom data (`dream_engine_ros.augment` in metadata.yaml).
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import uuid
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from dream_engine_ros.atomic_file import atomic_output, fsync_path
from dream_engine_ros.augment.typestore import ros2_typestore

IMAGE_TOPIC = "/augment/camera/image_raw"
ACTION_TOPIC = "/augment/action"
RECORDED_ACTION_TOPIC = "/augment/recorded_action"
METADATA_TOPIC = "/augment/metadata"
CUSTOM_DATA_KEY = "dream_engine_ros.augment"
INDEX_FORMAT = "dream_engine_ros.augment/1"


@dataclass
class SampleOutput:
    """Everything a finished rollout contributes to its bag."""

    sample_id: str
    frames: np.ndarray  # (T + 1, H, W, 3) uint8
    actions: np.ndarray  # (T, D) float32, perturbed
    recorded_actions: np.ndarray  # (T, D) float32
    start_stamp_ns: int
    fps: float
    frame_id: str
    metadata: dict[str, Any]


def frames_digest(frames: np.ndarray) -> str:
    """sha256 of the frames' bytes with their shape: equal digests = bit-identical rollouts."""
    frames = np.ascontiguousarray(frames, dtype=np.uint8)
    return hashlib.sha256(repr(frames.shape).encode() + frames.tobytes()).hexdigest()


def _stamp(ns: int) -> tuple[int, int]:
    return ns // 1_000_000_000, ns % 1_000_000_000


class OutputFolder:
    """The augmentation output folder: finished samples, partial bags and the index."""

    def __init__(self, root: str | Path) -> None:
        self.root = Path(root)
        self.samples = self.root / "samples"
        self.partial = self.root / ".partial"
        self.index_path = self.root / "index.json"
        self.config_path = self.root / "augment.json"
        self._scratch_dir: Path | None = None

    def prepare(self, config: dict[str, Any]) -> None:
        """Create the folder, drop leftovers of a crashed run, and refuse settings that differ from the
        ones the finished samples were made with (mixing them would make the set irreproducible)."""
        self.root.mkdir(parents=True, exist_ok=True)
        if self.config_path.exists():
            previous = json.loads(self.config_path.read_text())
            changed = sorted(k for k in set(previous) | set(config) if previous.get(k) != config.get(k))
            if changed:
                key = changed[0]
                raise ValueError(f"holds samples made with other settings ({key}: "
                                 f"{previous.get(key)!r} then, {config.get(key)!r} now); use a new --out")
        else:
            with atomic_output(self.config_path) as tmp:
                tmp.write_text(json.dumps(config, indent=2, sort_keys=True) + "\n")
        shutil.rmtree(self.partial, ignore_errors=True)
        self.samples.mkdir(exist_ok=True)

    def _scratch(self) -> Path:
        """This process's folder under .partial/ (one per writer, so two writers never collide)."""
        if self._scratch_dir is None:
            self._scratch_dir = self.partial / uuid.uuid4().hex
            self._scratch_dir.mkdir(parents=True)
        return self._scratch_dir

    def sample_path(self, sample_id: str) -> Path:
        return self.samples / sample_id

    def is_finished(self, sample_id: str) -> bool:
        return self.sample_path(sample_id).is_dir()

    def write_sample(self, sample: SampleOutput) -> dict[str, Any]:
        """Write the sample's bag and move it into place atomically; returns its index entry."""
        from rosbags.rosbag2 import StoragePlugin, Writer

        typestore = ros2_typestore()
        types = typestore.types
        image_t, header_t, time_t = (types["sensor_msgs/msg/Image"], types["std_msgs/msg/Header"],
                                     types["builtin_interfaces/msg/Time"])
        array_t, layout_t, dim_t = (types["std_msgs/msg/Float32MultiArray"], types["std_msgs/msg/MultiArrayLayout"],
                                    types["std_msgs/msg/MultiArrayDimension"])
        string_t = types["std_msgs/msg/String"]
        entry = dict(sample.metadata, sample_id=sample.sample_id, path=f"samples/{sample.sample_id}",
                     frames=int(sample.frames.shape[0]), frames_sha256=frames_digest(sample.frames))
        text = json.dumps(entry, sort_keys=True)

        bag_dir = self._scratch() / sample.sample_id
        try:
            writer = Writer(bag_dir, version=9, storage_plugin=StoragePlugin.MCAP)
            writer.set_custom_data(CUSTOM_DATA_KEY, text)
            with writer:
                image_c = writer.add_connection(IMAGE_TOPIC, image_t.__msgtype__, typestore=typestore)
                action_c = writer.add_connection(ACTION_TOPIC, array_t.__msgtype__, typestore=typestore)
                recorded_c = writer.add_connection(RECORDED_ACTION_TOPIC, array_t.__msgtype__, typestore=typestore)
                meta_c = writer.add_connection(METADATA_TOPIC, string_t.__msgtype__, typestore=typestore)
                stamps = [sample.start_stamp_ns + round(k * 1e9 / sample.fps) for k in range(len(sample.frames))]
                writer.write(meta_c, stamps[0], typestore.serialize_cdr(string_t(data=text), string_t.__msgtype__))
                dim = sample.actions.shape[1]
                layout = layout_t(dim=[dim_t(label="action", size=dim, stride=dim)], data_offset=0)
                for k, frame in enumerate(sample.frames):
                    sec, nanosec = _stamp(stamps[k])
                    height, width = int(frame.shape[0]), int(frame.shape[1])
                    msg = image_t(header=header_t(stamp=time_t(sec=sec, nanosec=nanosec), frame_id=sample.frame_id),
                                  height=height, width=width, encoding="rgb8", is_bigendian=0, step=width * 3,
                                  data=np.ascontiguousarray(frame, dtype=np.uint8).reshape(-1))
                    writer.write(image_c, stamps[k], typestore.serialize_cdr(msg, image_t.__msgtype__))
                    if k < len(sample.actions):
                        for connection, values in ((action_c, sample.actions[k]),
                                                   (recorded_c, sample.recorded_actions[k])):
                            array = array_t(layout=layout, data=np.asarray(values, dtype=np.float32))
                            writer.write(connection, stamps[k], typestore.serialize_cdr(array, array_t.__msgtype__))
            # The files' bytes reach the disk before the name does: after a power loss a sample is either
            # complete or absent. The folder itself is synced with each index rewrite (an entry lost with
            # it is only redone by the next run).
            for path in bag_dir.iterdir():
                fsync_path(path)
            os.rename(bag_dir, self.sample_path(sample.sample_id))
        except BaseException:
            shutil.rmtree(bag_dir, ignore_errors=True)
            raise
        return entry

    def write_index(self, entries: dict[str, dict[str, Any]], config: dict[str, Any], complete: bool,
                    error: str | None = None) -> None:
        """Rewrite index.json atomically: samples sorted by id, `complete` only when every sample is done."""
        index: dict[str, Any] = {"format": INDEX_FORMAT, "complete": complete, "config": config,
                                 "count": len(entries), "samples": [entries[k] for k in sorted(entries)]}
        if error is not None:
            index["error"] = error
        fsync_path(self.samples)
        with atomic_output(self.index_path) as tmp:
            tmp.write_text(json.dumps(index, indent=1, sort_keys=True) + "\n")
        if complete and self._scratch_dir is not None:
            shutil.rmtree(self._scratch_dir, ignore_errors=True)
            self._scratch_dir = None

    def read_index_entries(self) -> dict[str, dict[str, Any]]:
        """Entries of the previous index whose bag is finished (others are ignored)."""
        if not self.index_path.exists():
            return {}
        try:
            samples = json.loads(self.index_path.read_text()).get("samples", [])
        except (OSError, ValueError):
            return {}
        return {e["sample_id"]: e for e in samples if isinstance(e, dict) and self.is_finished(e.get("sample_id", ""))}


def read_sample_metadata(bag: str | Path) -> dict[str, Any]:
    """The metadata JSON stored in a sample bag (its /augment/metadata message)."""
    from rosbags.rosbag2 import Reader

    typestore = ros2_typestore()
    with Reader(bag) as reader:
        connections = [c for c in reader.connections if c.topic == METADATA_TOPIC]
        for connection, _, raw in reader.messages(connections=connections):
            data: dict[str, Any] = json.loads(typestore.deserialize_cdr(raw, connection.msgtype).data)
            return data
    raise ValueError(f"{bag}: no {METADATA_TOPIC} message")


def read_sample(bag: str | Path) -> dict[str, Any]:
    """A sample bag's frames (T+1, H, W, 3), perturbed actions (T, D) and metadata, read back with rosbags."""
    from rosbags.rosbag2 import Reader

    typestore = ros2_typestore()
    frames: list[np.ndarray] = []
    actions: list[np.ndarray] = []
    metadata: dict[str, Any] = {}
    with Reader(bag) as reader:
        for connection, _, raw in reader.messages():
            msg = typestore.deserialize_cdr(raw, connection.msgtype)
            if connection.topic == IMAGE_TOPIC:
                frames.append(np.frombuffer(bytes(msg.data), np.uint8).reshape(msg.height, msg.width, 3))
            elif connection.topic == ACTION_TOPIC:
                actions.append(np.asarray(msg.data, dtype=np.float32))
            elif connection.topic == METADATA_TOPIC:
                metadata = json.loads(msg.data)
    return {"frames": np.stack(frames), "actions": np.stack(actions), "metadata": metadata}
