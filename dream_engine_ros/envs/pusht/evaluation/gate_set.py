"""Held-out PushT rollouts of a model for the quality gate, and the gate recorded for the default.

The held-out set is `pusht_episodes` (push, walk, sweep, still; seeds no training run uses),
rolled out open loop from each episode's start frame with its actions; the truth is the
simulator's frames. `DEFAULT_THRESHOLDS` sit a margin outside what the shipped `pusht-structured`
measured on `HELD_OUT` (see docs/QUALITY_GATE.md), so a silent regression fails CI.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from dream_engine_ros.envs.pusht.evaluation import episodes as pusht_episodes
from dream_engine_ros.evaluation.gate import Thresholds


@dataclass(frozen=True)
class HeldOut:
    per_kind: int
    steps: int
    seed: int
    kinds: tuple[str, ...] = pusht_episodes.KINDS


HELD_OUT = HeldOut(per_kind=2, steps=48, seed=4711)  # 8 rollouts; seed 4711 is used nowhere else
# Recorded from pusht-structured on HELD_OUT with margins well inside what a slight blur of the same
# predictions costs: the measured figures and margins are in docs/QUALITY_GATE.md.
DEFAULT_THRESHOLDS = Thresholds(min_psnr=36.2, min_ssim=0.978, max_lpips=0.0176)


def rollouts(engine: Any, held_out: HeldOut = HELD_OUT) -> list[tuple[str, np.ndarray, np.ndarray]]:
    """(name, predicted frames, true frames) per episode; both (steps + 1, H, W, 3) uint8."""
    out = []
    for kind in held_out.kinds:
        for i, ep in enumerate(pusht_episodes.generate(kind, held_out.per_kind, held_out.steps, held_out.seed)):
            pred = engine.predict(ep.frames[0], ep.actions, seed=i).frames
            out.append((f"{kind}-{i:02d}", pred, ep.frames))
    return out


def write_folders(videos: Sequence[tuple[str, np.ndarray, np.ndarray]], pred_dir: Path, truth_dir: Path,
                  suffix: str = ".npy", fps: float = 10.0) -> None:
    """One file per video in each folder, same name on both sides (what `gate` matches on)."""
    from dream_engine_ros.video import write_mp4

    for folder in (pred_dir, truth_dir):
        folder.mkdir(parents=True, exist_ok=True)
    for name, pred, truth in videos:
        for folder, frames in ((pred_dir, pred), (truth_dir, truth)):
            path = folder / f"{name}{suffix}"
            if suffix == ".npy":
                np.save(path, frames)
            else:
                write_mp4(path, frames, fps)
