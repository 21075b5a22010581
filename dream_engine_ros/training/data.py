"""Training windows from recordings: episodes, a seeded split, action statistics, streamed frames.

Episodes come from the augmentation reader (`augment.recording.open_recordings`: rosbag2 MCAP/sqlite3,
npz episodes, LeRobotDataset v3 folders), on the fps grid by its rule (docs/augmentation.md): one bag
is one episode, an npz or LeRobot input one per episode. The action size is the first episode's; every
other episode must match it.

A window is `window` consecutive grid frames, every one with an image, and the `window - 1` actions
between them, all recorded (`Recording.starts(..., whole_window=True)`). An episode without one window is
an error (or skipped with `skip_short=True`, and listed).

Split: episodes sorted by content hash (so neither paths nor input order matter), permuted by
`np.random.default_rng(seed)`; the first `max(1, round(held_out_fraction * n))` are held out (none when
the fraction is 0 or there is one episode; at least one stays for training). `split_dict()` records
rule, seed and both lists.

Action statistics, from the training episodes' actions that fall inside windows: per-dimension mean,
std (population; floored at 1e-6), raw min / max, and the normalisation bounds low / high = raw min /
max widened by MARGIN (5 %) of the range on each side, so held-out and perturbed actions a little
outside the recorded range still map into about [-1, 1]; a constant dimension gets +-max(1e-3, 5 % of
|value|) so its range is never empty. `normalize` maps [low, high] -> [-1, 1].

Memory: recordings hold only stamps and actions; frames are decoded per batch (`Recording.load_frames`
of just the indices the batch needs), fitted to the resolution (`engine.preprocess.fit_frame`) and kept
in an LRU of `cache_episodes` episodes, so at most cache_episodes x episode length fitted frames stay
in memory whatever the dataset's size.
"""

from __future__ import annotations

import dataclasses
import json
from collections import OrderedDict
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

import numpy as np

from dream_engine_ros.atomic_file import atomic_output
from dream_engine_ros.augment.errors import AugmentInputError
from dream_engine_ros.augment.recording import Recording, RecordingOptions, check_first_frame, open_recordings
from dream_engine_ros.engine.preprocess import fit_frame

MARGIN = 0.05
STD_FLOOR = 1e-6
CONSTANT_PAD = 1e-3
SPLIT_RULE = ("episodes sorted by content hash, permuted by numpy.random.default_rng(seed); the first "
              "max(1, round(held_out_fraction * n)) are held out (0 when the fraction is 0 or n < 2; "
              "at most n - 1)")
Split = Literal["train", "held_out"]


class TrainingDataError(AugmentInputError):
    """Input that cannot make training data; names the file and, where one is involved, the topic."""


@dataclass(frozen=True)
class Episode:
    recording: Recording
    starts: tuple[int, ...]  # grid indices that start a full window

    @property
    def source(self) -> str:
        return self.recording.source


