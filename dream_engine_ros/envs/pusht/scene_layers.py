"""Object-layer decoding of a PushT frame model: the T moves rigidly, the agent moves whole.

Why: the frame network's own next frame is "the last frame moved along a predicted displacement,
plus a residual". Over a long push the displacement bends a little from frame to frame and the
residual smears, so the T blurs, bends and loses pixels even when its motion is nearly right
(docs/envs/pusht.md, physics table). Rigid objects do not bend: here the network's output is read as object
motions (the agent's always, the T's unless a contact model moves it) and the frame is drawn from
layers cut from the start frame, sampled once, so nothing blurs or drifts in shape over 48 frames.

    1. at the start, split the start frame into three layers: the floor plate (T and agent
       inpainted away), the T (colour premultiplied by a soft alpha, so its anti-aliased rim
       is kept; where the agent hides it, completed from the T's fitted pose) and the agent;
       composed at rest they give back the start frame;
    2. every frame: fit one rigid motion (rotation + translation, least squares) to the
       network's displacement over the T's interior pixels and compose it with the T's motion
       so far; the agent's centre is where the network frame shows the agent's colour densest
       over what is drawn behind it (a faint far agent and a fading ring are both weighed);
       with a contact model ("pusht-contact" layers) the T's pose then comes from that model,
       given the agent's centres (`contact_model.py`): the fitted motion only placed the T behind
       the agent while the agent was read;
    3. draw: plate, then the T through its composed motion, then the agent at its centre (with
       the spec's `draw_moved_t`, a T the contact model has moved is drawn afresh at its pose as
       gym-pusht draws it, `t_render.py`: a resampled copy's rims never match the simulator's);
    4. floor pixels the T uncovers are taken from the network's frame the first time they show
       (the network paints uncovered floor, including the green goal, better than an inpaint),
       snapped to the nearest floor or goal colour.

The pixel classes are gym-pusht's render colours (floor, goal, the T's fill and outline, the
agent's fill and rim). Every operation is per row, so a batch row equals its single rollout.
"""

from __future__ import annotations

from dataclasses import dataclass, fields

import cv2
import numpy as np
import torch
import torch.nn.functional as F
from torch import Tensor

from dream_engine_ros.envs.pusht.contact_model import FIT_WINDOW_PX, ContactModel, block_pose_from_matte, t_coverage
from dream_engine_ros.envs.pusht.geometry import (
    AGENT_COLOURS,
    AGENT_RIM_COLOURS,
    BLOCK_COLOURS,
    FLOOR_COLOURS,
    GOAL_COLOURS,
)
from dream_engine_ros.envs.pusht.t_render import body_from_centroid, draw_shares, fit_pose

_FLOOR, _GOAL, _BLOCK, _AGENT, _AGENT_RIM = (FLOOR_COLOURS, GOAL_COLOURS, BLOCK_COLOURS, AGENT_COLOURS,
                                            AGENT_RIM_COLOURS)
PALETTE = np.array(_FLOOR + _GOAL + _BLOCK + _AGENT + _AGENT_RIM, dtype=np.float32)
LABELS = np.array([0] * len(_FLOOR) + [1] * len(_GOAL) + [2] * len(_BLOCK) + [3] * len(_AGENT)
                  + [4] * len(_AGENT_RIM))
FLOOR, GOAL, BLOCK, AGENT, AGENT_RIM = 0, 1, 2, 3, 4
BLOCK_COLOUR = np.array(_BLOCK, dtype=np.float32).mean(axis=0)
AGENT_COLOUR = np.array(_AGENT, dtype=np.float32).mean(axis=0)

POSITION_GRID_PX = 1.0 / 8.0  # the T is drawn at its centre rounded to this grid ...
ANGLE_GRID_RAD = float(np.radians(0.5))  # ... and its turn rounded to this (see `_drawn_block_map`)
MIN_ALPHA = 0.01  # layer alpha below this is cut to 0 (and its pixel is then plain floor)
AGENT_BODY_PX = 4.0  # the agent's radius is ~2.8 px at 96 x 96
MIN_AGENT_LIKENESS = 2.0  # summed likeness: below ~2 agent pixels' worth the agent is not moved
MIN_FIT_PIXELS = 10  # below this many T pixels the T is not moved (nothing to fit)


