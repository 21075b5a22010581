"""Per-frame convolutional autoencoder: uint8 frames <-> a normalised latent grid.

Deterministic (no sampling in the bottleneck): one frame always encodes to the same latents.
Each level of `BlockDiffusionConfig.channels` is a residual block and a stride-2 convolution,
so the latent grid is (latent_channels, H / stride, W / stride). The per-channel statistics
`latent_mean` / `latent_std` (buffers, saved with the weights) map the raw bottleneck to roughly
unit scale, the scale the dynamics' Gaussian noise assumes; a trainer sets them after fitting
(`set_latent_stats`). Frames are processed independently, so a batch's rows equal single frames
up to the convolutions' batch-dependent rounding (the pipeline runs rows one by one for exact rows).
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from dream_engine_ros.engine.families.block_diffusion.config import BlockDiffusionConfig
from dream_engine_ros.engine.pixels import pixels_to_unit, round_to_pixels


def _groups(channels: int) -> int:
    return 8 if channels % 8 == 0 else 1


class ConvBlock(nn.Module):
    """Norm -> SiLU -> conv, twice, plus a (1x1 if the width changes) skip."""

    def __init__(self, cin: int, cout: int) -> None:
        super().__init__()
        self.norm1 = nn.GroupNorm(_groups(cin), cin)
        self.conv1 = nn.Conv2d(cin, cout, 3, padding=1)
        self.norm2 = nn.GroupNorm(_groups(cout), cout)
        self.conv2 = nn.Conv2d(cout, cout, 3, padding=1)
        self.skip = nn.Conv2d(cin, cout, 1) if cin != cout else nn.Identity()

    def forward(self, x: Tensor) -> Tensor:
        h: Tensor = self.conv1(F.silu(self.norm1(x)))
        h = self.conv2(F.silu(self.norm2(h)))
        skip: Tensor = self.skip(x)
        return skip + h


class FrameTokenizer(nn.Module):
    """encode: (N, H, W, 3) uint8 -> (N, z, H/s, W/s); decode: latents -> [-1, 1] frames (N, 3, H, W)."""

    def __init__(self, config: BlockDiffusionConfig) -> None:
        super().__init__()
        self.config = config
        ch = config.channels
        self.stem = nn.Conv2d(3, ch[0], 3, padding=1)
        down: list[nn.Module] = []
        width = ch[0]
        for c in ch:  # a residual block, then halve the resolution
            down += [ConvBlock(width, c), nn.Conv2d(c, c, 3, stride=2, padding=1)]
            width = c
        self.down = nn.Sequential(*down)
        self.to_latent = nn.Sequential(nn.GroupNorm(_groups(width), width), nn.SiLU(),
                                       nn.Conv2d(width, config.latent_channels, 1))
        self.from_latent = nn.Conv2d(config.latent_channels, width, 3, padding=1)
        up: list[nn.Module] = []
        for c in reversed(ch):  # double the resolution, then a residual block
            up += [nn.Upsample(scale_factor=2.0, mode="nearest"), nn.Conv2d(width, c, 3, padding=1), ConvBlock(c, c)]
            width = c
        self.up = nn.Sequential(*up)
        self.to_pixels = nn.Sequential(nn.GroupNorm(_groups(ch[0]), ch[0]), nn.SiLU(),
                                       nn.Conv2d(ch[0], 3, 3, padding=1))
        self.latent_mean: Tensor
        self.latent_std: Tensor
        self.register_buffer("latent_mean", torch.zeros(config.latent_channels))
        self.register_buffer("latent_std", torch.ones(config.latent_channels))

    def set_latent_stats(self, mean: Tensor, std: Tensor) -> None:
        """Per-channel statistics of the raw bottleneck over training frames (a trainer measures them)."""
        self.latent_mean.copy_(mean)
        self.latent_std.copy_(std)

    def _stats(self, like: Tensor) -> tuple[Tensor, Tensor]:
        mean, std = self.latent_mean, self.latent_std
        return mean.to(like.dtype)[None, :, None, None], std.to(like.dtype)[None, :, None, None]

    def encode_unit(self, frames: Tensor) -> Tensor:
        """[-1, 1] frames (N, 3, H, W) -> normalised latents (N, z, H/s, W/s)."""
        raw: Tensor = self.to_latent(self.down(self.stem(frames)))
        mean, std = self._stats(raw)
        return (raw - mean) / std

    def encode(self, frames: Tensor) -> Tensor:
        """uint8 frames (N, H, W, 3) -> normalised latents (N, z, H/s, W/s)."""
        dtype = self.stem.weight.dtype
        return self.encode_unit(pixels_to_unit(frames).permute(0, 3, 1, 2).to(dtype))

    def decode(self, latents: Tensor) -> Tensor:
        """Normalised latents (N, z, h, w) -> [-1, 1] frames (N, 3, h * s, w * s), not clamped."""
        mean, std = self._stats(latents)
        out: Tensor = self.to_pixels(self.up(self.from_latent(latents * std + mean)))
        return out

    def decode_pixels(self, latents: Tensor) -> Tensor:
        """Normalised latents (N, z, h, w) -> uint8 frames (N, H, W, 3), rounded (engine.pixels)."""
        return round_to_pixels(self.decode(latents).float()).permute(0, 2, 3, 1)

    def loss(self, frames: Tensor) -> Tensor:
        """Reconstruction loss of uint8 frames (N, H, W, 3): mean squared error in [-1, 1] units."""
        target = pixels_to_unit(frames).permute(0, 3, 1, 2).to(self.stem.weight.dtype)
        return F.mse_loss(self.decode(self.encode_unit(target)), target)
