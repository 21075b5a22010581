"""Quality gate: predicted videos against the truth on PSNR, SSIM and LPIPS, pass or fail.

Why a gate and not just a score: a retrained or broken model still produces plausible videos;
only thresholds recorded from a known-good model turn "a bit worse" into a failing CI run.

- Inputs: two videos, or two folders whose videos (``.mp4`` or ``.npy`` (N, H, W, 3) uint8)
  are matched by file name; every name must be in both folders.
- Means leave out frame 0 of each video when it has more than one frame (the engine's frame 0
  is the given start frame, not a prediction) and pool the remaining frames of all videos.
- A metric fails when its pooled mean is below ``min_psnr`` / ``min_ssim`` or above
  ``max_lpips``; the report names each failing metric with its value and threshold.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from dream_engine_ros.metrics import evaluate_videos

if TYPE_CHECKING:
    from dream_engine_ros.lpips import LpipsModel

VIDEO_SUFFIXES = (".mp4", ".npy")
METRICS = ("psnr", "ssim", "lpips")


class GateInputError(ValueError):
    """The inputs cannot be gated (missing, unmatched, unreadable, different shapes)."""


@dataclass(frozen=True)
class Thresholds:
    min_psnr: float | None = None
    min_ssim: float | None = None
    max_lpips: float | None = None

    def rules(self) -> list[tuple[str, str, float]]:
        """(metric, 'min' | 'max', threshold) for each threshold that is set."""
        out = []
        for metric, rule, value in (("psnr", "min", self.min_psnr), ("ssim", "min", self.min_ssim),
                                    ("lpips", "max", self.max_lpips)):
            if value is not None:
                out.append((metric, rule, float(value)))
        return out


@dataclass(frozen=True)
class Failure:
    metric: str
    rule: str
    value: float
    threshold: float

    def __str__(self) -> str:
        op = "<" if self.rule == "min" else ">"
        return f"{self.metric} mean {self.value:.4f} {op} {self.rule} {self.threshold:.4f}"


def _videos_in(folder: Path) -> dict[str, Path]:
    return {p.name: p for p in sorted(folder.iterdir()) if p.is_file() and p.suffix.lower() in VIDEO_SUFFIXES}


def pair_inputs(pred: Path, truth: Path) -> list[tuple[str, Path, Path]]:
    """(name, pred file, truth file) for two files or two folders matched by file name."""
    for flag, path in (("--pred", pred), ("--truth", truth)):
        if not path.exists():
            raise GateInputError(f"{flag}: {path} does not exist")
    if pred.is_file() and truth.is_file():
        return [(pred.name, pred, truth)]
    if not (pred.is_dir() and truth.is_dir()):
        raise GateInputError(f"--pred/--truth: {pred} and {truth} must both be files or both be folders")
    p, t = _videos_in(pred), _videos_in(truth)
    if not p:
        raise GateInputError(f"--pred: no {'/'.join(VIDEO_SUFFIXES)} videos in {pred}")
    only_p, only_t = sorted(set(p) - set(t)), sorted(set(t) - set(p))
    if only_p or only_t:
        raise GateInputError(f"--pred/--truth: unmatched file names: only in pred {only_p}, only in truth {only_t}")
    return [(name, p[name], t[name]) for name in p]


def read_video(path: Path) -> np.ndarray:
    """(N, H, W, 3) uint8 from an .mp4 or a .npy; GateInputError for anything else."""
    try:
        if path.suffix.lower() == ".npy":
            video = np.load(path, allow_pickle=False)
        else:
            from dream_engine_ros.video import read_mp4

            video = read_mp4(path)[0]
    except Exception as exc:  # PyAV and numpy raise many types for a broken file
        raise GateInputError(f"cannot read {path}: {exc}") from None
    if video.dtype != np.uint8 or video.ndim != 4 or video.shape[-1] != 3 or video.shape[0] == 0:
        raise GateInputError(f"{path}: {video.dtype} {video.shape} is not a non-empty (N, H, W, 3) uint8 video")
    return video


def score_videos(videos: Sequence[tuple[str, np.ndarray, np.ndarray]],
                 lpips: LpipsModel | None) -> list[dict[str, Any]]:
    """Per-video metrics (per-frame lists and means) of (name, pred, truth) triples."""
    rows = []
    for name, pred, truth in videos:
        if pred.shape != truth.shape:
            raise GateInputError(f"{name}: pred {pred.shape} and truth {truth.shape} differ in shape")
        rows.append({"name": name, **evaluate_videos(pred, truth, lpips)})
    return rows


def pooled_means(rows: Sequence[dict[str, Any]]) -> dict[str, float]:
    """Mean of each metric over every predicted frame (frame 0 left out where N > 1)."""
    out = {}
    for metric in METRICS:
        if all(metric in row for row in rows):
            values = [v for row in rows for v in (row[metric][1:] if row["frames"] > 1 else row[metric])]
            out[metric] = float(np.mean(values))
    return out


def check(means: dict[str, float], thresholds: Thresholds) -> list[Failure]:
    """Failing metrics; a threshold on a metric that was not measured is a failure too."""
    failures = []
    for metric, rule, threshold in thresholds.rules():
        value = means.get(metric, math.nan)
        ok = value >= threshold if rule == "min" else value <= threshold
        if not ok:  # nan (not measured) fails both comparisons
            failures.append(Failure(metric, rule, value, threshold))
    return failures


def run_gate(videos: Sequence[tuple[str, np.ndarray, np.ndarray]], thresholds: Thresholds,
             lpips: LpipsModel | None) -> dict[str, Any]:
    """The whole report: pass/fail, failing metrics, pooled means, thresholds, per-video rows."""
    if not videos:
        raise GateInputError("no videos to gate")
    rows = score_videos(videos, lpips)
    means = pooled_means(rows)
    failures = check(means, thresholds)
    return {
        "passed": not failures,
        "failed": [asdict(f) for f in failures],
        "means": means,
        "thresholds": asdict(thresholds),
        "videos": len(rows),
        "frames_scored": sum(max(row["frames"] - 1, 1) for row in rows),
        "lpips_weights": None if lpips is None else lpips.source,
        "per_video": rows,
    }


def failure_lines(report: dict[str, Any]) -> list[str]:
    return [str(Failure(**f)) for f in report["failed"]]
