"""Where rollout videos go and how a failed write becomes IO_ERROR (nothing half-written).

``dream_engine_ros.video.write_mp4`` writes atomically (temp file + rename); this module
picks unique names in ``output_dir`` and makes sure the directory exists.
"""

from __future__ import annotations

import os
import time
from pathlib import Path

import numpy as np

from dream_engine_ros.ros.error_codes import ErrorCode, GoalFailure


def rollout_video_path(output_dir: Path, goal_id: bytes, candidate: int | None = None) -> Path:
    """``rollout_<UTC time>_<goal id prefix>[_k<i>].mp4`` (goal ids make names unique)."""
    when = time.strftime("%Y%m%dT%H%M%SZ", time.gmtime())
    suffix = "" if candidate is None else f"_k{candidate}"
    return output_dir / f"rollout_{when}_{goal_id.hex()[:12]}{suffix}.mp4"


def write_rollout_video(path: Path, frames: np.ndarray, fps: float) -> Path:
    """Write frames to ``path`` atomically; any failure is raised as IO_ERROR."""
    from dream_engine_ros.video import write_mp4

    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        write_mp4(path, frames, fps)
    except Exception as error:  # noqa: BLE001 - every failure here is an IO_ERROR result
        raise GoalFailure(ErrorCode.IO_ERROR, f"could not write {path}: {type(error).__name__}: {error}") from error
    return path


def remove_videos(paths: list[Path]) -> None:
    """Delete videos of a goal that ended without success (cancel after the write)."""
    for path in paths:
        try:
            os.unlink(path)
        except FileNotFoundError:
            pass
