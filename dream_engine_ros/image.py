"""Image files -> the engine's frames: (H, W, 3) uint8, as `dream-engine predict --frame` and the HTTP
API's PNG upload both read them (same pixels, so the same mp4 bytes)."""

from __future__ import annotations

from typing import Any

import numpy as np


def image_to_rgb8(image: Any) -> np.ndarray:
    """PIL image -> (H, W, 3) uint8, keeping 16-bit grayscale visible.

    Why: PIL opens a 16-bit gray PNG as mode ``I;16`` (``I`` for some files) and
    ``convert("RGB")`` clips every value above 255 to white. Those modes are scaled to 8 bit
    by their high byte, the same reduction PIL applies to 16-bit RGB PNGs.
    """
    if image.mode.startswith("I;16") or image.mode == "I":
        wide = np.asarray(image).astype(np.int64)
        gray = (np.clip(wide, 0, 65535) >> 8).astype(np.uint8)
        return np.repeat(gray[..., None], 3, axis=-1)
    return np.asarray(image.convert("RGB"), dtype=np.uint8)
