"""Learned contact dynamics of PushT's T: how the agent's motion moves the block, one frame at a time.

Why: read from the frame network's displacement, the pushed T went the right way but not far
enough or turned too much (docs/envs/pusht.md has the held-out figures). A contact is a small
rigid-body problem in the block's own frame: where the agent is relative to the T, where it goes
next, and how the T was already moving decide the T's next motion. A small network learned that
from simulator transitions (`envs/pusht/training/train_contact.py`); the object layers ask it for
the T's motion every frame, given the agent where the frame network puts it.

    1. express the agent (previous, current, next position), the commanded target and the T's
       last motion in the T's body frame, centred on its area centroid (pixels at 96 x 96); a
       model trained with walls also sees gym-pusht's four walls from the T (`wall_features`);
    2. when the T was at rest and the agent is nowhere near it, or is near but does not move,
       the T stays exactly where it is (no drift of a block nobody pushes);
    3. otherwise the network gives the T's motion in its body frame, turned back to the image;
    4. a T the network moved through one of gym-pusht's walls is shifted back inside (`wall_push`:
       a model without wall features never knew where they were).

Runs in float64 numpy, one row at a time: the same bits for a batch row and a single rollout,
whatever torch's thread count. Planners' scene-state rollouts (`scene_states.py`) ask for all
rows in one matrix product per layer instead (`exact_rows=False`): rows then agree with the
row-by-row answer up to float64 rounding.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

import numpy as np
from torch import Tensor

from dream_engine_ros.engine.errors import WeightsError
from dream_engine_ros.envs.pusht.geometry import (
    AGENT_RADIUS_WORLD,
    T_BOXES,
    T_CENTROID_LOCAL,
    WALL_LINES_WORLD,
    WALLS_WORLD,
    WORLD_SIZE,
)

FEATURES = 11  # agent, target and the T's last motion (`contact_features`)
WALL_FEATURES = 8  # the four walls seen from the T (`wall_features`), in models trained with them
OUTPUTS = 3
POSITION_SCALE_PX = 10.0  # agent and target offsets in units of 10 px; the T's motion in px
ANGLE_SCALE = 10.0  # the T's turn in units of 0.1 rad (features and output)
CONTACT_MARGIN_WORLD = 12.0  # agent within this of the T's outline: the T may move (~2.3 px)
WALL_REACH_PX = 20.0  # a wall farther than this from the T's centroid is not seen (the T reaches ~14.3 px)
AT_REST_PX = 0.02  # a T that moved less than this (and turned less than AT_REST_RAD) was at rest
AT_REST_RAD = 0.002


def rotate(v: np.ndarray, angle: np.ndarray) -> np.ndarray:
    """Rotate (..., 2) vectors by `angle` (...,) radians (image axes: x right, y down)."""
    c, s = np.cos(angle), np.sin(angle)
    return np.stack([c * v[..., 0] - s * v[..., 1], s * v[..., 0] + c * v[..., 1]], axis=-1)


def contact_features(agent_prev: np.ndarray, agent_now: np.ndarray, agent_next: np.ndarray,
                     target: np.ndarray, centre: np.ndarray, centre_prev: np.ndarray,
                     angle: np.ndarray, angle_prev: np.ndarray) -> np.ndarray:
    """(..., 2) pixel positions and (...,) angles -> (..., 11) body-frame features.

    `envs/pusht/training/train_contact.py` computes the same features in torch (a test keeps them equal)."""
    offsets = [rotate(p - centre, -angle) / POSITION_SCALE_PX for p in (agent_prev, agent_now, agent_next, target)]
    last_motion = rotate(centre - centre_prev, -angle)
    return np.concatenate([*offsets, last_motion, ((angle - angle_prev) * ANGLE_SCALE)[..., None]], axis=-1)


_WALL_NORMALS = np.array([[-1.0, 0.0], [1.0, 0.0], [0.0, -1.0], [0.0, 1.0]])  # left, right, top, bottom


def wall_features(centre: np.ndarray, angle: np.ndarray, pixels: int) -> np.ndarray:
    """(..., 2) T centroids (px) and (...,) angles -> (..., 8): each wall's outward direction in the
    T's body frame, scaled by its nearness (1 at the centroid, 0 from `WALL_REACH_PX` on).

    Why: pushed into a wall, gym-pusht's T stops and turns about the contact; a model that cannot
    see the wall learned the average of free and blocked pushes (every pushed T that was wrong at
    frame 48 in the 50 held-out pushes of docs/envs/pusht.md had met a wall).
    `envs/pusht/training/train_contact.py` has the twin."""
    low, high = (np.array(WALL_LINES_WORLD) * pixels / WORLD_SIZE) - 0.5
    distances = np.stack([centre[..., 0] - low, high - centre[..., 0], centre[..., 1] - low, high - centre[..., 1]],
                         axis=-1)
    nearness = np.clip(1.0 - distances / WALL_REACH_PX, 0.0, 1.0)
    body = rotate(np.broadcast_to(_WALL_NORMALS, distances.shape + (2,)), -np.asarray(angle)[..., None])
    features: np.ndarray = (body * nearness[..., None]).reshape(*distances.shape[:-1], 2 * len(_WALL_NORMALS))
    return features


def gap_to_block(agent: np.ndarray, centre: np.ndarray, angle: np.ndarray, pixels: int) -> np.ndarray:
    """Distance (world units) between the agent's rim and the T's outline; <= 0 when touching."""
    local = rotate(agent - centre, -angle) * (WORLD_SIZE / pixels) + T_CENTROID_LOCAL
    dists = []
    for x0, x1, y0, y1 in T_BOXES:
        dx = np.maximum(np.maximum(x0 - local[..., 0], local[..., 0] - x1), 0.0)
        dy = np.maximum(np.maximum(y0 - local[..., 1], local[..., 1] - y1), 0.0)
        dists.append(np.hypot(dx, dy))
    gap: np.ndarray = np.minimum(*dists) - AGENT_RADIUS_WORLD
    return gap


def t_corners(pose: np.ndarray, pixels: int) -> np.ndarray:
    """(B, 3) poses [centroid px, angle] -> (B, 8, 2) the corners of the T's two boxes in pixels."""
    local = np.array([(x, y) for x0, x1, y0, y1 in T_BOXES for x in (x0, x1) for y in (y0, y1)])
    offsets = (local - T_CENTROID_LOCAL) * (pixels / WORLD_SIZE)
    corners: np.ndarray = pose[:, None, :2] + rotate(offsets[None], pose[:, None, 2])
    return corners


