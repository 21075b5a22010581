"""LeRobotDataset v3.0 folders on local disk, read with pyarrow and PyAV only (no hub, no `lerobot` package).

This module knows the format; `recording.read_lerobot` puts its episodes on the fps grid like any other
recording. Layout facts and where they come from (github.com/huggingface/lerobot):

- `meta/info.json` holds `codebase_version` ("v3.0"), `fps`, `features` (name -> `dtype`, `shape`,
  `names`; a camera stream has dtype "video") and the path templates `data_path` =
  "data/chunk-{chunk_index:03d}/file-{file_index:03d}.parquet" and `video_path` =
  "videos/{video_key}/chunk-{chunk_index:03d}/file-{file_index:03d}.mp4"
  (src/lerobot/datasets/utils.py: INFO_PATH, DEFAULT_DATA_PATH, DEFAULT_VIDEO_PATH, create_empty_dataset_info).
- Every frame row also carries the default features `timestamp` (seconds from the episode's start),
  `frame_index`, `episode_index`, `index` (row in the whole dataset) and `task_index` (utils.py DEFAULT_FEATURES).
- `meta/episodes/chunk-*/file-*.parquet` has one row per episode: `episode_index`, `length`,
  `dataset_from_index` / `dataset_to_index` (its `index` range), `data/chunk_index`, `data/file_index`, and
  for each video key `videos/{key}/chunk_index`, `/file_index`, `/from_timestamp`, `/to_timestamp`;
  `stats/...` columns are per-episode statistics (utils.py EPISODES_DIR, DEFAULT_EPISODES_PATH,
  load_episodes; datasets/dataset_metadata.py get_data_file_path, get_video_file_path).
- Many episodes share one parquet file and one mp4 per camera; an episode's frame at `timestamp` t is the
  video frame at `from_timestamp + t` of its file (datasets/lerobot_dataset.py `_query_videos`: "Episodes
  are stored sequentially on a single mp4 ... we load the start timestamp of the episode on this mp4 and
  shift the query timestamp accordingly"; docs/source/lerobot-dataset-v3.mdx, "Format design").
- v2.x datasets (one file per episode, meta/episodes.jsonl) are a different layout: refused with the hint
  to convert them (lerobot's convert_dataset_v21_to_v30, same doc).

Memory: the episode table and the numeric columns of one data file at a time; video frames are decoded
only for the times asked, seeking to the keyframe before the first one.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from dream_engine_ros.augment.errors import AugmentInputError

INFO_FILE = "meta/info.json"
EPISODES_DIR = "meta/episodes"
NON_VECTOR_DTYPES = ("video", "image", "string", "audio")


def is_lerobot_dataset(path: Path) -> bool:
    return path.is_dir() and (path / INFO_FILE).is_file()


@dataclass(frozen=True)
class EpisodeFiles:
    """Where one episode lives: its data file (rows filtered by episode_index) and, per video key, the
    mp4 holding it and the episode's first frame time in that file."""

    index: int
    length: int
    data_file: Path
    videos: dict[str, tuple[Path, float]]


