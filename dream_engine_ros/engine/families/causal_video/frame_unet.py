"""Frame-autoregressive pixel-space denoiser (the `causal-video` family's backbone).

Why pixels and not a VAE latent: at 96 x 96 an 8x latent cell is larger than a small object
(a 5-px robot tip, a 6-px bar), and every decode blurs it; here the "tokenizer" is a
lossless space-to-depth (pixel unshuffle, 4 x 4 pixels -> 48 channels), so nothing is lost
between frames and the network works on a 24 x 24 grid.

Inputs, per predicted frame:
  context   the last `context_frames` frames (oldest first): motion and hidden velocity;
  noisy     the noisy change of the next frame relative to the last context frame;
  t         the flow time in [0, 1] (1 = pure noise);
  actions   the last `context_actions` actions, newest last, normalised to [-1, 1]: as a
            global embedding (FiLM on every block) and as one Gaussian bump per action on the
            grid at the target's position (where the agent is being pulled to).
Output: the clean change (x0 prediction), so one step already gives the conditional mean.

With `warp` the network also predicts where every pixel of the next frame comes from in the
last context frame (a displacement in pixels); the change is then "move the last frame's
pixels along that field" plus a residual. Why: the conditional mean of an uncertain push is a
blur when the change is drawn pixel by pixel, but an averaged displacement still carries the
whole T, so its shape survives (the idea of flow-based video predictors such as Finn et al.
2016 for robot pushing; the residual paints what a displacement cannot: uncovered floor).
"""

from __future__ import annotations

import math
from typing import cast

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from dream_engine_ros.engine.spec import FrameNetConfig


def _groups(channels: int) -> int:
    return 8 if channels % 8 == 0 else 1


class ResBlock(nn.Module):
    """Norm -> SiLU -> conv, FiLM from the embedding, norm -> SiLU -> conv, residual."""

    def __init__(self, cin: int, cout: int, embed_dim: int) -> None:
        super().__init__()
        self.norm1 = nn.GroupNorm(_groups(cin), cin)
        self.conv1 = nn.Conv2d(cin, cout, 3, padding=1)
        self.film = nn.Linear(embed_dim, 2 * cout)
        self.norm2 = nn.GroupNorm(_groups(cout), cout)
        self.conv2 = nn.Conv2d(cout, cout, 3, padding=1)
        self.skip = nn.Conv2d(cin, cout, 1) if cin != cout else nn.Identity()
        nn.init.zeros_(self.conv2.weight)
        assert self.conv2.bias is not None  # Conv2d's default bias=True
        nn.init.zeros_(self.conv2.bias)

    def forward(self, x: Tensor, emb: Tensor) -> Tensor:
        h: Tensor = self.conv1(F.silu(self.norm1(x)))
        scale, shift = self.film(emb)[:, :, None, None].chunk(2, dim=1)
        h = self.norm2(h) * (1.0 + scale) + shift
        h = self.conv2(F.silu(h))
        skip: Tensor = self.skip(x)
        return skip + h


def timestep_embedding(t: Tensor, dim: int) -> Tensor:
    """Sinusoidal embedding of flow times in [0, 1] (scaled to [0, 1000])."""
    half = dim // 2
    freqs = torch.exp(-math.log(10000.0) * torch.arange(half, device=t.device, dtype=torch.float32) / half)
    args = t.float()[:, None] * 1000.0 * freqs[None]
    return torch.cat([torch.cos(args), torch.sin(args)], dim=1)


