"""Draw PushT's T at a pose the way gym-pusht draws it, and fit that drawing to a frame.

Why: the object layers move the T cut from the start frame by resampling it. gym-pusht
draws at 512 x 512 with aliased polygons and shrinks the picture with cv2's bilinear resize (a
point sample every 5.3 source pixels), so its T has hard, aliased rims that a resampled copy never
matches: moved by the simulator's exact motion, the copy's T pixels overlap the simulator's with
IoU ~0.91 (8 held-out pushes). Drawn as the simulator draws it, at the exact pose, the overlap is
0.96-1.0 (the rest is pygame's and cv2's rasterisers rounding a few edge pixels differently).
Used by the layer option "draw-moved-t" (off by default: docs/envs/pusht.md, physics section).

    1. the T's two boxes (gym-pusht `add_tee`, scale 30) at the body's pose, corners rounded to
       whole world units (pymunk's pygame drawing does);
    2. fill each box; draw each edge as pymunk's debug drawing does, a band of +-2 world units
       (`OUTLINE_RADIUS`, with pymunk's offset quirk: the band's offset uses |dy|, |dx|), in the
       outline colour over the fill;
    3. shrink to the frame's size with the same resize: each pixel's share of fill and outline.

`fit_pose` finds the pose whose drawing best matches a T seen in a frame (least squares on the
T's matte, hidden pixels left out), so a moved T can be drawn from the pose the contact model
gives it without first inheriting the start reading's error.
"""

from __future__ import annotations

import cv2
import numpy as np

from dream_engine_ros.envs.pusht.geometry import T_BOXES, T_CENTROID_LOCAL, WORLD_SIZE

# the contact model's boxes (x0, x1, y0, y1) as corner loops
T_BOXES_CORNERS = tuple(((x0, y0), (x1, y0), (x1, y1), (x0, y1)) for x0, x1, y0, y1 in T_BOXES)
OUTLINE_RADIUS = 2  # world units: pymunk draws a polygon's outline as 2-unit fat segments
_CANVAS = int(WORLD_SIZE)
_FILL, _OUTLINE = 1, 2
# fit_pose's coordinate descent: steps in world units (body x, y) and radians (angle), coarse to fine
_FIT_STEPS = ((2.0, 0.02), (1.0, 0.01), (0.5, 0.005), (0.25, 0.0025))
_FIT_MAX_ROUNDS = 12  # per step size (each round tries +-step on every coordinate)


def body_from_centroid(pose_px: np.ndarray, pixels: int) -> np.ndarray:
    """[area centroid x, y (pixels at `pixels` x `pixels`), angle] -> [body x, y (world), angle]."""
    scale = WORLD_SIZE / pixels
    angle = float(pose_px[2])
    cx, cy = (float(pose_px[0]) + 0.5) * scale, (float(pose_px[1]) + 0.5) * scale
    offset = T_CENTROID_LOCAL[1]
    return np.array([cx + np.sin(angle) * offset, cy - np.cos(angle) * offset, angle])


def centroid_from_body(body: np.ndarray, pixels: int) -> np.ndarray:
    """The inverse of `body_from_centroid`."""
    angle = float(body[2])
    offset = T_CENTROID_LOCAL[1]
    wx, wy = float(body[0]) - np.sin(angle) * offset, float(body[1]) + np.cos(angle) * offset
    scale = pixels / WORLD_SIZE
    return np.array([wx * scale - 0.5, wy * scale - 0.5, angle])


def _corners(body: np.ndarray) -> list[np.ndarray]:
    c, s = np.cos(body[2]), np.sin(body[2])
    return [np.array([[round(body[0] + c * u - s * v), round(body[1] + s * u + c * v)] for u, v in box],
                     dtype=np.int32) for box in T_BOXES_CORNERS]


def draw_canvas(body: np.ndarray) -> np.ndarray:
    """(512, 512) uint8 world canvas: 0 nothing, 1 the T's fill, 2 its outline."""
    canvas = np.zeros((_CANVAS, _CANVAS), dtype=np.uint8)
    boxes = _corners(body)
    for box in boxes:
        cv2.fillPoly(canvas, [box], _FILL)
    for box in boxes:
        for i in range(len(box)):
            a, b = box[i], box[(i + 1) % len(box)]
            offset = np.abs([b[1] - a[1], b[0] - a[0]]).astype(np.float64)
            offset = np.round(offset * OUTLINE_RADIUS / max(np.hypot(*offset), 1e-9)).astype(np.int32)
            cv2.fillPoly(canvas, [np.array([a - offset, a + offset, b + offset, b - offset], dtype=np.int32)],
                         _OUTLINE)
            cv2.line(canvas, (int(a[0]), int(a[1])), (int(b[0]), int(b[1])), _OUTLINE, 2)
            for end in (a, b):
                cv2.circle(canvas, (int(end[0]), int(end[1])), OUTLINE_RADIUS, _OUTLINE, -1)
    return canvas


def draw_shares(body: np.ndarray, pixels: int) -> tuple[np.ndarray, np.ndarray]:
    """The T at `body` (world pose) -> each pixel's share of fill and of outline, (pixels, pixels)
    float32 each, shrunk as gym-pusht shrinks its picture (cv2 bilinear resize)."""
    canvas = draw_canvas(body)
    size = (pixels, pixels)
    fill = cv2.resize((canvas == _FILL).astype(np.float32), size, interpolation=cv2.INTER_LINEAR)
    outline = cv2.resize((canvas == _OUTLINE).astype(np.float32), size, interpolation=cv2.INTER_LINEAR)
    return fill, outline


def fit_pose(matte: np.ndarray, seen: np.ndarray, start_px: np.ndarray) -> np.ndarray:
    """The T pose [centroid x, y px, angle] whose drawing best matches `matte` (H, W): the T's
    coverage read from a frame, over the pixels where `seen` (not hidden by the agent); a
    coordinate descent in world units from `start_px` (a moments reading, ~0.2 px off)."""
    pixels = matte.shape[0]
    target = np.asarray(matte, dtype=np.float64)
    weight = np.asarray(seen, dtype=np.float64)

    def error(pose: np.ndarray) -> float:
        fill, outline = draw_shares(body_from_centroid(pose, pixels), pixels)
        return float((weight * (fill + outline - target) ** 2).sum())

    pose = np.asarray(start_px, dtype=np.float64).copy()  # turns about the centroid, not the body's origin
    to_px = pixels / WORLD_SIZE
    best = error(pose)
    for move, turn in _FIT_STEPS:
        for _ in range(_FIT_MAX_ROUNDS):
            trials = []
            for axis, step in ((0, move * to_px), (1, move * to_px), (2, turn)):
                for sign in (1.0, -1.0):
                    trial = pose.copy()
                    trial[axis] += sign * step
                    trials.append((error(trial), trial))
            cost, trial = min(trials, key=lambda item: item[0])
            if cost >= best:
                break
            pose, best = trial, cost
    return pose
