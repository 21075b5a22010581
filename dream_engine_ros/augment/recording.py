"""Recordings (rosbag2 MCAP / sqlite3, the project's npz episodes, LeRobotDataset v3 folders) -> frames and
actions on the spec's fps grid.

Timing (rosbag2): grid frame k sits at t_k = t_0 + k / fps, t_0 being the first camera stamp; its frame is
the camera message nearest t_k, accepted within half a period (else that grid frame has no image and
cannot start a sample). Action k, the one that leads from frame k to frame k + 1, is the last action
message stamped before t_{k+1} (zero-order hold: the command in force when frame k + 1 is taken), so a
command published a little after its frame still belongs to it. Stamps are header stamps where a message
has a (non-zero) header, else the bag's log time; `stamps="log"` uses log time for every message.

Memory: reading is two passes over the camera topic. The first keeps only stamps; the frames are decoded
afterwards for the grid indices that start samples, so a long recording never sits decoded in memory.

npz episodes (`scripts/gen_pusht_data.py`): `frames` (N, T+1, H, W, 3), `actions` (N, T, D), optional
`states`, `reset_seeds` and `fps`; every episode is one recording named `file.npz#i`, frame k at k / fps.

LeRobotDataset v3 folders (`lerobot_v3.py` knows the layout): every episode is one recording named
`folder#episode_index`. The camera is a video feature (`camera_topic`, e.g. observation.images.top), the
actions a vector feature (`action_topic`, default `action`; `action_fields` picks elements by index, slice
or name). Each row is one camera frame, stamped with the row's `timestamp`, and one action, in force until the
next row's frame (stamped half a dataset period after its frame); they go on the grid by the same rule
as a bag (`match_on_grid`): at the dataset's own fps that is row k -> grid frame k and action k; at
another fps the nearest rows and the zero-order hold resample them. Frames
are decoded from the mp4 only when asked for. The content hash covers info.json, the episode tables and
the episode's stamps and actions (not the videos, which can be gigabytes).

`action_dim=None` takes the action size from the recording (the first message, vector or npz array).
"""

from __future__ import annotations

import dataclasses
import hashlib
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal, Protocol

import numpy as np

from dream_engine_ros.augment.action_mapping import ActionMapping, header_stamp_ns, vector_indices
from dream_engine_ros.augment.errors import AugmentInputError
from dream_engine_ros.augment.lerobot_v3 import LeRobotV3, decode_video_frames, is_lerobot_dataset, open_lerobot_v3
from dream_engine_ros.augment.typestore import ros2_typestore

IMAGE_TYPES = ("sensor_msgs/msg/Image", "sensor_msgs/msg/CompressedImage")
BAG_SUFFIXES = (".mcap", ".db3")
StampSource = Literal["header", "log"]


@dataclass(frozen=True)
class RecordingOptions:
    """What to read from a bag (ignored for npz episodes, which carry frames and actions directly)."""

    camera_topic: str | None = None
    action_topic: str | None = None
    action_fields: str | None = None
    stamps: StampSource = "header"
    dim_name: str = "the spec's action_dim"  # what the action size is called in errors


class FrameLoader(Protocol):
    def __call__(self, indices: Sequence[int]) -> dict[int, np.ndarray]: ...


@dataclass
class Recording:
    """One recording on the fps grid. actions[k] leads from grid frame k to k + 1 (NaN where no action
    was recorded yet); frame_ok[k] says whether grid frame k has an image."""

    source: str
    content_hash: str
    fps: float
    start_ns: int
    actions: np.ndarray  # (K, D) float32
    frame_ok: np.ndarray  # (K + 1,) bool
    frame_id: str
    load_frames: FrameLoader
    states: np.ndarray | None = None  # (K + 1, 5) PushT simulator states (npz only)
    reset_seed: int | None = None  # gym-pusht reset seed of the episode (npz only)
    extras: dict[str, Any] = field(default_factory=dict)

    def stamp_ns(self, grid_index: int) -> int:
        return self.start_ns + round(grid_index * 1e9 / self.fps)

    def starts(self, horizon: int, every: int | None = None, times_s: Sequence[float] | None = None,
               whole_window: bool = False) -> list[int]:
        """Grid indices that can start a sample of `horizon` actions: every `every`-th, or the given
        times (seconds after the first frame; an unusable time is an error, not silently dropped).
        `whole_window`: every one of the horizon + 1 frames needs an image, not only the first."""
        frames = horizon + 1 if whole_window else 1
        usable = [s for s in range(len(self.actions) - horizon + 1)
                  if self.frame_ok[s:s + frames].all() and np.all(np.isfinite(self.actions[s:s + horizon]))]
        if times_s is not None:
            chosen = []
            for t in times_s:
                index = round(float(t) * self.fps)
                if index not in usable:
                    raise AugmentInputError(self.source, f"start time {t} s (frame {index}) has no image or fewer "
                                            f"than {horizon} recorded actions after it")
                chosen.append(index)
            return chosen
        step = max(1, every or horizon)
        return [s for s in usable if s % step == 0]