def classify(frames: Tensor) -> Tensor:
    """(B, 3, H, W) colours in [0, 255] -> (B, H, W) class labels (nearest render colour)."""
    return torch.from_numpy(LABELS).to(frames.device)[_nearest(frames, PALETTE)]


def _nearest(frames: Tensor, colours: np.ndarray) -> Tensor:
    """(B, 3, H, W) -> (B, H, W) index of the nearest of `colours` (N, 3), element by element."""
    best = torch.full(frames.shape[:1] + frames.shape[2:], float("inf"), device=frames.device)
    index = torch.zeros(best.shape, dtype=torch.long, device=frames.device)
    for i, c in enumerate(colours.tolist()):
        dist = (frames[:, 0] - c[0]) ** 2 + (frames[:, 1] - c[1]) ** 2 + (frames[:, 2] - c[2]) ** 2
        closer = dist < best
        best = torch.where(closer, dist, best)
        index = torch.where(closer, torch.full_like(index, i), index)
    return index


def _floor_colour(frames: Tensor) -> Tensor:
    """Each pixel snapped to the floor's white or the goal's green: the network paints newly
    uncovered floor with a faint residue of what was there, which would otherwise stay forever
    (the walls' grays are left out: they only line the image's border, never under the T)."""
    floor = np.array([_FLOOR[0], _GOAL[0]], dtype=np.float32)
    return torch.from_numpy(floor).to(frames.device)[_nearest(frames, floor)].permute(0, 3, 1, 2)


def _dilate(mask: Tensor) -> Tensor:
    """(B, 1, H, W) {0, 1} -> 3 x 3 dilation."""
    return F.max_pool2d(mask, 3, stride=1, padding=1)


def _erode(mask: Tensor) -> Tensor:
    return 1.0 - F.max_pool2d(1.0 - mask, 3, stride=1, padding=1)


def _inpaint(images: Tensor, holes: Tensor) -> Tensor:
    """Per row cv2 Telea inpaint (B, 3, H, W) colours of (B, 1, H, W) holes (start only)."""
    rows = []
    for image, hole in zip(images, holes, strict=True):
        rgb = image.permute(1, 2, 0).round().clamp(0, 255).to(torch.uint8).cpu().numpy()
        mask = hole[0].to(torch.uint8).cpu().numpy()
        rows.append(torch.from_numpy(cv2.inpaint(rgb, mask, 3, cv2.INPAINT_TELEA)).permute(2, 0, 1))
    return torch.stack(rows).to(images.device).float()


def _matte(image: Tensor, under: Tensor, colour: np.ndarray, solid: Tensor, region: Tensor) -> tuple[Tensor, Tensor]:
    """Alpha and premultiplied colour of an object over `under`: 1 on its solid pixels, on its
    rim the share of the object's colour in the blend, 0 outside `region`."""
    c = torch.from_numpy(colour).to(image.device)[None, :, None, None]
    along = c - under
    share = ((image - under) * along).sum(dim=1, keepdim=True) / along.pow(2).sum(dim=1, keepdim=True).clamp_min(1.0)
    alpha = torch.where(solid > 0, torch.ones_like(share), share.clamp(0.0, 1.0)) * region
    alpha = alpha * (alpha >= MIN_ALPHA).float()  # a trace of colour is no object
    return alpha, (image - (1.0 - alpha) * under) * (alpha > 0).float()


def _agent_likeness(frame: Tensor, behind: Tensor) -> Tensor:
    """(B, H, W) in [0, 1]: how much of the agent's colour each pixel of `frame` shows over what
    is drawn behind the agent (a faint agent counts a little; the T, already behind, not at all)."""
    c = torch.from_numpy(AGENT_COLOUR).to(frame.device)[None, :, None, None]
    along = c - behind
    share = ((frame - behind) * along).sum(dim=1) / along.pow(2).sum(dim=1).clamp_min(1.0)
    return share.clamp(0.0, 1.0) * (share >= 0.2).float()


