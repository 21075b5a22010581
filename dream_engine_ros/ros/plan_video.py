"""The MPC film: what the real camera saw after each step (left) beside the frame the plan in
force dreamed for that step (right), both at the model's frame size, at the spec's rate."""

from __future__ import annotations

from pathlib import Path

import numpy as np

GAP_PX = 4  # white columns between the two halves


def side_by_side(real: list[np.ndarray], dreamed: list[np.ndarray | None], height: int, width: int) -> np.ndarray:
    """(N, height, 2 * width + GAP_PX, 3) uint8: each real frame fitted to the model's size as the
    engine fits a start frame; a step whose plan was not drawn shows black on the right."""
    from dream_engine_ros.engine.preprocess import fit_frame  # torch: only when a film is written

    rows = []
    black = np.zeros((height, width, 3), np.uint8)
    gap = np.full((height, GAP_PX, 3), 255, np.uint8)
    for seen, dream in zip(real, dreamed, strict=True):
        right = black if dream is None else fit_frame(dream, height, width)
        rows.append(np.concatenate([fit_frame(seen, height, width), gap, right], axis=1))
    return np.stack(rows)


def write_plan_video(path: Path, real: list[np.ndarray], dreamed: list[np.ndarray | None], height: int,
                     width: int, fps: float) -> Path:
    from dream_engine_ros.video import write_mp4

    path.parent.mkdir(parents=True, exist_ok=True)
    return write_mp4(path, side_by_side(real, dreamed, height, width), fps)