def content_hash_of(paths: Sequence[Path]) -> str:
    """sha256 of the files' bytes in the given order (streamed; names do not count)."""
    digest = hashlib.sha256()
    for path in paths:
        with open(path, "rb") as handle:
            for block in iter(lambda: handle.read(1 << 20), b""):
                digest.update(block)
    return digest.hexdigest()


def open_recordings(path: str | Path, options: RecordingOptions, action_dim: int | None,
                    fps: float) -> list[Recording]:
    """Every recording in `path` (one per bag, one per npz or LeRobot episode); errors name the file and topic."""
    path = Path(path)
    if not path.exists():
        raise AugmentInputError(str(path), "no such file or directory")
    if path.suffix == ".npz":
        return read_npz_episodes(path, action_dim, fps)
    if is_lerobot_dataset(path):
        return read_lerobot(path, options, action_dim, fps)
    if path.is_dir() or path.suffix in BAG_SUFFIXES:
        return [read_bag(path, options, action_dim, fps)]
    raise AugmentInputError(str(path), "not a rosbag2 recording (a directory, .mcap or .db3), an npz episode file "
                            "or a LeRobot v3 dataset folder (meta/info.json)")


@dataclass(frozen=True)
class GridMatch:
    """Camera and action stamps matched on the fps grid (the rule in this module's docstring)."""

    start_ns: int
    frame_ok: np.ndarray  # (K + 1,) bool: grid frame k has a camera frame within half a period
    frame_message: np.ndarray  # (K + 1,) index (in the given order) of each grid frame's camera frame
    actions: np.ndarray  # (K, D) float32, NaN before the first action


def match_on_grid(camera_ns: np.ndarray, action_ns: np.ndarray, vectors: np.ndarray, fps: float) -> GridMatch:
    """The one home of the grid rule, for every kind of recording."""
    cam_ns = np.asarray(camera_ns, dtype=np.int64)
    period = 1e9 / fps
    t0 = int(cam_ns.min())
    count = int(np.floor((cam_ns.max() - t0) / period + 0.5)) + 1  # grid frames
    grid = t0 + np.round(np.arange(count) * period).astype(np.int64)
    order = np.argsort(cam_ns, kind="stable")
    sorted_ns = cam_ns[order]
    right = np.clip(np.searchsorted(sorted_ns, grid), 0, len(sorted_ns) - 1)
    left = np.clip(right - 1, 0, len(sorted_ns) - 1)
    pick = np.where(np.abs(sorted_ns[left] - grid) <= np.abs(sorted_ns[right] - grid), left, right)
    frame_ok = np.abs(sorted_ns[pick] - grid) <= period / 2

    act_ns = np.asarray(action_ns, dtype=np.int64)
    act_order = np.argsort(act_ns, kind="stable")
    ordered = np.asarray(vectors, dtype=np.float32)[act_order]
    actions = np.full((count - 1, ordered.shape[1]), np.nan, dtype=np.float32)
    if count > 1:
        last = np.searchsorted(act_ns[act_order], grid[1:], side="left") - 1  # last action before t_{k+1}
        held = last >= 0
        actions[held] = ordered[last[held]]
    return GridMatch(t0, frame_ok, order[pick], actions)


# ---------------------------------------------------------------------------------------------- npz