def _agent_centre(likeness: Tensor, xs: Tensor, ys: Tensor) -> tuple[Tensor, Tensor]:
    """Where the agent-like colour is densest in the whole frame (a disk-sized box sum), refined by
    the likeness-weighted centroid within the agent's radius; and the likeness summed there.
    Why everywhere and soft: a far target pulls the agent 20+ px in one frame, and the network then
    paints a faint agent there and a fading ring at the old place (a 12 px search window around
    the last centre kept such agents stuck; docs/augmentation.md has the tracking error)."""
    density = F.avg_pool2d(likeness[:, None], 5, stride=1, padding=2)[:, 0]
    w = likeness.shape[-1]
    peak = density.flatten(1).argmax(dim=1)
    px, py = (peak % w).float(), torch.div(peak, w, rounding_mode="floor").float()
    body = ((xs[None] - px[:, None, None]) ** 2 + (ys[None] - py[:, None, None]) ** 2) <= AGENT_BODY_PX**2
    return _centroids(likeness * body.float(), xs, ys)


def _centroids(mask: Tensor, xs: Tensor, ys: Tensor) -> tuple[Tensor, Tensor]:
    """(B, H, W) weights -> ((B, 2) weighted centre, (B,) weight sums), summed by numpy in float64
    (a torch sum splits its work by thread count, and the last bits would follow)."""
    m = mask.double().cpu().numpy()
    x, y = xs.double().cpu().numpy(), ys.double().cpu().numpy()
    total = m.sum(axis=(1, 2))
    denom = np.maximum(total, 1e-6)
    centre = np.stack([(m * x).sum(axis=(1, 2)) / denom, (m * y).sum(axis=(1, 2)) / denom], axis=1)
    return torch.from_numpy(centre).to(mask.device, torch.float32), torch.from_numpy(total).to(mask.device)