def wall_push(pose: np.ndarray, pixels: int) -> np.ndarray:
    """(B, 2) the shift (px) that brings a T through a wall back inside it.

    Why: the contact model never saw walls; pushed against one, its T went on through and left
    the picture. The shift is the least translation that keeps every corner inside; the turn a
    wall gives the T in the simulator is not modelled."""
    world = (t_corners(pose, pixels) + 0.5) * (WORLD_SIZE / pixels)
    low, high = WALLS_WORLD
    shift = np.maximum(low - world.min(axis=1), 0.0) - np.maximum(world.max(axis=1) - high, 0.0)
    pushed: np.ndarray = shift * (pixels / WORLD_SIZE)
    return pushed


@dataclass(frozen=True)
class ContactModel:
    """An MLP (SiLU between layers) over `contact_features` -> the T's motion in its body frame."""

    weights: tuple[np.ndarray, ...]  # (out, in) float64 per layer
    biases: tuple[np.ndarray, ...]

    @property
    def sees_walls(self) -> bool:
        """Trained with `wall_features` after the 11 contact features (told by its first layer)."""
        return bool(self.weights[0].shape[1] == FEATURES + WALL_FEATURES)

    @classmethod
    def from_state(cls, state: Mapping[str, Tensor], source: str = "contact weights") -> ContactModel:
        """From a state dict with keys `layers.<i>.weight` / `layers.<i>.bias`, i = 0, 1, ..."""
        weights: list[np.ndarray] = []
        biases: list[np.ndarray] = []
        while f"layers.{len(weights)}.weight" in state:
            i = len(weights)
            if f"layers.{i}.bias" not in state:
                raise WeightsError(f"{source}: layers.{i}.bias is missing")
            weights.append(state[f"layers.{i}.weight"].detach().double().cpu().numpy())
            biases.append(state[f"layers.{i}.bias"].detach().double().cpu().numpy())
        if len(state) != 2 * len(weights):
            raise WeightsError(f"{source}: unexpected keys {sorted(state)}")
        inputs = (FEATURES, FEATURES + WALL_FEATURES)
        if not weights or weights[0].shape[1] not in inputs or weights[-1].shape[0] != OUTPUTS:
            raise WeightsError(f"{source}: expected an MLP from {inputs[0]} (or {inputs[1]} with walls) features "
                               f"to {OUTPUTS} outputs")
        for w, b, w_next in zip(weights, biases, [*weights[1:], None], strict=True):
            if b.shape != (w.shape[0],) or (w_next is not None and w_next.shape[1] != w.shape[0]):
                raise WeightsError(f"{source}: layer shapes do not chain ({w.shape}, {b.shape})")
        return cls(tuple(weights), tuple(biases))

    def forward(self, features: np.ndarray) -> np.ndarray:
        """(B, 11) -> (B, 3): row by row (einsum, no BLAS), so a row never depends on its batch."""
        rows = []
        for row in np.asarray(features, dtype=np.float64):
            h = row
            for i, (w, b) in enumerate(zip(self.weights, self.biases, strict=True)):
                h = np.einsum("oi,i->o", w, h) + b
                if i < len(self.weights) - 1:
                    h = h / (1.0 + np.exp(-h))
            rows.append(h)
        return np.stack(rows)

    def forward_batched(self, features: np.ndarray) -> np.ndarray:
        """(B, 11) -> (B, 3) in one matrix product per layer (BLAS): for many rows at once."""
        h = np.asarray(features, dtype=np.float64)
        for i, (w, b) in enumerate(zip(self.weights, self.biases, strict=True)):
            h = h @ w.T + b
            if i < len(self.weights) - 1:
                h = h / (1.0 + np.exp(-h))
        return h

    def step(self, agent_prev: np.ndarray, agent_now: np.ndarray, agent_next: np.ndarray, target: np.ndarray,
             pose: np.ndarray, pose_prev: np.ndarray, pixels: int, exact_rows: bool = True) -> np.ndarray:
        """Next T pose (B, 3) [centre x, centre y (px), angle (rad)] from the agent's positions (B, 2) at
        t - 1, t, t + 1, the target (B, 2) commanded at t, and the T's poses (B, 3) at t and t - 1."""
        centre, angle = pose[:, :2], pose[:, 2]
        moved = np.hypot(*(centre - pose_prev[:, :2]).T)
        turned = np.abs(angle - pose_prev[:, 2])
        near = np.minimum(gap_to_block(agent_now, centre, angle, pixels),
                          gap_to_block(agent_next, centre, angle, pixels)) < CONTACT_MARGIN_WORLD
        pushing = near & (np.hypot(*(agent_next - agent_now).T) >= AT_REST_PX)
        active = pushing | (moved >= AT_REST_PX) | (turned >= AT_REST_RAD)
        out = pose.copy()
        if not active.any():
            return out
        rows = np.flatnonzero(active)
        feats = contact_features(agent_prev[rows], agent_now[rows], agent_next[rows], target[rows],
                                 centre[rows], pose_prev[rows, :2], angle[rows], pose_prev[rows, 2])
        if self.sees_walls:
            feats = np.concatenate([feats, wall_features(centre[rows], angle[rows], pixels)], axis=-1)
        motion = self.forward(feats) if exact_rows else self.forward_batched(feats)
        out[rows, :2] = centre[rows] + rotate(motion[:, :2], angle[rows])
        out[rows, 2] = angle[rows] + motion[:, 2] / ANGLE_SCALE
        out[rows, :2] += wall_push(out[rows], pixels)
        return out


