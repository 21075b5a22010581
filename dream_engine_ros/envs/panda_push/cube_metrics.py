"""Figures of one predicted rollout of the pushing scene against the true episode.

Per frame k = 1..T (frame 0 is the given start frame):
  cube_error   px between the cube read from the prediction and the cube read from the true frame;
               NaN where the true frame shows no cube (the hand hides it: nothing to compare), inf
               where the truth shows it and the prediction does not (a lost cube)
  psnr, ssim   of the whole frame (`dream_engine_ros.metrics`)
At a horizon h (frames 1..h):
  cube_error_mean   mean error over frames where both show the cube
  cube_found        share of the frames whose truth shows the cube where the prediction does too
  cube_error_end    the error at the last frame <= h whose truth shows the cube
  cube_ok_end       cube_error_end within OK_TOLERANCE_PX
  true_moved        the true cube moved more than OK_TOLERANCE_PX by frame h (the simulator's position
                    through the camera: hidden or not), so staying put is wrong
  moved_ok_end      cube_ok_end of the episodes whose cube moved (NaN for the others): "moved correctly"
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from dream_engine_ros.envs.panda_push.camera import DEFAULT_CAMERA, Camera
from dream_engine_ros.envs.panda_push.reader import read_cubes
from dream_engine_ros.metrics import PSNR_CAP_DB, psnr, video_ssim

OK_TOLERANCE_PX = 3.0
"""About half the cube's edge in the image: a cube this close is where it should be."""


def rollout_metrics(pred: np.ndarray, truth: np.ndarray, cubes: np.ndarray,
                    camera: Camera = DEFAULT_CAMERA) -> dict[str, np.ndarray]:
    """Per-frame arrays over frames 1..T; `cubes` (T+1, 3) the simulator's cube centres."""
    if pred.shape != truth.shape:
        raise ValueError(f"prediction {pred.shape} and truth {truth.shape} differ in shape")
    if len(cubes) != len(truth):
        raise ValueError(f"{len(cubes)} cube positions for {len(truth)} frames")
    predicted, actual = read_cubes(pred[1:]), read_cubes(truth[1:])
    error = np.array([np.nan if not t.visible else np.inf if not p.visible else float(np.hypot(p.x - t.x, p.y - t.y))
                      for p, t in zip(predicted, actual, strict=True)])
    projected = camera.project(cubes)
    return {
        "cube_error": error,
        "true_shift": np.linalg.norm(projected[1:] - projected[0], axis=1),
        "psnr": np.array([min(psnr(p, t), PSNR_CAP_DB) for p, t in zip(pred[1:], truth[1:], strict=True)]),
        "ssim": np.asarray(video_ssim(pred[1:], truth[1:])),
    }


def summarise(per_frame: dict[str, np.ndarray], horizon: int) -> dict[str, float]:
    """One episode's figures at `horizon` (module docstring)."""
    error = per_frame["cube_error"][:horizon]
    scored = np.flatnonzero(~np.isnan(error))
    finite = error[np.isfinite(error)]
    end = float(error[scored[-1]]) if scored.size else float("nan")
    ok = float("nan") if np.isnan(end) else float(end <= OK_TOLERANCE_PX)
    moved = bool(per_frame["true_shift"][horizon - 1] > OK_TOLERANCE_PX)
    return {
        "cube_error_mean": float(finite.mean()) if finite.size else float("nan"),
        "cube_found": float(np.isfinite(error[scored]).mean()) if scored.size else float("nan"),
        "cube_error_end": end,
        "cube_ok_end": ok,
        "true_moved": float(moved),
        "moved_ok_end": ok if moved else float("nan"),
        "psnr": float(per_frame["psnr"][:horizon].mean()),
        "ssim": float(per_frame["ssim"][:horizon].mean()),
    }


def aggregate(rows: Sequence[dict[str, float]]) -> dict[str, float]:
    """Episodes -> one row: the median of cube_error_end (a lost cube is inf), means of the rest (NaNs left
    out); `moved_episodes` counts the episodes moved_ok_end is over."""
    out: dict[str, float] = {}
    for key in rows[0]:
        values = np.array([row[key] for row in rows], dtype=np.float64)
        kept = values[~np.isnan(values)]
        if not kept.size:
            out[key] = float("nan")
        elif key == "cube_error_end":
            out[key] = float(np.median(kept))
        else:
            out[key] = float(kept[np.isfinite(kept)].mean()) if key == "cube_error_mean" else float(kept.mean())
    out["moved_episodes"] = float(sum(row["true_moved"] for row in rows))
    return out