@dataclass
class SceneLayers:
    """The layered scene of a batch of rollouts (one row per candidate)."""

    plate: Tensor  # (B, 3, H, W) floor without T and agent
    plate_known: Tensor  # (B, 1, H, W) 1 where the plate is seen floor, 0 where it was inpainted
    block_alpha: Tensor  # (B, 1, H, W) the T at the start
    block_colour: Tensor  # (B, 3, H, W) premultiplied
    agent_alpha: Tensor
    agent_colour: Tensor
    block_map: Tensor  # (B, 2, 3) float64, current pixel -> start pixel: [A | b]
    block_start: Tensor  # (B, 2) float64 the T's centre in the start frame
    agent_start: Tensor  # (B, 2) agent centre in the start frame
    agent_now: Tensor  # (B, 2)
    block_alpha_now: Tensor  # (B, 1, H, W) the T as last drawn
    agent_prev: Tensor  # (B, 2) the agent's centre one frame before `agent_now`
    block_pose: Tensor  # (B, 3) float64 [centre x, centre y, angle]: the contact model's T (see `step`)
    block_pose_prev: Tensor  # (B, 3) float64 one frame before
    block_angle_start: Tensor  # (B,) float64 the T's angle in the start frame
    block_pose_drawn_start: Tensor  # (B, 3) float64 the start T's pose fitted by drawing it (`t_render.py`)

    @classmethod
    def from_start(cls, start: Tensor, fit_drawing: bool = False) -> SceneLayers:
        """start (B, 3, H, W) colours in [0, 255]. `fit_drawing`: also fit the T's pose by drawing
        it (`t_render.fit_pose`, ~30 ms per start), for rollouts whose contact model moves the T
        and so draws it afresh; otherwise the moments pose stands in."""
        b, _, h, w = start.shape
        labels = classify(start)[:, None]
        agent_solid = ((labels == AGENT) | (labels == AGENT_RIM)).float()
        agent_region = _dilate(agent_solid)
        without_agent = _inpaint(start, agent_region)
        block_solid = (classify(without_agent)[:, None] == BLOCK).float()
        block_region = _dilate(block_solid)
        plate = _inpaint(without_agent, block_region)
        block_alpha, block_colour = _matte(without_agent, plate, BLOCK_COLOUR, block_solid, block_region)
        plate = torch.where(block_alpha > 0, plate, without_agent)  # inpainted only under the T
        poses = _start_poses(block_alpha[:, 0].cpu().numpy())
        drawn_poses = poses
        if fit_drawing:
            drawn_poses = _drawn_start_poses(block_alpha[:, 0].cpu().numpy(),
                                             (agent_region[:, 0] == 0).cpu().numpy(), poses)
        block_alpha, block_colour = _complete_under_agent(block_alpha, block_colour, agent_solid, poses)
        without_agent = plate * (1.0 - block_alpha) + block_colour  # what the agent is drawn over
        agent_alpha, agent_colour = _matte(start, without_agent, AGENT_COLOUR, (labels == AGENT).float(), agent_region)
        ys, xs = _grid(h, w, start.device)
        centre, found = _agent_centre(_agent_likeness(start, without_agent), xs, ys)
        centre = torch.where(found[:, None] > MIN_AGENT_LIKENESS, centre, torch.full_like(centre, -1.0))
        identity = torch.tensor([[1.0, 0.0, 0.0], [0.0, 1.0, 0.0]], dtype=torch.float64,
                                device=start.device).repeat(b, 1, 1)
        pose = torch.from_numpy(poses).to(start.device)
        return cls(plate, (block_alpha == 0).float(), block_alpha, block_colour, agent_alpha, agent_colour, identity,
                   pose[:, :2].clone(), centre, centre.clone(), block_alpha, centre.clone(), pose, pose.clone(),
                   pose[:, 2].clone(), torch.from_numpy(drawn_poses).to(start.device))

    def select(self, rows: list[int]) -> SceneLayers:
        """The scene of some rows (a copy)."""
        return SceneLayers(*(getattr(self, f.name)[rows].clone() for f in fields(self)))

    @staticmethod
    def concat(scenes: list[SceneLayers]) -> SceneLayers:
        """Rows of several scenes, in order."""
        return SceneLayers(*(torch.cat([getattr(s, f.name) for s in scenes]) for f in fields(SceneLayers)))

    def step(self, network_frame: Tensor, flow: Tensor, contact: ContactModel | None = None,
             target: Tensor | None = None, draw_t: bool = False) -> Tensor:
        """Network frame (B, 3, H, W) in [0, 255] and its displacement (B, 2, H, W) -> the drawn
        frame (B, 3, H, W) in [0, 255].

        With a `contact` model and the commanded `target` (B, 2) in pixels, the T moves as the
        contact model says, given the agent read from the network frame; the rigid motion fitted
        to the displacement then only places the T behind the agent while the agent is read; with
        `draw_t` (scenes made with `fit_drawing`) the moved T is drawn afresh (`_draw_moved_block`)."""
        _, _, h, w = network_frame.shape
        ys, xs = _grid(h, w, network_frame.device)
        self._move_block(flow, xs, ys)
        labels = classify(network_frame)
        block_alpha, block_colour = self._sample(self.block_alpha, self.block_colour, self._drawn_block_map())
        behind = self.plate * (1.0 - block_alpha) + block_colour  # the scene without the agent
        agent_before = self.agent_now
        self._move_agent(_agent_likeness(network_frame, behind), xs, ys)
        if contact is not None and target is not None:
            self._push_block(contact, agent_before, target, block_alpha, h)
            block_alpha, block_colour = self._sample(self.block_alpha, self.block_colour, self._drawn_block_map())
            if draw_t:
                block_alpha, block_colour = self._draw_moved_block(block_alpha, block_colour, h)
        self.agent_prev = agent_before
        shift = self.agent_now - self.agent_start
        agent_map = torch.zeros_like(self.block_map)
        agent_map[:, 0, 0] = agent_map[:, 1, 1] = 1.0
        agent_map[:, :, 2] = -shift
        agent_alpha, agent_colour = self._sample(self.agent_alpha, self.agent_colour, agent_map)
        # inpainted floor that no layer draws on any more: take the network's floor there
        uncovered = (1.0 - self.plate_known) * ((block_alpha + agent_alpha) < 0.5 * MIN_ALPHA).float()
        uncovered = uncovered * ((labels == FLOOR) | (labels == GOAL)).float()[:, None]
        self.plate = torch.where(uncovered > 0, _floor_colour(network_frame), self.plate)
        self.plate_known = torch.maximum(self.plate_known, uncovered)
        self.block_alpha_now = block_alpha
        frame = self.plate * (1.0 - block_alpha) + block_colour
        return frame * (1.0 - agent_alpha) + agent_colour

    def _move_block(self, flow: Tensor, xs: Tensor, ys: Tensor) -> None:
        """Compose the T's motion with the rigid motion fitted to the flow over its interior
        (least squares, in float64 numpy: the same bits whatever torch's thread count)."""
        solid = (self.block_alpha_now > 0.5).float()
        interior = _erode(solid)
        weights = torch.where(interior.sum(dim=(1, 2, 3), keepdim=True) >= MIN_FIT_PIXELS, interior, solid)[:, 0]
        w = weights.double().cpu().numpy()
        px, py = xs.double().cpu().numpy()[None], ys.double().cpu().numpy()[None]
        d = flow.double().cpu().numpy()
        qx, qy = px + d[:, 0], py + d[:, 1]
        total = w.sum(axis=(1, 2))
        denom = np.maximum(total, 1e-6)
        pcx, pcy = (w * px).sum(axis=(1, 2)) / denom, (w * py).sum(axis=(1, 2)) / denom
        qcx, qcy = (w * qx).sum(axis=(1, 2)) / denom, (w * qy).sum(axis=(1, 2)) / denom
        dpx, dpy = px - pcx[:, None, None], py - pcy[:, None, None]
        dqx, dqy = qx - qcx[:, None, None], qy - qcy[:, None, None]
        sin_sum = (w * (dpx * dqy - dpy * dqx)).sum(axis=(1, 2))
        theta = np.arctan2(sin_sum, (w * (dpx * dqx + dpy * dqy)).sum(axis=(1, 2)))
        fitted = total >= MIN_FIT_PIXELS
        cos, sin = np.where(fitted, np.cos(theta), 1.0), np.where(fitted, np.sin(theta), 0.0)
        tx = np.where(fitted, qcx - (cos * pcx - sin * pcy), 0.0)
        ty = np.where(fitted, qcy - (sin * pcx + cos * pcy), 0.0)
        # start <- last <- now: [A | b] o [R | t] = [A R | A t + b]
        m = self.block_map.cpu().numpy()
        a00, a01, b0, a10, a11, b1 = m[:, 0, 0], m[:, 0, 1], m[:, 0, 2], m[:, 1, 0], m[:, 1, 1], m[:, 1, 2]
        composed = np.stack([np.stack([a00 * cos + a01 * sin, -a00 * sin + a01 * cos, a00 * tx + a01 * ty + b0], 1),
                             np.stack([a10 * cos + a11 * sin, -a10 * sin + a11 * cos, a10 * tx + a11 * ty + b1], 1)], 1)
        self.block_map = torch.from_numpy(composed).to(self.block_map.device)

    def _push_block(self, contact: ContactModel, agent_now: Tensor, target: Tensor, drawn: Tensor,
                    pixels: int) -> None:
        """The T's next pose from the contact model; the T's motion (`block_map`) follows it.
        A row whose agent is unknown, or whose T is (almost) out of sight, keeps its T still."""
        pose = self.block_pose.cpu().numpy()
        before, now, after = (a.double().cpu().numpy() for a in (self.agent_prev, agent_now, self.agent_now))
        moved = contact.step(before, now, after, target.double().cpu().numpy(), pose,
                             self.block_pose_prev.cpu().numpy(), pixels)
        seen = drawn.double().sum(dim=(1, 2, 3)).cpu().numpy() >= MIN_FIT_PIXELS
        known = self.agent_start[:, 0].cpu().numpy() >= 0
        moved = np.where((seen & known)[:, None], moved, pose)
        # start <- now: the start's pixel for pixel p is R(-(angle - angle0)) (p - centre) + centre0
        start = self.block_start.cpu().numpy()
        turn = -(moved[:, 2] - self.block_angle_start.cpu().numpy())
        cos, sin = np.cos(turn), np.sin(turn)
        bx = start[:, 0] - (cos * moved[:, 0] - sin * moved[:, 1])
        by = start[:, 1] - (sin * moved[:, 0] + cos * moved[:, 1])
        block_map = np.stack([np.stack([cos, -sin, bx], 1), np.stack([sin, cos, by], 1)], 1)
        self.block_map = torch.from_numpy(block_map).to(self.block_map.device)
        self.block_pose_prev = self.block_pose
        self.block_pose = torch.from_numpy(moved).to(self.block_pose.device)

    def _draw_moved_block(self, alpha: Tensor, colour: Tensor, pixels: int) -> tuple[Tensor, Tensor]:
        """Rows whose T the contact model has moved: the T drawn afresh at its pose, as gym-pusht
        draws it (`t_render.py`), instead of the start frame's T resampled (whose rims blur and
        lose ~9 % of the T's pixels to the simulator's aliased edges). The pose drawn is the start
        pose fitted by drawing, moved as the contact model moved the T since the start. A T never
        moved keeps the start frame's own pixels."""
        pose = self.block_pose.cpu().numpy()
        start = np.concatenate([self.block_start.cpu().numpy(), self.block_angle_start.cpu().numpy()[:, None]], axis=1)
        moved = np.flatnonzero((pose != start).any(axis=1))
        if len(moved) == 0:
            return alpha, colour
        drawn_start = self.block_pose_drawn_start.cpu().numpy()
        fill_colour = torch.from_numpy(_BLOCK_FILL).to(alpha.device)[:, None, None]
        outline_colour = torch.from_numpy(_BLOCK_OUTLINE).to(alpha.device)[:, None, None]
        alpha, colour = alpha.clone(), colour.clone()
        for row in moved:
            fill, outline = draw_shares(body_from_centroid(drawn_start[row] + pose[row] - start[row], pixels), pixels)
            fill_t = torch.from_numpy(fill).to(alpha.device)
            outline_t = torch.from_numpy(outline).to(alpha.device)
            alpha[row, 0] = fill_t + outline_t
            colour[row] = fill_t * fill_colour + outline_t * outline_colour
        return alpha, colour

    def _drawn_block_map(self) -> Tensor:
        """The T's motion as drawn: its turn and its centre's shift rounded to a grid.

        Why: CPU convolutions round their last bits differently with other thread counts, and a
        displacement that differs in the 7th digit would otherwise move the T by a hair, enough
        to flip a pixel's rounding and, frame after frame, the rollout. A pose on a grid only
        moves when the motion crosses a grid line, which such bits almost never do."""
        m = self.block_map.cpu().numpy()
        angle = np.arctan2(m[:, 1, 0], m[:, 0, 0])  # start <- now is a rotation by `angle`
        c0 = self.block_start.cpu().numpy()
        cos, sin = np.cos(angle), np.sin(angle)
        rel = c0 - m[:, :, 2]  # the start centre's position now: A^T (c0 - b)
        now = np.stack([cos * rel[:, 0] + sin * rel[:, 1], -sin * rel[:, 0] + cos * rel[:, 1]], axis=1)
        angle = np.round(angle / ANGLE_GRID_RAD) * ANGLE_GRID_RAD
        now = c0 + np.round((now - c0) / POSITION_GRID_PX) * POSITION_GRID_PX  # at rest: exactly c0
        cos, sin = np.cos(angle), np.sin(angle)
        b = c0 - np.stack([cos * now[:, 0] - sin * now[:, 1], sin * now[:, 0] + cos * now[:, 1]], axis=1)
        drawn = np.stack([np.stack([cos, -sin, b[:, 0]], 1), np.stack([sin, cos, b[:, 1]], 1)], 1)
        return torch.from_numpy(drawn).to(self.block_map.device)

    def _move_agent(self, likeness: Tensor, xs: Tensor, ys: Tensor) -> None:
        centre, found = _agent_centre(likeness, xs, ys)
        known = (self.agent_start[:, 0] >= 0) & (found > MIN_AGENT_LIKENESS)
        self.agent_now = torch.where(known[:, None], centre, self.agent_now)

    @staticmethod
    def _sample(alpha: Tensor, colour: Tensor, pixel_map: Tensor) -> tuple[Tensor, Tensor]:
        """Layer sampled at start pixel = A p + b for every pixel p (bilinear, empty outside).
        The grid is computed element by element (no matrix product, whose kernels may differ
        with the thread count)."""
        _, _, h, w = alpha.shape
        ys, xs = _grid(h, w, alpha.device)
        m = pixel_map.to(alpha.device, torch.float32)[:, :, :, None, None]
        sx = m[:, 0, 0] * xs + m[:, 0, 1] * ys + m[:, 0, 2]
        sy = m[:, 1, 0] * xs + m[:, 1, 1] * ys + m[:, 1, 2]
        # pixel centres -> grid_sample's [-1, 1] (align_corners=False)
        grid = torch.stack([(sx + 0.5) * (2.0 / w) - 1.0, (sy + 0.5) * (2.0 / h) - 1.0], dim=-1)
        both = F.grid_sample(torch.cat([alpha, colour], dim=1), grid, mode="bilinear", padding_mode="zeros",
                             align_corners=False)
        return both[:, :1], both[:, 1:]