def block_pose_from_matte(alpha: np.ndarray) -> tuple[np.ndarray, float]:
    """(H, W) T matte -> (area centroid (x, y) px, body angle rad) from alpha-weighted moments.

    The stem is the T's long principal axis; its direction is the one the mass is skewed towards
    (the bar holds most of the mass near the other end). Body angle = the rotation taking the
    body's +y (bar -> stem end) to that direction. The evaluation's reader
    (`envs/pusht/evaluation/reader.py`) reads poses independently of this, from pixel classes.
    """
    ys, xs = np.mgrid[0:alpha.shape[0], 0:alpha.shape[1]].astype(np.float64)
    w = alpha.astype(np.float64)
    total = w.sum()
    if total <= 0:
        return np.array([-1.0, -1.0]), 0.0
    cx, cy = (w * xs).sum() / total, (w * ys).sum() / total
    dx, dy = xs - cx, ys - cy
    cov = np.array([[(w * dx * dx).sum(), (w * dx * dy).sum()], [(w * dx * dy).sum(), (w * dy * dy).sum()]]) / total
    _, vecs = np.linalg.eigh(cov)
    axis = vecs[:, 1]
    if (w * (dx * axis[0] + dy * axis[1]) ** 3).sum() < 0:
        axis = -axis
    centre = np.array([cx, cy])
    return centre, _fit_angle(w, centre, float(np.arctan2(-axis[0], axis[1])))