@dataclass(frozen=True)
class ActionStats:
    """Per-dimension action statistics of the training episodes (module docstring: the margin rule)."""

    low: np.ndarray
    high: np.ndarray
    raw_low: np.ndarray
    raw_high: np.ndarray
    mean: np.ndarray
    std: np.ndarray
    count: int
    margin: float = MARGIN

    @classmethod
    def of(cls, actions: np.ndarray, margin: float = MARGIN) -> ActionStats:
        values = np.asarray(actions, dtype=np.float64)
        raw_low, raw_high = values.min(axis=0), values.max(axis=0)
        span = raw_high - raw_low
        pad = np.where(span > 0, margin * span, np.maximum(CONSTANT_PAD, margin * np.abs(raw_low)))
        return cls(raw_low - pad, raw_high + pad, raw_low, raw_high, values.mean(axis=0),
                   np.maximum(values.std(axis=0), STD_FLOOR), int(values.shape[0]), margin)

    def normalize(self, actions: np.ndarray) -> np.ndarray:
        """[low, high] -> [-1, 1] per dimension (float32)."""
        scaled: np.ndarray = (2.0 * (np.asarray(actions) - self.low) / (self.high - self.low) - 1.0)
        return scaled.astype(np.float32)

    def denormalize(self, values: np.ndarray) -> np.ndarray:
        restored: np.ndarray = (np.asarray(values) + 1.0) / 2.0 * (self.high - self.low) + self.low
        return restored.astype(np.float32)

    def to_dict(self) -> dict[str, Any]:
        return {"action_dim": int(self.low.size), "count": self.count, "low": self.low.tolist(),
                "high": self.high.tolist(), "raw_low": self.raw_low.tolist(), "raw_high": self.raw_high.tolist(),
                "mean": self.mean.tolist(), "std": self.std.tolist(), "margin": self.margin,
                "rule": f"low/high = raw min/max -+ {self.margin} x range (constant dim: -+ max({CONSTANT_PAD}, "
                        f"{self.margin} x |value|)); std floored at {STD_FLOOR}; actions inside training windows"}

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> ActionStats:
        def arr(key: str) -> np.ndarray:
            return np.asarray(data[key], dtype=np.float64)

        return cls(arr("low"), arr("high"), arr("raw_low"), arr("raw_high"), arr("mean"), arr("std"),
                   int(data["count"]), float(data["margin"]))

    def save(self, path: str | Path) -> None:
        _write_json(Path(path), self.to_dict())

    @classmethod
    def load(cls, path: str | Path) -> ActionStats:
        return cls.from_dict(json.loads(Path(path).read_text()))


def split_episodes(content_hashes: Sequence[str], held_out_fraction: float,
                   seed: int) -> tuple[list[int], list[int]]:
    """(train, held-out) episode indices, each sorted, by SPLIT_RULE."""
    n = len(content_hashes)
    order = sorted(range(n), key=lambda i: (content_hashes[i], i))
    shuffled = [order[j] for j in np.random.default_rng(seed).permutation(n)]
    held = 0 if held_out_fraction <= 0 or n < 2 else min(n - 1, max(1, round(held_out_fraction * n)))
    return sorted(shuffled[held:]), sorted(shuffled[:held])


@dataclass
class WindowBatch:
    frames: np.ndarray  # (B, window, H, W, 3) uint8 at the training resolution
    actions: np.ndarray  # (B, window - 1, D) float32; actions[:, k] leads from frame k to k + 1
    episodes: np.ndarray  # (B,) index into TrainingData.episodes
    starts: np.ndarray  # (B,) grid index of each window's first frame


class EpisodeFrameCache:
    """Fitted frames of the `capacity` most recently used episodes; older episodes are dropped whole."""

    def __init__(self, capacity: int, load: Callable[[int, list[int]], dict[int, np.ndarray]]) -> None:
        self.capacity = max(1, capacity)
        self.load = load
        self.entries: OrderedDict[int, dict[int, np.ndarray]] = OrderedDict()
        self.decoded = 0  # frames decoded so far (a cache hit decodes nothing)

    def get(self, episode: int, indices: Sequence[int]) -> dict[int, np.ndarray]:
        entry = self.entries.pop(episode, {})
        self.entries[episode] = entry
        missing = sorted({int(i) for i in indices} - set(entry))
        if missing:
            entry.update(self.load(episode, missing))
            self.decoded += len(missing)
        while len(self.entries) > self.capacity:
            self.entries.popitem(last=False)
        return {int(i): entry[int(i)] for i in indices}

    def frames_held(self) -> int:
        return sum(len(entry) for entry in self.entries.values())


def _resolution(resolution: int | tuple[int, int]) -> tuple[int, int]:
    height, width = (resolution, resolution) if isinstance(resolution, int) else resolution
    if height < 1 or width < 1:
        raise TrainingDataError("--resolution", f"{resolution} must be positive")
    return int(height), int(width)


def _write_json(path: Path, data: dict[str, Any]) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    with atomic_output(path) as tmp:
        tmp.write_text(json.dumps(data, indent=2, sort_keys=True) + "\n")


