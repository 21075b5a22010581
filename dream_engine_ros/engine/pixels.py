"""uint8 pixels <-> the [-1, 1] floats every model works in: one home for the mapping."""

from __future__ import annotations

import torch
from torch import Tensor


def pixels_to_unit(frames_uint8: Tensor) -> Tensor:
    """uint8 pixels -> [-1, 1] floats (x / 127.5 - 1)."""
    return frames_uint8.float() / 127.5 - 1.0


def unit_to_pixels(video: Tensor) -> Tensor:
    """[-1, 1] floats -> uint8, clamped and truncated as the reference (DreamDojo) pipeline does."""
    return ((video.float() + 1.0) / 2.0).clamp(0.0, 1.0).mul(255.0).to(torch.uint8)


def round_to_pixels(frames_unit: Tensor) -> Tensor:
    """[-1, 1] floats -> uint8 rounded (not truncated): a frame whose change is zero comes back as
    exactly the same pixels, so an autoregressive model can feed back what it streamed."""
    return frames_unit.add(1.0).mul(127.5).round().clamp(0.0, 255.0).to(torch.uint8)