class FrameDenoiser(nn.Module):
    """U-Net over the space-to-depth grid; see the module docstring for inputs and output."""

    def __init__(self, config: FrameNetConfig) -> None:
        super().__init__()
        self.config = config
        cell = 3 * config.patch * config.patch
        cin = cell * (config.context_frames + 1) + config.context_actions
        e = config.embed_dim
        self.embed = nn.Sequential(
            nn.Linear(e + config.context_actions * config.action_dim, e), nn.SiLU(), nn.Linear(e, e))
        self.stem = nn.Conv2d(cin, config.channels[0], 3, padding=1)
        self.down_blocks = nn.ModuleList()
        self.downsamples = nn.ModuleList()
        width = config.channels[0]
        for level, (ch, n) in enumerate(zip(config.channels, config.blocks, strict=True)):
            if level > 0:
                self.downsamples.append(nn.Conv2d(width, ch, 3, stride=2, padding=1))
                width = ch
            self.down_blocks.append(nn.ModuleList(ResBlock(width, ch, e) for _ in range(n)))
        self.up_blocks = nn.ModuleList()
        self.upsamples = nn.ModuleList()
        for level in range(len(config.channels) - 2, -1, -1):
            ch = config.channels[level]
            self.upsamples.append(nn.Conv2d(width, ch, 3, padding=1))
            self.up_blocks.append(nn.ModuleList(
                [ResBlock(2 * ch, ch, e)] + [ResBlock(ch, ch, e) for _ in range(config.blocks[level] - 1)]))
            width = ch
        self.head_norm = nn.GroupNorm(_groups(width), width)
        self.head = nn.Conv2d(width, cell, 3, padding=1)
        nn.init.zeros_(self.head.weight)
        assert self.head.bias is not None  # Conv2d's default bias=True
        nn.init.zeros_(self.head.bias)
        # zero at start: the identity displacement, so a warp model starts as the plain one
        self.flow_head = nn.Conv2d(width, 2 * config.patch * config.patch, 3, padding=1) if config.warp else None
        if self.flow_head is not None:
            nn.init.zeros_(self.flow_head.weight)
            assert self.flow_head.bias is not None
            nn.init.zeros_(self.flow_head.bias)

    def action_bumps(self, actions: Tensor, grid: int) -> Tensor:
        """(B, A, 2) actions in [-1, 1] (x, y over the whole image) -> (B, A, grid, grid)."""
        cells = (actions.float() + 1.0) * 0.5 * grid - 0.5
        coords = torch.arange(grid, device=actions.device, dtype=torch.float32)
        dx = coords[None, None, None, :] - cells[..., 0, None, None]
        dy = coords[None, None, :, None] - cells[..., 1, None, None]
        return torch.exp(-(dx * dx + dy * dy) / (2.0 * self.config.bump_sigma**2))

    def forward(self, context: Tensor, noisy: Tensor, t: Tensor, actions: Tensor) -> Tensor:
        """context (B, F, 3, H, W), noisy (B, 3, H, W), t (B,), actions (B, A, D) -> (B, 3, H, W)."""
        return self.change_and_flow(context, noisy, t, actions)[0]

    def change_and_flow(self, context: Tensor, noisy: Tensor, t: Tensor, actions: Tensor,
                        flow_gradient: bool = True) -> tuple[Tensor, Tensor | None]:
        """The clean change and, for a warp model, the displacement (B, 2, H, W) in pixels
        (x, y): next pixel p comes from the last frame at p + displacement(p).

        `flow_gradient=False` keeps the change's gradient out of the displacement (training
        supervises the displacement directly; otherwise a residual that already paints the
        motion teaches the displacement to stay zero)."""
        cfg = self.config
        b = context.shape[0]
        frames = torch.cat([context.flatten(1, 2), noisy], dim=1)
        grid_in = F.pixel_unshuffle(frames, cfg.patch)
        bumps = self.action_bumps(actions[..., :2], grid_in.shape[-1]).to(grid_in.dtype)
        x = self.stem(torch.cat([grid_in, bumps], dim=1))
        emb = self.embed(torch.cat([timestep_embedding(t, cfg.embed_dim), actions.reshape(b, -1).float()], dim=1))
        emb = emb.to(x.dtype)
        skips = []
        for level, blocks in enumerate(self.down_blocks):
            if level > 0:
                x = self.downsamples[level - 1](x)
            for block in cast(nn.ModuleList, blocks):
                x = block(x, emb)
            skips.append(x)
        skips.pop()
        for upsample, blocks in zip(self.upsamples, self.up_blocks, strict=True):
            x = upsample(F.interpolate(x, scale_factor=2.0, mode="nearest"))
            x = torch.cat([x, skips.pop()], dim=1)
            for block in cast(nn.ModuleList, blocks):
                x = block(x, emb)
        features = F.silu(self.head_norm(x))
        change = F.pixel_shuffle(self.head(features), cfg.patch)
        if self.flow_head is None:
            return change, None
        flow = F.pixel_shuffle(self.flow_head(features), cfg.patch).float()
        last = context[:, -1].float()
        moved = warp(last, flow if flow_gradient else flow.detach())
        return (moved - last).to(change.dtype) + change, flow


def warp(image: Tensor, flow: Tensor) -> Tensor:
    """Sample `image` (B, C, H, W) at every pixel centre plus `flow` (B, 2, H, W) pixels,
    bilinearly, repeating the border outside the image."""
    _, _, h, w = image.shape
    ys = torch.arange(h, device=image.device, dtype=torch.float32)
    xs = torch.arange(w, device=image.device, dtype=torch.float32)
    gx = (xs[None, None, :] + flow[:, 0] + 0.5) * (2.0 / w) - 1.0
    gy = (ys[None, :, None] + flow[:, 1] + 0.5) * (2.0 / h) - 1.0
    grid = torch.stack([gx, gy], dim=-1)
    return F.grid_sample(image, grid, mode="bilinear", padding_mode="border", align_corners=False)
