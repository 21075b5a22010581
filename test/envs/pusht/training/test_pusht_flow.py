"""The simulator's displacement field: warping frame k along it must reproduce frame k + 1's T."""

from __future__ import annotations

import numpy as np
import torch

from dream_engine_ros.engine.families.causal_video.frame_unet import warp
from dream_engine_ros.envs.pusht.evaluation.reader import BLOCK_LABEL
from dream_engine_ros.envs.pusht.training import pusht_data
from dream_engine_ros.envs.pusht.training.pusht_flow import backward_flow


def _unit(frames: np.ndarray) -> torch.Tensor:
    return torch.from_numpy(frames).float().div(127.5).sub(1.0).movedim(-1, 1)


def test_true_flow_moves_the_pushed_block_onto_its_next_pose() -> None:
    batch = pusht_data.generate_episodes_full(4, 40, seed=11, policies=("pusher",))
    step = np.abs(np.diff(batch.states[:, :, 2:5], axis=1))
    moving = np.argwhere((np.hypot(step[..., 0], step[..., 1]) > 1.0) | (step[..., 2] > 0.01))
    assert len(moving) >= 8, "the scripted pusher should move the block"
    ep, k = moving[:, 0], moving[:, 1]
    before, after = batch.frames[ep, k], batch.frames[ep, k + 1]
    flow, labels = backward_flow(after, batch.states[ep, k], batch.states[ep, k + 1])
    assert flow.shape == (len(ep), 2, 96, 96)
    on_floor = labels < BLOCK_LABEL
    assert np.all(flow.transpose(0, 2, 3, 1)[on_floor] == 0.0)

    block = torch.from_numpy(labels == BLOCK_LABEL)[:, None].expand(-1, 3, -1, -1)
    target = _unit(after)
    copied = (_unit(before) - target).abs()[block].mean().item()
    warped = (warp(_unit(before), torch.from_numpy(flow)) - target).abs()[block].mean().item()
    assert warped < 0.7 * copied, (warped, copied)
    # the opposite turn must be worse: the rotation's sign is right
    flipped_before, flipped_after = batch.states[ep, k].copy(), batch.states[ep, k + 1].copy()
    flipped_before[:, 4] *= -1
    flipped_after[:, 4] *= -1
    wrong, _ = backward_flow(after, flipped_before, flipped_after)
    wrong_err = (warp(_unit(before), torch.from_numpy(wrong)) - target).abs()[block].mean().item()
    assert warped < wrong_err
