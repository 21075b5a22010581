"""Read PushT's objects back from pixels: where is the agent, where is the T, how is it turned.

Why: a world model is only useful to a planner if the objects in its predicted frames are where
the simulator puts them. PSNR cannot tell (the white background dominates it); positions and
shapes read from the pixels can. The same reader runs on true and predicted frames, and it is
checked against the simulator's state on true frames (test/evaluation/test_pusht_reader.py).

Pixel classes: every pixel goes to its nearest reference colour of gym-pusht's renderer
(white floor, light-gray walls, light-green goal, the T's slate fill and outline, the agent's
blue fill and outline). A pixel half-way between the T and the floor is therefore "T" only when
it is closer to the T's colours: a faded or blurred object loses pixels, which is what the
conservation metrics are meant to catch.

Geometry (gym-pusht `add_tee`, scale 30): in the body frame the bar spans x in [-60, 60],
y in [0, 30] and the stem x in [-15, 15], y in [30, 120]; world = position + R(angle) @ local.
The image is the 512 x 512 world resized to 96 x 96, so world = (pixel index + 0.5) * 512 / 96.
"""

from __future__ import annotations

from dataclasses import dataclass

import cv2
import numpy as np

from dream_engine_ros.envs.pusht.geometry import AGENT_RADIUS_WORLD, T_CENTROID_LOCAL, WORLD_SIZE
from dream_engine_ros.envs.pusht.scene_layers import AGENT, AGENT_RIM, BLOCK, LABELS, PALETTE

# gym-pusht's geometry (workspace size, agent radius, the T's area centroid in its body frame: bar
# area 3600 at y=15, stem area 2700 at y=75) lives with the engine's contact model, which uses it.
__all__ = ["AGENT_RADIUS_WORLD", "T_CENTROID_LOCAL", "WORLD_SIZE"]

# gym-pusht's rendered colours and their classes live with the engine's object layers, which read
# the same pixels (floor/walls 0, goal 1, T 2, agent 3, the agent's rim blended into the floor 4).
_PALETTE, _LABELS = PALETTE, LABELS
BLOCK_LABEL, AGENT_LABEL, AGENT_RIM_LABEL = BLOCK, AGENT, AGENT_RIM


@dataclass(frozen=True)
class BlockPose:
    """T block pose read from pixels, in image pixels (x right, y down) and radians."""

    x: float
    y: float
    angle: float  # the simulator's body angle convention
    area: int  # pixels classified as T


@dataclass(frozen=True)
class AgentReading:
    """Agent read from pixels: its centre (largest blob) and how many separate blobs show."""

    x: float
    y: float
    area: int  # pixels of the largest blob
    blobs: int  # connected blue blobs of at least `min_blob` pixels
    total_area: int  # all blue pixels


def classify(frame: np.ndarray) -> np.ndarray:
    """(H, W, 3) uint8 -> (H, W) labels: 0 floor/wall, 1 goal, 2 T block, 3 agent, 4 agent rim."""
    pixels = frame.reshape(-1, 3).astype(np.float32)
    dist = ((pixels[:, None, :] - _PALETTE[None]) ** 2).sum(axis=2)
    labels: np.ndarray = _LABELS[dist.argmin(axis=1)].reshape(frame.shape[:2])
    return labels


def block_mask(frame: np.ndarray) -> np.ndarray:
    mask: np.ndarray = classify(frame) == BLOCK_LABEL
    return mask


def agent_mask(frame: np.ndarray) -> np.ndarray:
    """Saturated agent pixels only: the rim blends count neither as agent nor as T."""
    mask: np.ndarray = classify(frame) == AGENT_LABEL
    return mask


def pixels_per_world(size: int) -> float:
    return size / WORLD_SIZE


def world_to_pixel(xy: np.ndarray, size: int) -> np.ndarray:
    """World coordinates -> continuous pixel coordinates whose integers are pixel centres."""
    return np.asarray(xy, dtype=np.float64) * pixels_per_world(size) - 0.5


def true_block_centroid(block_xy: np.ndarray, angle: float, size: int) -> np.ndarray:
    """The T's area centroid in pixels from the simulator's body position and angle."""
    c, s = np.cos(angle), np.sin(angle)
    rot = np.array([[c, -s], [s, c]])
    return world_to_pixel(np.asarray(block_xy, dtype=np.float64) + rot @ T_CENTROID_LOCAL, size)


def expected_agent_area(size: int) -> float:
    return float(np.pi * (AGENT_RADIUS_WORLD * pixels_per_world(size)) ** 2)


