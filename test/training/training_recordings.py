"""Tiny recordings built in the test: a coloured square on a plain background moved by the actions
(numpy only), written as rosbag2 (MCAP, sqlite3: augment_bags.write_bag) and as a LeRobotDataset v3
folder (pyarrow + PyAV), the layout lerobot writes: several episodes per parquet and per mp4."""

from __future__ import annotations

import json
from dataclasses import dataclass
from fractions import Fraction
from pathlib import Path

import numpy as np

SIZE = 32  # frame height and width (even: yuv420p)
SQUARE = 8
BACKGROUND = (30, 40, 60)
COLOUR = (230, 70, 30)
CAMERA_KEY = "observation.images.top"
FPS = 10
STEPS = 14  # actions per bag episode (LeRobot episodes: 14, 13, 12, 11)


@dataclass(frozen=True)
class SquareEpisode:
    frames: np.ndarray  # (T + 1, SIZE, SIZE, 3) uint8
    actions: np.ndarray  # (T, 2) float32: the square's step (dx, dy) from frame k to k + 1
    positions: np.ndarray  # (T + 1, 2) top-left corner (x, y)


def square_episode(steps: int, seed: int) -> SquareEpisode:
    rng = np.random.default_rng(seed)
    actions = rng.integers(-3, 4, size=(steps, 2)).astype(np.float32)
    position = rng.integers(4, SIZE - SQUARE - 4, size=2)
    positions = [position]
    for action in actions:
        position = np.clip(position + action.astype(int), 0, SIZE - SQUARE)
        positions.append(position)
    frames = np.empty((steps + 1, SIZE, SIZE, 3), np.uint8)
    frames[:] = BACKGROUND
    for frame, (x, y) in zip(frames, positions, strict=True):
        frame[y:y + SQUARE, x:x + SQUARE] = COLOUR
    return SquareEpisode(frames, actions, np.asarray(positions))


def square_corner(frame: np.ndarray) -> np.ndarray:
    """(x, y) of the square's top-left corner seen in a (decoded) frame, from the luma (which yuv420p keeps
    at full resolution, unlike the colour): the box of pixels brighter than halfway square/background."""
    weights = np.array([0.299, 0.587, 0.114])
    luma = frame.astype(np.float64) @ weights
    mask = luma > (np.dot(COLOUR, weights) + np.dot(BACKGROUND, weights)) / 2
    ys, xs = np.nonzero(mask)
    return np.array([xs.min(), ys.min()])


def _encode(path: Path, frames: np.ndarray, fps: int) -> None:
    import av

    path.parent.mkdir(parents=True, exist_ok=True)
    with av.open(str(path), "w", format="mp4") as container:
        stream = container.add_stream("libx264", rate=Fraction(fps),
                                      options={"crf": "12", "g": "4", "threads": "1"})  # keyframe every 4: seeks
        stream.width, stream.height = frames.shape[2], frames.shape[1]
        stream.pix_fmt = "yuv420p"
        stream.codec_context.time_base = Fraction(1, fps)
        for index, rgb in enumerate(frames):
            frame = av.VideoFrame.from_ndarray(np.ascontiguousarray(rgb), format="rgb24")
            frame.pts = index
            container.mux(stream.encode(frame))
        container.mux(stream.encode())