def _complete_under_agent(alpha: Tensor, colour: Tensor, agent: Tensor,
                          poses: np.ndarray) -> tuple[Tensor, Tensor]:
    """The T's matte where the agent hides it, from the T's fitted pose (T fill colour).

    Why: an agent that starts on the T leaves a hole in the T's matte (the inpaint fills it with
    floor), and the T then moves away from the agent with a gap through it, counted as a second T."""
    b, _, h, w = alpha.shape
    cover = np.zeros((b, h, w))
    r = FIT_WINDOW_PX
    for i, pose in enumerate(poses):
        x0, y0 = int(np.floor(pose[0])) - r, int(np.floor(pose[1])) - r
        window = t_coverage(pose[:2], pose[2:3], w)[0]
        ys, xs = slice(max(y0, 0), min(y0 + 2 * r + 1, h)), slice(max(x0, 0), min(x0 + 2 * r + 1, w))
        cover[i, ys, xs] = window[ys.start - y0:ys.stop - y0, xs.start - x0:xs.stop - x0]
    hidden = torch.from_numpy(cover).to(alpha.device, alpha.dtype)[:, None] * agent
    hidden = hidden * (hidden >= MIN_ALPHA).float()
    filled = torch.where(agent > 0, torch.maximum(alpha, hidden), alpha)
    fill = torch.from_numpy(_BLOCK_FILL).to(alpha.device)[None, :, None, None]
    return filled, torch.where(filled > alpha, fill * filled, colour)


