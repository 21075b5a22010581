"""Physics metrics of a predicted PushT rollout against the simulator's truth.

Per frame, from the pixels (`pusht_reader`) and the simulator's state:
  agent_error    px between the agent's centre read from the prediction and the true centre
  agent_once     exactly one agent blob, as large as in the true frame within +-50 %
                 (a ghost copy or a faded agent fails it)
  block_iou      IoU of the predicted and the true T masks
  block_centre   px between the predicted T's centroid and the true one (from the state)
  block_angle    rad between the predicted T's angle and the simulator's
  block_count    predicted T pixels / true T pixels
  block_copies   T blobs of at least 15 % of the true T's size (1 = no second copy)
  conserved      agent_once, block_count within +-15 %, and one T
Episode summaries at a horizon h use frames 1..h (means) and frame h (end state).

Thresholds come from the issue's goals: PushT's own success tolerance (20 env units = 3.75 px
at 96 x 96, pi/9 rad) decides whether a predicted block pose is "right".
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from dream_engine_ros.envs.pusht.evaluation import reader as reader
from dream_engine_ros.metrics import ssim

CENTRE_TOLERANCE_PX = 20.0 * 96 / 512  # 3.75 px
ANGLE_TOLERANCE_RAD = np.pi / 9
COUNT_TOLERANCE = 0.15
COPY_FRACTION = 0.15


@dataclass(frozen=True)
class FrameTruth:
    """What the reader finds in the true frame, plus the simulator's state."""

    block_mask: np.ndarray
    block_area: int
    agent_area: int
    agent_xy: np.ndarray  # px
    block_xy: np.ndarray  # px, area centroid
    block_angle: float


def frame_truth(frame: np.ndarray, state: np.ndarray) -> FrameTruth:
    size = frame.shape[0]
    labels = reader.classify(frame)
    mask = labels == reader.BLOCK_LABEL
    agent = reader.read_agent(labels == reader.AGENT_LABEL)
    return FrameTruth(
        block_mask=mask,
        block_area=int(mask.sum()),
        agent_area=agent.area if agent is not None else 0,
        agent_xy=reader.world_to_pixel(state[:2], size),
        block_xy=reader.true_block_centroid(state[2:4], float(state[4]), size),
        block_angle=float(state[4]),
    )


def frame_metrics(pred: np.ndarray, truth: FrameTruth) -> dict[str, float]:
    """All per-frame metrics of one predicted frame (see the module docstring)."""
    labels = reader.classify(pred)
    block = labels == reader.BLOCK_LABEL
    agent = reader.read_agent(labels == reader.AGENT_LABEL)
    union = np.logical_or(block, truth.block_mask).sum()
    iou = float(np.logical_and(block, truth.block_mask).sum() / union) if union else 1.0
    pose = reader.read_block(block)
    _, areas, _ = reader.components(block)
    copies = int(np.sum(areas >= COPY_FRACTION * max(truth.block_area, 1)))
    count = float(block.sum() / max(truth.block_area, 1))
    if agent is None:
        agent_error, agent_once = float("nan"), False
    else:
        agent_error = float(np.hypot(agent.x - truth.agent_xy[0], agent.y - truth.agent_xy[1]))
        size_ok = 0.5 * truth.agent_area <= agent.area <= 1.5 * truth.agent_area
        agent_once = agent.blobs == 1 and size_ok
    if pose is None:
        centre, angle = float("nan"), float("nan")
    else:
        centre = float(np.hypot(pose.x - truth.block_xy[0], pose.y - truth.block_xy[1]))
        angle = reader.angle_difference(pose.angle, truth.block_angle)
    conserved = agent_once and abs(count - 1.0) <= COUNT_TOLERANCE and copies == 1
    return {
        "agent_error": agent_error,
        "agent_once": float(agent_once),
        "block_iou": iou,
        "block_centre": centre,
        "block_angle": angle,
        "block_count": count,
        "block_copies": float(copies),
        "conserved": float(conserved),
    }


def rollout_metrics(pred: np.ndarray, truth_frames: np.ndarray, states: np.ndarray) -> dict[str, np.ndarray]:
    """Per-frame metric arrays over frames 1..T of a rollout (frame 0 is the start frame)."""
    if pred.shape != truth_frames.shape:
        raise ValueError(f"prediction {pred.shape} and truth {truth_frames.shape} differ in shape")
    rows = [frame_metrics(pred[k], frame_truth(truth_frames[k], states[k])) for k in range(1, len(pred))]
    out = {key: np.array([row[key] for row in rows]) for key in rows[0]}
    diff = pred[1:].astype(np.float64) - truth_frames[1:].astype(np.float64)
    out["mse"] = (diff**2).mean(axis=(1, 2, 3))
    out["ssim"] = np.array([ssim(p, t) for p, t in zip(pred[1:], truth_frames[1:], strict=True)])
    return out


def _nan_to(value: float, fill: float) -> float:
    return fill if not np.isfinite(value) else float(value)


def summarise(per_frame: dict[str, np.ndarray], horizon: int) -> dict[str, float]:
    """Episode figures at a horizon: means over frames 1..h and the end state at frame h.

    A missing agent or T (nothing read) counts as a miss: an infinite error for the success
    tests and the frame's error left out of the mean error (its share is in agent_once).
    """
    h = slice(0, horizon)
    end = horizon - 1
    centre = _nan_to(per_frame["block_centre"][end], np.inf)
    angle = _nan_to(per_frame["block_angle"][end], np.inf)
    mse = float(np.mean(per_frame["mse"][h]))
    agent_errors = per_frame["agent_error"][h]
    return {
        "agent_error": float(np.nanmean(agent_errors)) if np.isfinite(agent_errors).any() else float("inf"),
        "agent_once": float(np.mean(per_frame["agent_once"][h])),
        "block_iou_end": float(per_frame["block_iou"][end]),
        "block_iou_mean": float(np.mean(per_frame["block_iou"][h])),
        "block_centre_end": centre,
        "block_angle_end": angle,
        "block_pose_ok_end": float(centre <= CENTRE_TOLERANCE_PX and angle <= ANGLE_TOLERANCE_RAD),
        "block_count_ok": float(np.mean(np.abs(per_frame["block_count"][h] - 1.0) <= COUNT_TOLERANCE)),
        "conserved": float(np.mean(per_frame["conserved"][h])),
        "psnr": float(10 * np.log10(255.0**2 / max(mse, 1e-10))),
        "ssim": float(np.mean(per_frame["ssim"][h])),
    }


def aggregate(episodes: list[dict[str, float]]) -> dict[str, float]:
    """Mean of each figure over episodes (the success flags become rates); the end-state
    centre and angle errors are medians, so one lost block does not hide the rest."""
    keys = episodes[0].keys()
    out: dict[str, float] = {}
    for key in keys:
        values = np.array([e[key] for e in episodes], dtype=np.float64)
        if key in ("block_centre_end", "block_angle_end"):
            out[key] = float(np.median(values))
        else:
            finite = values[np.isfinite(values)]
            out[key] = float(finite.mean()) if finite.size else float("inf")
    out["episodes"] = float(len(episodes))
    return out
