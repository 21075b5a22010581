"""Where each pixel of a PushT frame came from one step earlier, from the simulator's states.

Why: a warp model (`FrameNetConfig.warp`) can learn its displacements from the pixel loss
alone, but the gradient of a bilinear sample only reaches about one pixel, so a fast agent or a
T turning about a far pivot is learned slowly. The simulator knows both rigid motions exactly,
and this supervision teaches the field directly: pixels of the T in frame k + 1 follow the
block's rigid motion back to frame k, pixels of the agent its translation, every other pixel
stays (zero displacement; uncovered floor is the residual's job).
"""

from __future__ import annotations

import numpy as np

from dream_engine_ros.envs.pusht.evaluation.reader import (
    AGENT_LABEL,
    AGENT_RIM_LABEL,
    BLOCK_LABEL,
    WORLD_SIZE,
    classify_many,
)


def _rotation(angle: np.ndarray) -> np.ndarray:
    c, s = np.cos(angle), np.sin(angle)
    return np.stack([np.stack([c, -s], -1), np.stack([s, c], -1)], -2)


def backward_flow(next_frames: np.ndarray, before: np.ndarray, after: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """next_frames (B, H, W, 3) uint8 (frame k + 1), states (B, 5) at k and k + 1 ->
    (flow (B, 2, H, W) in pixels such that next(p) = frame_k(p + flow(p)), labels (B, H, W)).

    States are [agent_x, agent_y, block_x, block_y, block_angle] in world units.
    """
    b, h, w = next_frames.shape[:3]
    labels = classify_many(next_frames)
    scale = WORLD_SIZE / w
    ys, xs = np.meshgrid(np.arange(h, dtype=np.float64), np.arange(w, dtype=np.float64), indexing="ij")
    world = np.stack([(xs + 0.5) * scale, (ys + 0.5) * scale], axis=-1)  # (H, W, 2)
    # the T: body coordinates in frame k + 1, then back into the world at frame k
    local = np.einsum("bji,bhwj->bhwi", _rotation(after[:, 4]), world[None] - after[:, None, None, 2:4])
    earlier = np.einsum("bij,bhwj->bhwi", _rotation(before[:, 4]), local) + before[:, None, None, 2:4]
    block_flow = (earlier - world[None]) / scale
    agent_flow = np.broadcast_to(((before[:, 0:2] - after[:, 0:2]) / scale)[:, None, None], block_flow.shape)
    flow = np.zeros_like(block_flow)
    is_block = labels == BLOCK_LABEL
    is_agent = (labels == AGENT_LABEL) | (labels == AGENT_RIM_LABEL)
    flow[is_block] = block_flow[is_block]
    flow[is_agent] = agent_flow[is_agent]
    return np.moveaxis(flow, -1, 1).astype(np.float32), labels