def write_lerobot(root: Path, episodes: list[SquareEpisode], fps: int = FPS, video_files: tuple[int, ...] = (),
                  data_files: tuple[int, ...] = (), codebase_version: str = "v3.0") -> Path:
    """A LeRobot v3 folder: episode i goes to video file video_files[i] and data file data_files[i]
    (default all 0); episodes sharing a file are concatenated in it. Each row k: frame k, action k
    (the last row repeats the last action, as a recording holds one action per frame), state = corner."""
    import pyarrow as pa
    import pyarrow.parquet as pq

    video_of = list(video_files) or [0] * len(episodes)
    data_of = list(data_files) or [0] * len(episodes)
    rows: dict[int, list[dict[str, object]]] = {}
    videos: dict[int, list[np.ndarray]] = {}
    table_rows = []
    index = 0
    for number, episode in enumerate(episodes):
        length = len(episode.frames)
        actions = np.concatenate([episode.actions, episode.actions[-1:]])
        offset = sum(len(f) for f in videos.get(video_of[number], []))
        videos.setdefault(video_of[number], []).append(episode.frames)
        for k in range(length):
            rows.setdefault(data_of[number], []).append({
                "action": actions[k].tolist(), "observation.state": episode.positions[k].astype(np.float32).tolist(),
                "timestamp": np.float32(k / fps).item(), "frame_index": k, "episode_index": number,
                "index": index + k, "task_index": 0})
        table_rows.append({
            "episode_index": number, "tasks": ["push the square"], "length": length,
            "dataset_from_index": index, "dataset_to_index": index + length,
            "data/chunk_index": 0, "data/file_index": data_of[number],
            f"videos/{CAMERA_KEY}/chunk_index": 0, f"videos/{CAMERA_KEY}/file_index": video_of[number],
            f"videos/{CAMERA_KEY}/from_timestamp": offset / fps,
            f"videos/{CAMERA_KEY}/to_timestamp": (offset + length) / fps,
            "stats/action/mean": actions.mean(axis=0).tolist()})
        index += length
    vector = pa.list_(pa.float32(), 2)
    schema = pa.schema([("action", vector), ("observation.state", vector), ("timestamp", pa.float32()),
                        ("frame_index", pa.int64()), ("episode_index", pa.int64()), ("index", pa.int64()),
                        ("task_index", pa.int64())])
    for file_index, file_rows in rows.items():
        path = root / f"data/chunk-000/file-{file_index:03d}.parquet"
        path.parent.mkdir(parents=True, exist_ok=True)
        pq.write_table(pa.Table.from_pylist(file_rows, schema=schema), path)
    for file_index, parts in videos.items():
        _encode(root / f"videos/{CAMERA_KEY}/chunk-000/file-{file_index:03d}.mp4", np.concatenate(parts), fps)
    (root / "meta/episodes/chunk-000").mkdir(parents=True, exist_ok=True)
    pq.write_table(pa.Table.from_pylist(table_rows), root / "meta/episodes/chunk-000/file-000.parquet")
    info = {
        "codebase_version": codebase_version, "robot_type": "square", "total_episodes": len(episodes),
        "total_frames": index, "total_tasks": 1, "chunks_size": 1000, "fps": fps, "splits": {"train": "0:2"},
        "data_path": "data/chunk-{chunk_index:03d}/file-{file_index:03d}.parquet",
        "video_path": "videos/{video_key}/chunk-{chunk_index:03d}/file-{file_index:03d}.mp4",
        "features": {
            CAMERA_KEY: {"dtype": "video", "shape": [SIZE, SIZE, 3], "names": ["height", "width", "channels"]},
            "action": {"dtype": "float32", "shape": [2], "names": ["dx", "dy"]},
            "observation.state": {"dtype": "float32", "shape": [2], "names": ["x", "y"]},
            "timestamp": {"dtype": "float32", "shape": [1], "names": None},
            "frame_index": {"dtype": "int64", "shape": [1], "names": None},
            "episode_index": {"dtype": "int64", "shape": [1], "names": None},
            "index": {"dtype": "int64", "shape": [1], "names": None},
            "task_index": {"dtype": "int64", "shape": [1], "names": None},
        },
    }
    (root / "meta/info.json").write_text(json.dumps(info, indent=2))
    return root


@dataclass(frozen=True)
class SquareRecordings:
    """What conftest.py builds once per session."""

    bag_episodes: list[SquareEpisode]
    mcap: Path
    sqlite: Path
    lerobot_episodes: list[SquareEpisode]
    lerobot: Path