@dataclass
class LeRobotV3:
    root: Path
    fps: float
    features: dict[str, dict[str, Any]]
    episodes: list[EpisodeFiles]
    meta_files: list[Path]  # info.json and the episode tables: what identifies the dataset's content
    _table_file: Path | None = field(default=None, repr=False)
    _table: Any = field(default=None, repr=False)

    @property
    def source(self) -> str:
        return str(self.root)

    @property
    def video_keys(self) -> list[str]:
        return [key for key, feature in self.features.items() if feature.get("dtype") == "video"]

    @property
    def vector_keys(self) -> list[str]:
        return [key for key, feature in self.features.items() if feature.get("dtype") not in NON_VECTOR_DTYPES]

    def element_names(self, key: str) -> list[str] | None:
        """The names of a vector feature's elements (a list, or lerobot's older {"axes": [...]} form)."""
        names = self.features.get(key, {}).get("names")
        if isinstance(names, dict) and len(names) == 1:
            names = next(iter(names.values()))
        if isinstance(names, list) and all(isinstance(name, str) for name in names):
            return names
        return None

    def columns(self, episode: EpisodeFiles, keys: Sequence[str]) -> dict[str, np.ndarray]:
        """`timestamp` (n,) float64 and each key (n, size) float64 of one episode, in frame order."""
        import pyarrow.compute as pc

        table = self._data_table(episode.data_file)
        missing = [key for key in ("episode_index", "timestamp", *keys) if key not in table.column_names]
        if missing:
            raise AugmentInputError(self.source, f"data file {episode.data_file} has no column "
                                    f"{', '.join(missing)} (columns: {', '.join(table.column_names)})", missing[0])
        rows = table.filter(pc.equal(table["episode_index"], episode.index))
        if "frame_index" in rows.column_names:
            rows = rows.sort_by("frame_index")
        out: dict[str, np.ndarray] = {"timestamp": _numeric(rows["timestamp"], self.source, "timestamp").reshape(-1)}
        for key in keys:
            out[key] = _numeric(rows[key], self.source, key).reshape(rows.num_rows, -1)
        return out

    def _data_table(self, path: Path) -> Any:
        """One data file's numeric columns, kept while consecutive episodes read the same file."""
        if self._table_file != path:
            import pyarrow.parquet as pq

            try:
                schema = pq.ParquetFile(path).schema_arrow
                wanted = [name for name in schema.names if self.features.get(name, {}).get("dtype")
                          not in NON_VECTOR_DTYPES]
                self._table = pq.read_table(path, columns=wanted)
            except Exception as exc:
                raise AugmentInputError(self.source, f"cannot read data file {path}: {type(exc).__name__}: "
                                        f"{exc}") from None
            self._table_file = path
        return self._table


def _numeric(column: Any, source: str, key: str) -> np.ndarray:
    """A scalar or list column as float64: (n,) or (n, size); ragged lists are an error."""
    import pyarrow as pa
    import pyarrow.compute as pc

    column = column.combine_chunks() if isinstance(column, pa.ChunkedArray) else column
    kind = column.type
    if pa.types.is_list(kind) or pa.types.is_large_list(kind) or pa.types.is_fixed_size_list(kind):
        lengths = np.asarray(pc.list_value_length(column).to_numpy(zero_copy_only=False))
        if len(lengths) and (lengths != lengths[0]).any():
            raise AugmentInputError(source, f"vectors of different sizes ({sorted(set(lengths.tolist()))})", key)
        flat = np.asarray(pc.list_flatten(column).to_numpy(zero_copy_only=False), dtype=np.float64)
        return flat.reshape(len(column), int(lengths[0]) if len(lengths) else 0)
    try:
        return np.asarray(column.to_numpy(zero_copy_only=False), dtype=np.float64)
    except (TypeError, ValueError, pa.ArrowException) as exc:
        raise AugmentInputError(source, f"column of type {kind} is not numeric: {exc}", key) from None