def read_npz_episodes(path: Path, action_dim: int | None, fps: float) -> list[Recording]:
    source = str(path)
    try:
        with np.load(path, allow_pickle=False) as data:
            arrays = {key: data[key] for key in data.files}
    except Exception as exc:  # zipfile, pickle and format errors all mean "unreadable"
        raise AugmentInputError(source, f"cannot read npz episodes: {exc}") from None
    for key in ("frames", "actions"):
        if key not in arrays:
            raise AugmentInputError(source, f"npz has no {key!r} array (has {sorted(arrays)})")
    frames, actions = arrays["frames"], arrays["actions"]
    if frames.ndim == 4:  # a single episode stored without the episode axis
        frames, actions = frames[None], actions[None]
    if frames.ndim != 5 or frames.shape[-1] != 3 or frames.dtype != np.uint8:
        raise AugmentInputError(source, f"frames must be uint8 (N, T+1, H, W, 3), got {frames.dtype} {frames.shape}")
    if actions.ndim != 3 or actions.shape[:2] != (frames.shape[0], frames.shape[1] - 1):
        raise AugmentInputError(source, f"actions {actions.shape} do not match frames {frames.shape} "
                                "(expected (N, T, D))")
    if action_dim is not None and actions.shape[2] != action_dim:
        raise AugmentInputError(source, f"actions have {actions.shape[2]} values but the spec's action_dim is "
                                f"{action_dim}")
    episode_fps = float(arrays["fps"]) if "fps" in arrays else fps
    if abs(episode_fps - fps) > 1e-6:
        raise AugmentInputError(source, f"episodes are at {episode_fps} fps but the spec runs at {fps} fps")
    file_hash = content_hash_of([path])
    recordings = []
    for episode in range(frames.shape[0]):
        episode_frames = frames[episode]

        def load(indices: Sequence[int], episode_frames: np.ndarray = episode_frames) -> dict[int, np.ndarray]:
            return {int(i): np.ascontiguousarray(episode_frames[i]) for i in indices}

        states = arrays["states"][episode] if "states" in arrays else None
        reset_seed = int(arrays["reset_seeds"][episode]) if "reset_seeds" in arrays else None
        recordings.append(Recording(
            source=f"{source}#{episode}",
            content_hash=hashlib.sha256(f"{file_hash}#{episode}".encode()).hexdigest(),
            fps=fps, start_ns=0, actions=actions[episode].astype(np.float32),
            frame_ok=np.ones(frames.shape[1], dtype=bool), frame_id="camera", load_frames=load,
            states=states, reset_seed=reset_seed, extras={"camera_topic": "frames", "action_topic": "actions"}))
    return recordings


# ---------------------------------------------------------------------------------------------- rosbag2


def _storage_files(path: Path) -> list[Path]:
    if path.is_dir():
        files = sorted(p for p in path.iterdir() if p.suffix in BAG_SUFFIXES and p.is_file())
        if not files:
            raise AugmentInputError(str(path), "directory holds no .mcap or .db3 storage file")
        return files
    return [path]


@dataclass
class _TopicScan:
    stamps: list[int] = field(default_factory=list)
    vectors: list[np.ndarray] = field(default_factory=list)
    frame_id: str = ""


class _Bag:
    """rosbags Reader wrapper that turns every library error into one naming this file (and topic)."""

    def __init__(self, path: Path) -> None:
        from rosbags.rosbag2 import Reader

        self.path = path
        self.source = str(path)
        try:
            self.reader = Reader(path)
            self.reader.open()
        except Exception as exc:  # rosbags raises ReaderError, yaml, sqlite and mcap errors
            raise AugmentInputError(self.source, f"cannot open as rosbag2: {type(exc).__name__}: {exc}") from None

    def close(self) -> None:
        try:
            self.reader.close()
        except Exception:
            pass

    def connection(self, topic: str | None, flag: str, allowed: Sequence[str] | None) -> Any:
        if not topic:
            raise AugmentInputError(self.source, f"{flag} is required for a rosbag2 recording")
        connections = [c for c in self.reader.connections if c.topic == topic]
        if not connections:
            available = ", ".join(sorted(f"{c.topic} ({c.msgtype})" for c in self.reader.connections)) or "none"
            raise AugmentInputError(self.source, f"topic not in the recording (topics: {available})", topic)
        msgtype = connections[0].msgtype
        if allowed is not None and msgtype not in allowed:
            raise AugmentInputError(self.source, f"message type {msgtype} is not supported here; expected one of "
                                    f"{', '.join(allowed)}", topic)
        return connections[0]

    def messages(self, connection: Any, typestore: Any) -> Iterator[tuple[int, Any]]:
        """(log time ns, deserialized message) in storage order; read errors name the topic."""
        try:
            for _, log_ns, raw in self.reader.messages(connections=[connection]):
                try:
                    msg = typestore.deserialize_cdr(raw, connection.msgtype)
                except Exception as exc:
                    raise AugmentInputError(self.source, f"cannot decode a {connection.msgtype} message at log time "
                                            f"{log_ns} ns: {type(exc).__name__}: {exc}", connection.topic) from None
                yield int(log_ns), msg
        except AugmentInputError:
            raise
        except Exception as exc:  # truncated or corrupt storage
            raise AugmentInputError(self.source, f"cannot read messages (corrupt or truncated recording?): "
                                    f"{type(exc).__name__}: {exc}", connection.topic) from None


