"""Where the cube is in a frame, read from pixels only: the evaluator outside any model.

The cube is the only saturated red thing in the scene (the arm is white and dark grey, the table white,
the floor dark grey), so a colour rule finds it: red above MIN_RED and at least RED_MARGIN above both
green and blue. That rule keeps a pixel that is at least about a third cube blended into white table or
grey arm, so a slightly blurred prediction is read where its cube is. The reading is the largest
8-connected red blob's centroid; stray red specks elsewhere do not move it.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

MIN_RED = 80
RED_MARGIN = 60
MIN_AREA = 4
"""Fewer red pixels than this in the largest blob: the cube is not seen (hidden by the arm, or lost)."""


@dataclass(frozen=True)
class CubeReading:
    """The cube's centroid in pixel coordinates (column, row; pixel centres at +0.5, the convention of
    `Camera.project`), its blob's area, and how many separate red blobs of MIN_AREA or more there are."""

    visible: bool
    x: float
    y: float
    area: int
    blobs: int

    @property
    def xy(self) -> np.ndarray:
        return np.array([self.x, self.y])


NOT_SEEN = CubeReading(False, float("nan"), float("nan"), 0, 0)


def cube_mask(frame: np.ndarray) -> np.ndarray:
    """(H, W) bool: the pixels the colour rule calls cube."""
    rgb = np.asarray(frame)
    if rgb.ndim != 3 or rgb.shape[-1] != 3:
        raise ValueError(f"expected an (H, W, 3) frame, got {rgb.shape}")
    r = rgb[..., 0].astype(np.int16)
    other = np.maximum(rgb[..., 1], rgb[..., 2]).astype(np.int16)
    mask: np.ndarray = (r >= MIN_RED) & (r - other >= RED_MARGIN)
    return mask


def read_cube(frame: np.ndarray) -> CubeReading:
    """The cube's reading in one (H, W, 3) uint8 frame."""
    import cv2

    mask = cube_mask(frame).astype(np.uint8)
    count, labels, stats, centroids = cv2.connectedComponentsWithStats(mask, connectivity=8)
    areas = stats[1:, cv2.CC_STAT_AREA]
    if count <= 1 or int(areas.max()) < MIN_AREA:
        return NOT_SEEN
    best = int(np.argmax(areas)) + 1
    x, y = centroids[best]
    return CubeReading(True, float(x) + 0.5, float(y) + 0.5, int(areas[best - 1]), int(np.sum(areas >= MIN_AREA)))


def read_cubes(frames: np.ndarray) -> list[CubeReading]:
    """Readings of a (N, H, W, 3) video, frame by frame."""
    return [read_cube(frame) for frame in frames]