def open_lerobot_v3(root: Path) -> LeRobotV3:
    """Read info.json and the episode tables; every problem names the folder (and the key involved)."""
    import pyarrow.parquet as pq

    source = str(root)
    try:
        info = json.loads((root / INFO_FILE).read_text())
    except (OSError, ValueError) as exc:
        raise AugmentInputError(source, f"cannot read {INFO_FILE}: {exc}") from None
    if not isinstance(info, dict):
        raise AugmentInputError(source, f"{INFO_FILE} is not a JSON object")
    version = str(info.get("codebase_version", ""))
    if not version.startswith("v3"):
        raise AugmentInputError(source, f"LeRobot dataset version {version or '(none)'} is not supported; v3.0 is "
                                "(convert older ones with lerobot's convert_dataset_v21_to_v30)")
    for key in ("fps", "features", "data_path"):
        if key not in info:
            raise AugmentInputError(source, f"{INFO_FILE} has no {key!r}")
    features = info["features"]
    video_template = info.get("video_path")
    episode_files = sorted((root / EPISODES_DIR).glob("chunk-*/file-*.parquet"))
    if not episode_files:
        raise AugmentInputError(source, f"no episode table ({EPISODES_DIR}/chunk-*/file-*.parquet)")
    episodes: list[EpisodeFiles] = []
    for table_file in episode_files:
        try:
            names = pq.ParquetFile(table_file).schema_arrow.names
            rows = pq.read_table(table_file, columns=[n for n in names if not n.startswith("stats/")]).to_pylist()
        except Exception as exc:
            raise AugmentInputError(source, f"cannot read episode table {table_file}: {type(exc).__name__}: "
                                    f"{exc}") from None
        for row in rows:
            try:
                data_file = root / info["data_path"].format(chunk_index=int(row["data/chunk_index"]),
                                                            file_index=int(row["data/file_index"]))
                videos = {}
                for key in (k for k, f in features.items() if f.get("dtype") == "video"):
                    if f"videos/{key}/file_index" not in row or video_template is None:
                        continue
                    video_file = root / video_template.format(
                        video_key=key, chunk_index=int(row[f"videos/{key}/chunk_index"]),
                        file_index=int(row[f"videos/{key}/file_index"]))
                    videos[key] = (video_file, float(row[f"videos/{key}/from_timestamp"]))
                episodes.append(EpisodeFiles(int(row["episode_index"]), int(row["length"]), data_file, videos))
            except (KeyError, TypeError, ValueError) as exc:
                raise AugmentInputError(source, f"episode table {table_file} lacks {exc} for an episode") from None
    episodes.sort(key=lambda e: e.index)
    return LeRobotV3(root, float(info["fps"]), features, episodes, [root / INFO_FILE, *episode_files])


def decode_video_frames(path: Path, times_s: Sequence[float], tolerance_s: float, source: str,
                        key: str) -> dict[float, np.ndarray]:
    """RGB frames (H, W, 3) uint8 of one mp4 at the given times (each the frame within `tolerance_s`):
    seek to the keyframe before the first time, decode forward to the last; a miss after a seek is
    retried once from the file's start (some files seek imprecisely)."""
    import av

    targets = sorted(set(float(t) for t in times_s))
    if not targets:
        return {}
    if not path.is_file():
        raise AugmentInputError(source, f"video file {path} is missing", key)
    found: dict[float, np.ndarray] = {}
    for seek in (targets[0] > tolerance_s, False):
        try:
            with av.open(str(path)) as container:
                stream = container.streams.video[0]
                if seek:
                    first = max(0.0, targets[0] - tolerance_s)
                    if stream.time_base is None:
                        container.seek(int(first * 1_000_000))  # container time base: microseconds
                    else:
                        container.seek(int(first / stream.time_base), stream=stream)
                pending = [t for t in targets if t not in found]
                for frame in container.decode(stream):
                    if frame.time is None:
                        continue
                    time = float(frame.time)
                    for target in [t for t in pending if abs(t - time) <= tolerance_s]:
                        found[target] = frame.to_ndarray(format="rgb24")
                        pending.remove(target)
                    if not pending or time > pending[-1] + tolerance_s:
                        break
        except AugmentInputError:
            raise
        except Exception as exc:  # av.error.* for a corrupt or truncated file
            raise AugmentInputError(source, f"cannot decode video {path}: {type(exc).__name__}: {exc}", key) from None
        if len(found) == len(targets):
            return found
    missing = [t for t in targets if t not in found]
    raise AugmentInputError(source, f"video {path} has no frame within {tolerance_s * 1000:.1f} ms of "
                            f"{missing[0]:.3f} s ({len(missing)} of {len(targets)} frames missing)", key)