def _stamp(msg: Any, log_ns: int, stamps: StampSource) -> int:
    if stamps == "header":
        header = header_stamp_ns(msg)
        if header is not None:
            return header
    return log_ns


def _decode_image(msg: Any, msgtype: str, source: str, topic: str) -> np.ndarray:
    from dream_engine_ros.ros.image_conversion import ImageConversionError, compressed_msg_to_rgb, image_msg_to_rgb

    try:
        if msgtype.endswith("CompressedImage"):
            return compressed_msg_to_rgb(msg, "image")
        return image_msg_to_rgb(msg, "image")
    except ImageConversionError as exc:
        raise AugmentInputError(source, f"cannot decode the camera image: {exc}", topic) from None


def read_bag(path: Path, options: RecordingOptions, action_dim: int | None, fps: float) -> Recording:
    """Scan stamps and actions of one rosbag2 recording and put them on the fps grid."""
    files = _storage_files(path)
    bag = _Bag(path)
    typestore = ros2_typestore()
    try:
        camera = bag.connection(options.camera_topic, "--camera-topic", IMAGE_TYPES)
        action = bag.connection(options.action_topic, "--action-topic", None)
        mapping = ActionMapping.create(action.msgtype, options.action_fields, action_dim, bag.source, action.topic,
                                       options.dim_name)
        cam = _TopicScan()
        for log_ns, msg in bag.messages(camera, typestore):
            cam.stamps.append(_stamp(msg, log_ns, options.stamps))
            if not cam.frame_id:
                cam.frame_id = str(getattr(getattr(msg, "header", None), "frame_id", "") or "")
        act = _TopicScan()
        for log_ns, msg in bag.messages(action, typestore):
            act.stamps.append(_stamp(msg, log_ns, options.stamps))
            act.vectors.append(mapping.vector(msg, bag.source, action.topic))
            if mapping.action_dim is None:  # the first message fixes the size; the others must match it
                mapping = dataclasses.replace(mapping, action_dim=int(act.vectors[0].size),
                                              dim_name="the size of the first action")
    finally:
        bag.close()
    if not cam.stamps:
        raise AugmentInputError(str(path), "no camera messages", camera.topic)
    if not act.stamps:
        raise AugmentInputError(str(path), "no action messages", action.topic)

    matched = match_on_grid(np.asarray(cam.stamps), np.asarray(act.stamps), np.stack(act.vectors), fps)
    frame_ok = matched.frame_ok
    message_of_grid = matched.frame_message  # storage-order index of each grid frame's camera message

    camera_topic, camera_type, source = camera.topic, camera.msgtype, str(path)

    def load(indices: Sequence[int]) -> dict[int, np.ndarray]:
        wanted: dict[int, list[int]] = {}
        for index in indices:
            if not frame_ok[index]:
                raise AugmentInputError(source, f"grid frame {index} has no camera image", camera_topic)
            wanted.setdefault(int(message_of_grid[index]), []).append(int(index))
        out: dict[int, np.ndarray] = {}
        if not wanted:
            return out
        reader = _Bag(path)
        try:
            connection = reader.connection(camera_topic, "--camera-topic", IMAGE_TYPES)
            for position, (_, msg) in enumerate(reader.messages(connection, typestore)):
                if position in wanted:
                    rgb = _decode_image(msg, camera_type, source, camera_topic)
                    for index in wanted.pop(position):
                        out[index] = rgb
                    if not wanted:
                        break
        finally:
            reader.close()
        if wanted:
            raise AugmentInputError(source, "recording changed while it was read (camera messages missing)",
                                    camera_topic)
        return out

    recording = Recording(source=source, content_hash=content_hash_of(files), fps=fps, start_ns=matched.start_ns,
                          actions=matched.actions, frame_ok=frame_ok, frame_id=cam.frame_id or "camera",
                          load_frames=load, extras={"camera_type": camera_type, "action_type": action.msgtype,
                                                    "camera_topic": camera_topic, "action_topic": action.topic})
    return recording


