"""Start-frame preparation: any RGB image -> the spec's resolution.

Rule (documented for users): centre-crop to the spec's aspect ratio, then resize with an
antialiased bilinear filter, rounding to uint8. Deterministic on a given machine.
"""

from __future__ import annotations

import numpy as np
import torch
import torch.nn.functional as F


def center_crop_to_aspect(image: np.ndarray, height: int, width: int) -> np.ndarray:
    """Largest centred crop of `image` (H, W, C) whose aspect ratio is width / height."""
    src_h, src_w = image.shape[:2]
    if src_w * height > src_h * width:  # too wide
        crop_w = max(1, round(src_h * width / height))
        left = (src_w - crop_w) // 2
        return image[:, left:left + crop_w]
    crop_h = max(1, round(src_w * height / width))
    top = (src_h - crop_h) // 2
    return image[top:top + crop_h]


def fit_frame(image: np.ndarray, height: int, width: int) -> np.ndarray:
    """uint8 (H, W, 3) of exactly (height, width): centre crop to aspect, then resize."""
    cropped = center_crop_to_aspect(image, height, width)
    if cropped.shape[:2] == (height, width):
        return np.ascontiguousarray(cropped)
    tensor = torch.from_numpy(np.array(cropped)).permute(2, 0, 1)[None].float()  # a copy: the input may be read-only
    resized = F.interpolate(tensor, size=(height, width), mode="bilinear", align_corners=False, antialias=True)
    return resized[0].permute(1, 2, 0).round().clamp(0, 255).to(torch.uint8).numpy()