class TrainingData:
    """Episodes, split, action statistics and a seeded window stream (module docstring: the rules)."""

    def __init__(self, episodes: list[Episode], fps: float, resolution: tuple[int, int], window: int,
                 held_out_fraction: float, seed: int, cache_episodes: int = 4,
                 skipped: list[dict[str, Any]] | None = None, inputs: Sequence[str] = ()) -> None:
        self.episodes = episodes
        self.fps = fps
        self.resolution = resolution
        self.window = window
        self.held_out_fraction = held_out_fraction
        self.seed = seed
        self.skipped = skipped or []
        self.inputs = list(inputs)
        self.train, self.held_out = split_episodes([e.recording.content_hash for e in episodes],
                                                   held_out_fraction, seed)
        self.action_dim = int(episodes[0].recording.actions.shape[1])
        self.stats = ActionStats.of(np.concatenate([self.window_actions(i) for i in self.train]))
        self.cache = EpisodeFrameCache(cache_episodes, self.load_fitted)

    @classmethod
    def build(cls, inputs: Sequence[str | Path], options: RecordingOptions, fps: float,
              resolution: int | tuple[int, int], window: int, held_out_fraction: float = 0.1, seed: int = 0,
              cache_episodes: int = 4, skip_short: bool = False) -> TrainingData:
        """Open every input and check it before anything trains; errors name file and topic."""
        if not inputs:
            raise TrainingDataError("--input", "no recordings given")
        if window < 2:
            raise TrainingDataError("--window", f"{window} must be at least 2 (two frames and one action)")
        if fps <= 0:
            raise TrainingDataError("--fps", f"{fps} must be positive")
        if not 0 <= held_out_fraction < 1:
            raise TrainingDataError("--held-out", f"{held_out_fraction} must be in [0, 1)")
        size = _resolution(resolution)
        episodes: list[Episode] = []
        skipped: list[dict[str, Any]] = []
        dim: int | None = None
        dim_options = options
        for path in inputs:
            recordings = open_recordings(path, dim_options, dim, fps)
            if not recordings:
                raise TrainingDataError(str(path), "holds no episodes")
            for recording in recordings:
                if dim is None:
                    dim = int(recording.actions.shape[1])
                    dim_options = dataclasses.replace(options, dim_name=f"the action size of {recording.source}")
                episode = _episode(recording, window, fps)
                if episode is None:
                    skipped.append({"source": recording.source, "grid_frames": int(recording.frame_ok.size),
                                    "reason": f"no window of {window} frames"})
                    if not skip_short:
                        _too_short(recording, window, fps)
                    continue
                check_first_frame(recording)
                episodes.append(episode)
        if not episodes:
            raise TrainingDataError(", ".join(map(str, inputs)), f"no episode has a window of {window} frames")
        return cls(episodes, fps, size, window, held_out_fraction, seed, cache_episodes, skipped,
                   [str(p) for p in inputs])

    # ------------------------------------------------------------------------------------------ contents

    def window_actions(self, episode: int) -> np.ndarray:
        """The recorded actions of one episode that fall inside at least one window."""
        recording = self.episodes[episode].recording
        covered = np.zeros(len(recording.actions), dtype=bool)
        for start in self.episodes[episode].starts:
            covered[start:start + self.window - 1] = True
        return recording.actions[covered]

    def split_dict(self) -> dict[str, Any]:
        return {"rule": SPLIT_RULE, "seed": self.seed, "held_out_fraction": self.held_out_fraction,
                "train": [self.episodes[i].source for i in self.train],
                "held_out": [self.episodes[i].source for i in self.held_out],
                "content_sha256": {e.source: e.recording.content_hash for e in self.episodes}}

    def describe(self) -> dict[str, Any]:
        """JSON-able summary: inputs, grid, episodes with their window counts, split, statistics."""
        return {"inputs": self.inputs, "fps": self.fps, "resolution": list(self.resolution), "window": self.window,
                "action_dim": self.action_dim,
                "episodes": [{"source": e.source, "grid_frames": int(e.recording.frame_ok.size),
                              "windows": len(e.starts)} for e in self.episodes],
                "skipped": self.skipped, "split": self.split_dict(), "action_stats": self.stats.to_dict()}

    def save(self, out: str | Path) -> None:
        """split.json and action_stats.json in `out` (each written atomically)."""
        out = Path(out)
        _write_json(out / "split.json", self.split_dict())
        self.stats.save(out / "action_stats.json")

    def pool(self, split: Split) -> list[int]:
        chosen = self.train if split == "train" else self.held_out
        if not chosen:
            raise TrainingDataError(", ".join(self.inputs), f"the {split} split has no episode "
                                    f"({len(self.episodes)} episodes, held-out fraction {self.held_out_fraction})")
        return chosen

    def window_list(self, split: Split = "held_out", every: int | None = None) -> list[tuple[int, int]]:
        """(episode, start) of the split's windows, every `every`-th start (default: non-overlapping)."""
        step = every or self.window - 1
        return [(i, s) for i in self.pool(split) for s in self.episodes[i].starts if s % step == 0]

    # ------------------------------------------------------------------------------------------ frames

    def load_fitted(self, episode: int, indices: list[int]) -> dict[int, np.ndarray]:
        height, width = self.resolution
        raw = self.episodes[episode].recording.load_frames(indices)
        return {index: fit_frame(raw[index], height, width) for index in indices}

    def batch(self, episodes: Sequence[int], starts: Sequence[int], normalize: bool = False) -> WindowBatch:
        """The windows at the given (episode, start) pairs; frames decoded only where not cached."""
        wanted: dict[int, set[int]] = {}
        for episode, start in zip(episodes, starts, strict=True):
            wanted.setdefault(int(episode), set()).update(range(int(start), int(start) + self.window))
        frames_of = {episode: self.cache.get(episode, sorted(indices)) for episode, indices in wanted.items()}
        frames = np.stack([np.stack([frames_of[int(e)][k] for k in range(int(s), int(s) + self.window)])
                           for e, s in zip(episodes, starts, strict=True)])
        actions = np.stack([self.episodes[int(e)].recording.actions[int(s):int(s) + self.window - 1]
                            for e, s in zip(episodes, starts, strict=True)]).astype(np.float32)
        if normalize:
            actions = self.stats.normalize(actions)
        return WindowBatch(frames, actions, np.asarray(episodes, dtype=np.int64), np.asarray(starts, dtype=np.int64))

    def windows(self, batch_size: int, seed: int, split: Split = "train", normalize: bool = False,
                batches: int | None = None) -> Iterator[WindowBatch]:
        """Batches of windows drawn uniformly over the split's windows by np.random.default_rng(seed)
        (the same seed gives the same windows); endless unless `batches` is given."""
        pool = self.pool(split)
        counts = np.array([len(self.episodes[i].starts) for i in pool])
        ends = np.cumsum(counts)
        rng = np.random.default_rng(seed)
        drawn = 0
        while batches is None or drawn < batches:
            picks = rng.integers(0, int(ends[-1]), size=batch_size)
            slots = np.searchsorted(ends, picks, side="right")
            episodes = [pool[slot] for slot in slots]
            starts = [self.episodes[e].starts[int(p - (ends[slot] - counts[slot]))]
                      for e, p, slot in zip(episodes, picks, slots, strict=True)]
            yield self.batch(episodes, starts, normalize)
            drawn += 1


def _episode(recording: Recording, window: int, fps: float) -> Episode | None:
    """The episode's windows; a recording whose actions all come after its frames is an error."""
    if recording.actions.size and not np.isfinite(recording.actions).any():
        raise TrainingDataError(recording.source, "mismatched stamps: no action is stamped before the last camera "
                                "frame, so no frame has an action (do the two topics use the same clock? "
                                "header stamps vs log time: try stamps='log')",
                                recording.extras.get("action_topic"))
    starts = recording.starts(window - 1, every=1, whole_window=True)
    return Episode(recording, tuple(starts)) if starts else None


def _too_short(recording: Recording, window: int, fps: float) -> None:
    with_image = int(recording.frame_ok.sum())
    with_action = int(np.isfinite(recording.actions).all(axis=1).sum())
    raise TrainingDataError(recording.source, f"too few frames for one window of {window}: {recording.frame_ok.size} "
                            f"grid frames at {fps:g} fps, {with_image} with an image, {with_action} with an action, "
                            f"and no {window} consecutive ones with images and the {window - 1} actions between them",
                            recording.extras.get("camera_topic"))