# ---------------------------------------------------------------------------------------------- LeRobot v3


def read_lerobot(path: Path, options: RecordingOptions, action_dim: int | None, fps: float) -> list[Recording]:
    """One recording per episode of a LeRobot v3 folder; frames decode from the mp4 only when asked for."""
    dataset = open_lerobot_v3(path)
    source = dataset.source
    camera = options.camera_topic
    videos = ", ".join(dataset.video_keys) or "none"
    if not camera:
        raise AugmentInputError(source, f"--camera-topic is required: name a video feature (video features: {videos})")
    if camera not in dataset.video_keys:
        raise AugmentInputError(source, f"not a video feature of the dataset (video features: {videos})", camera)
    action_key = options.action_topic or "action"
    if action_key not in dataset.vector_keys:
        raise AugmentInputError(source, "not a vector feature of the dataset (vector features: "
                                f"{', '.join(dataset.vector_keys) or 'none'})", action_key)
    size = int(np.prod(dataset.features[action_key].get("shape", [1])))
    indices = vector_indices(options.action_fields, size, dataset.element_names(action_key), source, action_key)
    if action_dim is not None and len(indices) != action_dim:
        raise AugmentInputError(source, f"action has {len(indices)} values but {options.dim_name} is {action_dim} "
                                "(choose fields with --action-fields)", action_key)
    if not dataset.episodes:
        raise AugmentInputError(source, "the dataset has no episodes")
    meta_hash = content_hash_of(dataset.meta_files)
    return [_lerobot_episode(dataset, episode_number, camera, action_key, indices, fps, meta_hash)
            for episode_number in range(len(dataset.episodes))]


def _lerobot_episode(dataset: LeRobotV3, number: int, camera: str, action_key: str, indices: list[int], fps: float,
                     meta_hash: str) -> Recording:
    episode = dataset.episodes[number]
    source = f"{dataset.source}#{episode.index}"
    if camera not in episode.videos:
        raise AugmentInputError(source, "the episode table gives no video file for this feature", camera)
    columns = dataset.columns(episode, [action_key])
    stamps_s = columns["timestamp"]
    if stamps_s.size == 0:
        raise AugmentInputError(source, "the episode has no frames in its data file", camera)
    if columns[action_key].shape[1] <= max(indices):
        raise AugmentInputError(source, f"action vectors have {columns[action_key].shape[1]} values, fewer than "
                                "info.json says", action_key)
    vectors = columns[action_key][:, indices].astype(np.float32)
    if not np.all(np.isfinite(vectors)):
        raise AugmentInputError(source, "actions are not all finite", action_key)
    stamps_ns = np.round(stamps_s * 1e9).astype(np.int64)
    # a row's action is in force from its frame until the next one: stamped half a dataset period after its
    # frame, so float32 timestamps that land a hair before the grid time cannot hand it to the previous frame
    action_ns = stamps_ns + round(0.5e9 / dataset.fps)
    matched = match_on_grid(stamps_ns, action_ns, vectors, fps)
    video_file, from_s = episode.videos[camera]
    frame_times = from_s + stamps_s  # row -> time of its frame in the (shared) mp4
    tolerance_s = 0.5 / dataset.fps

    def load(indices: Sequence[int]) -> dict[int, np.ndarray]:
        times: dict[int, float] = {}
        for index in indices:
            if not matched.frame_ok[index]:
                raise AugmentInputError(source, f"grid frame {index} has no camera frame", camera)
            times[int(index)] = float(frame_times[matched.frame_message[index]])
        decoded = decode_video_frames(video_file, list(times.values()), tolerance_s, source, camera)
        return {index: decoded[time] for index, time in times.items()}

    digest = hashlib.sha256(f"{meta_hash}#{episode.index}#{camera}#{action_key}".encode())
    digest.update(stamps_ns.tobytes())
    digest.update(vectors.tobytes())
    return Recording(source=source, content_hash=digest.hexdigest(), fps=fps, start_ns=matched.start_ns,
                     actions=matched.actions, frame_ok=matched.frame_ok, frame_id=camera, load_frames=load,
                     extras={"camera_topic": camera, "action_topic": action_key, "episode_index": episode.index,
                             "video_file": str(video_file)})


def check_first_frame(recording: Recording) -> None:
    """Decode one image up front, so an undecodable camera topic fails before any rollout."""
    first = np.flatnonzero(recording.frame_ok)
    if first.size:
        recording.load_frames([int(first[0])])