def components(mask: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(labels image, areas, centroids) of the 8-connected blobs of a mask, background dropped."""
    _, labels, stats, centroids = cv2.connectedComponentsWithStats(mask.astype(np.uint8), connectivity=8)
    return labels, stats[1:, cv2.CC_STAT_AREA], centroids[1:]


def largest_component(mask: np.ndarray) -> np.ndarray:
    labels, areas, _ = components(mask)
    if areas.size == 0:
        return np.zeros_like(mask, dtype=bool)
    largest: np.ndarray = labels == int(np.argmax(areas)) + 1
    return largest


def read_block(mask: np.ndarray) -> BlockPose | None:
    """Centroid + angle of the largest T blob from its moments; None below 8 pixels.

    Only the largest blob counts: a few stray pixels far away would swing the second moments
    (the T is only ~22 px across at 96 x 96); stray or duplicated T pixels are counted by the
    conservation metrics instead.

    The stem is the T's long principal axis (variance 1214 vs 718 world units^2 across); its
    direction is the one along which the mass is skewed towards the stem's free end (the bar
    holds most of the mass near the other end). Body angle = the rotation taking the body's
    +y (bar -> stem end) to that direction.
    """
    ys, xs = np.nonzero(largest_component(mask))
    if xs.size < 8:
        return None
    cx, cy = float(xs.mean()), float(ys.mean())
    dx, dy = xs - cx, ys - cy
    cov = np.array([[np.mean(dx * dx), np.mean(dx * dy)], [np.mean(dx * dy), np.mean(dy * dy)]])
    _, vecs = np.linalg.eigh(cov)
    axis = vecs[:, 1]  # largest eigenvalue
    proj = dx * axis[0] + dy * axis[1]
    if np.mean(proj**3) < 0:
        axis = -axis
    angle = float(np.arctan2(-axis[0], axis[1]))
    return BlockPose(cx, cy, angle, int(xs.size))


def read_agent(mask: np.ndarray, min_blob: int = 3) -> AgentReading | None:
    """The agent's centre (largest blue blob) and the number of blobs; None when none."""
    _, areas, centroids = components(mask)
    if areas.size == 0:
        return None
    best = int(np.argmax(areas))
    return AgentReading(
        x=float(centroids[best, 0]),
        y=float(centroids[best, 1]),
        area=int(areas[best]),
        blobs=int(np.sum(areas >= min_blob)),
        total_area=int(areas.sum()),
    )


def angle_difference(a: float, b: float) -> float:
    """|a - b| wrapped to [0, pi]."""
    return float(abs((a - b + np.pi) % (2 * np.pi) - np.pi))


# ---------------------------------------------------------------------- many frames at once

_LUT_BITS = 6  # quantise each channel to 64 levels: a nearest-colour table of 2**18 entries
_lut_cache: list[np.ndarray] = []


def _label_table() -> np.ndarray:
    """Nearest-palette label of every quantised colour (built once per process)."""
    if not _lut_cache:
        step = 256 // (1 << _LUT_BITS)
        levels = np.arange(1 << _LUT_BITS, dtype=np.float32) * step + (step - 1) / 2.0
        grid = np.stack(np.meshgrid(levels, levels, levels, indexing="ij"), axis=-1).reshape(-1, 3)
        dist = ((grid[:, None, :] - _PALETTE[None]) ** 2).sum(axis=2)
        _lut_cache.append(_LABELS[dist.argmin(axis=1)].astype(np.uint8))
    return _lut_cache[0]


def classify_many(frames: np.ndarray) -> np.ndarray:
    """(..., H, W, 3) uint8 -> (..., H, W) labels through a quantised colour table: the same
    classes as `classify` up to half a quantisation step at class borders, ~50x faster."""
    q = (np.asarray(frames, dtype=np.uint8) >> (8 - _LUT_BITS)).astype(np.int32)
    index = (q[..., 0] << (2 * _LUT_BITS)) | (q[..., 1] << _LUT_BITS) | q[..., 2]
    labels: np.ndarray = _label_table()[index]
    return labels


@dataclass(frozen=True)
class SceneReadings:
    """Agent and T read from many frames at once, in world units (x right, y down), NaN where
    the object is not visible. Built for planners scoring thousands of predicted frames: all
    T pixels count (no largest-blob filter), so stray T pixels shift the reading a little."""

    agent: np.ndarray  # (..., 2) centre of the agent's saturated blue pixels
    block: np.ndarray  # (..., 2) area centroid of the T pixels
    angle: np.ndarray  # (...,) body angle of the T (same convention as `read_block`)
    block_area: np.ndarray  # (...,) T pixel count


def read_scenes(frames: np.ndarray, min_block_pixels: int = 8) -> SceneReadings:
    """Vectorised reading of (..., H, W, 3) uint8 frames: moments of the class masks, summed
    per frame over the (few) object pixels only."""
    frames = np.asarray(frames)
    lead, (h, w) = frames.shape[:-3], frames.shape[-3:-1]
    labels = classify_many(frames).reshape(-1, h, w)
    count = labels.shape[0]
    scale = WORLD_SIZE / w

    def pixels_of(label: int) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
        frame, y, x = np.nonzero(labels == label)
        n = np.bincount(frame, minlength=count).astype(np.float64)
        with np.errstate(invalid="ignore", divide="ignore"):
            cx = np.bincount(frame, x, minlength=count) / n
            cy = np.bincount(frame, y, minlength=count) / n
        return frame, x - np.nan_to_num(cx)[frame], y - np.nan_to_num(cy)[frame], np.stack([cx, cy, n])

    _, _, _, (ax, ay, _) = pixels_of(AGENT_LABEL)
    frame, dx, dy, (bx, by, area) = pixels_of(BLOCK_LABEL)
    n = np.maximum(area, 1.0)

    def moment(values: np.ndarray) -> np.ndarray:
        m: np.ndarray = np.bincount(frame, values, minlength=count) / n
        return m

    theta = 0.5 * np.arctan2(2.0 * moment(dx * dy), moment(dx * dx) - moment(dy * dy))  # stem axis
    ux, uy = np.cos(theta), np.sin(theta)
    proj = dx * ux[frame] + dy * uy[frame]
    flip = moment(proj**3) < 0  # the mass is skewed towards the stem's free end
    ux, uy = np.where(flip, -ux, ux), np.where(flip, -uy, uy)
    angle = np.arctan2(-ux, uy)
    missing = area < min_block_pixels
    bx, by, angle = (np.where(missing, np.nan, v) for v in (bx, by, angle))
    return SceneReadings(
        agent=(np.stack([ax, ay], axis=-1).reshape(*lead, 2) + 0.5) * scale,
        block=(np.stack([bx, by], axis=-1).reshape(*lead, 2) + 0.5) * scale,
        angle=angle.reshape(lead),
        block_area=area.astype(np.int64).reshape(lead),
    )