FIT_WINDOW_PX = 18  # half-size of the window the T is fitted in (it is ~23 px across at 96 x 96)
_FIT_SUBSAMPLES = 4  # per pixel side


def t_coverage(centre: np.ndarray, angles: np.ndarray, pixels: int) -> np.ndarray:
    """(A,) angles -> (A, 2 * window + 1, 2 * window + 1) share of each pixel around `centre` (its
    integer part) that the T covers, centred on its area centroid at `centre` (subsampled)."""
    r = FIT_WINDOW_PX
    base = np.floor(centre)
    sub = (np.arange(_FIT_SUBSAMPLES) + 0.5) / _FIT_SUBSAMPLES - 0.5
    offsets = np.arange(-r, r + 1)
    xs = (base[0] + offsets[None, :, None, None] + sub[None, None, None, :] - centre[0])
    ys = (base[1] + offsets[:, None, None, None] + sub[None, None, :, None] - centre[1])
    scale = WORLD_SIZE / pixels
    cos, sin = np.cos(angles)[:, None, None, None, None], np.sin(angles)[:, None, None, None, None]
    lx = (cos * xs + sin * ys) * scale + T_CENTROID_LOCAL[0]
    ly = (-sin * xs + cos * ys) * scale + T_CENTROID_LOCAL[1]
    inside = np.zeros(lx.shape, dtype=bool)
    for x0, x1, y0, y1 in T_BOXES:
        inside |= (lx >= x0) & (lx <= x1) & (ly >= y0) & (ly <= y1)
    coverage: np.ndarray = inside.reshape(len(angles), 2 * r + 1, 2 * r + 1, -1).mean(axis=-1)
    return coverage


def _fit_angle(alpha: np.ndarray, centre: np.ndarray, first_guess: float) -> float:
    """Refine the moments' angle by fitting the T's outline to the matte: moments of a
    ~23 px shape whose axes differ by a factor 1.7 are off by up to ~4 degrees; the fit is within
    ~0.5 (coarse 0.5 degree steps over +-8 degrees, then 0.05 degree steps)."""
    r = FIT_WINDOW_PX
    h, w = alpha.shape
    x0, y0 = int(np.floor(centre[0])) - r, int(np.floor(centre[1])) - r
    window = np.zeros((2 * r + 1, 2 * r + 1))
    ys, xs = slice(max(y0, 0), min(y0 + 2 * r + 1, h)), slice(max(x0, 0), min(x0 + 2 * r + 1, w))
    window[ys.start - y0:ys.stop - y0, xs.start - x0:xs.stop - x0] = alpha[ys, xs]
    best = first_guess
    for half, step in ((np.radians(8.0), np.radians(0.5)), (np.radians(0.5), np.radians(0.05))):
        angles = best + np.arange(-half, half + step / 2, step)
        errors = ((t_coverage(centre, angles, w) - window[None]) ** 2).sum(axis=(1, 2))
        best = float(angles[int(np.argmin(errors))])
    return best
