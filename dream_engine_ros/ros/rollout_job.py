"""What a validated goal hands the worker, and what the worker hands back.

Why a module of its own: these are plain data shared by intake (goal_intake), the worker and
the result messages (goal_results), with nothing ROS-specific in them but an Image list.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
from sensor_msgs.msg import Image

from dream_engine_ros.planning.cem import PlanResult
from dream_engine_ros.ros.engine_planning import PlanSearch
from dream_engine_ros.ros.goal_validation import SamplingOverrides


@dataclass
class StartFrame:
    rgb: np.ndarray
    stamp_ns: int
    frame_id: str


@dataclass
class RolloutJob:
    """A validated goal: everything the worker needs."""

    goal_id: bytes
    start: StartFrame
    actions: np.ndarray  # (T, D) or (K, T, D)
    seed: int
    sampling: SamplingOverrides
    write_video: bool
    publish_frames: bool = False
    goal_rgb: np.ndarray | None = None  # batch scoring target
    cost: str = "last-frame"  # how a batch is scored against goal_rgb (planning.costs)
    fused: bool = False  # planning mode: candidates share each network call
    return_best_frames: bool = False
    history: tuple[np.ndarray, np.ndarray] | None = None  # frames (n, H, W, 3) and actions (n, D)
    search: PlanSearch | None = None  # search mode: the engine searches from the one candidate


@dataclass
class RolloutOutcome:
    num_frames: int
    timings: dict[str, float]
    video_paths: list[Path] = field(default_factory=list)
    video_s: float = 0.0
    scores: list[float] = field(default_factory=list)
    best_index: int = -1
    best_frames: list[Image] = field(default_factory=list)
    plan: PlanResult | None = None  # search mode: the search's answer