_BLOCK_FILL = np.array(_BLOCK[0], dtype=np.float32)
_BLOCK_OUTLINE = np.array(_BLOCK[1], dtype=np.float32)


def _start_poses(alphas: np.ndarray) -> np.ndarray:
    """(B, H, W) T mattes -> (B, 3) float64 [centre x, centre y, angle]; rows that share a start
    (a planner's candidates) are fitted once."""
    fitted: dict[bytes, np.ndarray] = {}
    poses = []
    for alpha in alphas:
        key = alpha.tobytes()
        if key not in fitted:
            centre, angle = block_pose_from_matte(alpha)
            fitted[key] = np.array([centre[0], centre[1], angle])
        poses.append(fitted[key])
    return np.stack(poses)


def _drawn_start_poses(alphas: np.ndarray, seen: np.ndarray, poses: np.ndarray) -> np.ndarray:
    """(B, H, W) T mattes, (B, H, W) pixels the agent does not hide, (B, 3) moments poses ->
    (B, 3) poses fitted by drawing the T (`t_render.fit_pose`); shared starts are fitted once."""
    fitted: dict[bytes, np.ndarray] = {}
    out = []
    for alpha, mask, pose in zip(alphas, seen, poses, strict=True):
        key = alpha.tobytes() + mask.tobytes() + pose.tobytes()
        if key not in fitted:
            fitted[key] = fit_pose(alpha, mask, pose) if alpha.sum() >= MIN_FIT_PIXELS else pose.copy()
        out.append(fitted[key])
    return np.stack(out)


def _grid(h: int, w: int, device: torch.device) -> tuple[Tensor, Tensor]:
    """Pixel-centre index grids (y, x), each (H, W) float."""
    ys, xs = torch.meshgrid(torch.arange(h, device=device, dtype=torch.float32),
                            torch.arange(w, device=device, dtype=torch.float32), indexing="ij")
    return ys, xs
