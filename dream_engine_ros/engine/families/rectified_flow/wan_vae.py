"""Causal 3-D convolutional video VAE in the Wan2.1 layout.

Geometry: 8x spatial (for four width levels), 4x temporal, the first frame encoded alone, so
`1 + 4k` frames <-> `1 + k` latents. Module names follow the released checkpoint so that
`Wan2.1_VAE.pth` loads without renaming.

Streaming: every temporal operator is causal, and its history (the last input frames it needs)
lives in a `StreamState` that the caller threads through successive calls. Encoding or decoding
in pieces with one state therefore gives the same numbers as one call over the whole sequence;
that is what lets the rollout runner decode chunk by chunk and stream frames out.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from dream_engine_ros.engine.spec import VaeConfig

HISTORY_FRAMES = 2  # a k=3 causal conv needs the two frames before the current one


@dataclass
class StreamState:
    """History of every causal operator, keyed by the operator's slot number.

    `started` records whether the stream has seen its first frame (the first frame of a Wan
    stream skips the temporal resamplers).
    """

    history: dict[int, Tensor] = field(default_factory=dict)
    started: dict[int, bool] = field(default_factory=dict)
    calls: int = 0

    def detach(self) -> StreamState:
        return StreamState({k: v.detach() for k, v in self.history.items()}, dict(self.started), self.calls)

    def expand_batch(self, repeats: int) -> StreamState:
        """Copy a batch-1 state to `repeats` streams (K candidates from one start frame)."""
        return StreamState(
            {k: v.expand(repeats, *v.shape[1:]).contiguous() for k, v in self.history.items()},
            dict(self.started),
            self.calls,
        )


class CausalSlot(nn.Module):
    """A module with temporal history; gets a unique `slot` when the VAE is built."""

    slot: int = -1


class CausalConv3d(nn.Conv3d, CausalSlot):
    """3-D convolution padded only towards the past in time (symmetric in space)."""

    def __init__(self, in_channels: int, out_channels: int, kernel_size: int | tuple[int, int, int],
                 stride: int | tuple[int, int, int] = 1, padding: int | tuple[int, int, int] = 0) -> None:
        super().__init__(in_channels, out_channels, kernel_size, stride=stride, padding=0)
        pad = (padding,) * 3 if isinstance(padding, int) else tuple(padding)
        self.time_pad = 2 * pad[0]
        self.space_pad = (pad[2], pad[2], pad[1], pad[1])

    def forward(self, x: Tensor, state: StreamState | None = None) -> Tensor:
        if self.time_pad == 0:
            return super().forward(F.pad(x, self.space_pad) if any(self.space_pad) else x)
        past = state.history.get(self.slot) if state is not None else None
        if past is None:
            past = x.new_zeros(x.shape[0], x.shape[1], self.time_pad, *x.shape[3:])
        padded = torch.cat([past, x], dim=2)
        if state is not None:
            state.history[self.slot] = padded[:, :, -self.time_pad:].detach()
        if any(self.space_pad):
            padded = F.pad(padded, self.space_pad)
        return super().forward(padded)


class RMSNorm(nn.Module):
    """Channel-wise L2 normalisation scaled by sqrt(C) and a learned gain (Wan's RMS_norm)."""

    def __init__(self, dim: int, *, video: bool) -> None:
        super().__init__()
        shape = (dim, 1, 1, 1) if video else (dim, 1, 1)
        self.scale = dim**0.5
        self.gamma = nn.Parameter(torch.ones(shape))

    def forward(self, x: Tensor) -> Tensor:
        out: Tensor = F.normalize(x, dim=1) * self.scale * self.gamma
        return out


class ResidualBlock(nn.Module):
    def __init__(self, in_dim: int, out_dim: int) -> None:
        super().__init__()
        self.residual = nn.Sequential(
            RMSNorm(in_dim, video=True), nn.SiLU(), CausalConv3d(in_dim, out_dim, 3, padding=1),
            RMSNorm(out_dim, video=True), nn.SiLU(), nn.Identity(),
            CausalConv3d(out_dim, out_dim, 3, padding=1),
        )
        self.shortcut: nn.Module = CausalConv3d(in_dim, out_dim, 1) if in_dim != out_dim else nn.Identity()

    def forward(self, x: Tensor, state: StreamState | None) -> Tensor:
        skip: Tensor = self.shortcut(x)
        for layer in self.residual:
            x = layer(x, state) if isinstance(layer, CausalConv3d) else layer(x)
        return x + skip


class AttentionBlock(nn.Module):
    """Single-head self-attention over the pixels of each frame (no temporal mixing)."""

    def __init__(self, dim: int) -> None:
        super().__init__()
        self.norm = RMSNorm(dim, video=False)
        self.to_qkv = nn.Conv2d(dim, dim * 3, 1)
        self.proj = nn.Conv2d(dim, dim, 1)

    def forward(self, x: Tensor, state: StreamState | None = None) -> Tensor:
        b, c, t, h, w = x.shape
        frames = x.permute(0, 2, 1, 3, 4).reshape(b * t, c, h, w)
        qkv: Tensor = self.to_qkv(self.norm(frames)).reshape(b * t, 3 * c, h * w).transpose(1, 2)
        q, k, v = qkv.unsqueeze(1).chunk(3, dim=-1)
        out = F.scaled_dot_product_attention(q, k, v).squeeze(1).transpose(1, 2).reshape(b * t, c, h, w)
        projected: Tensor = self.proj(out)
        return x + projected.reshape(b, t, c, h, w).permute(0, 2, 1, 3, 4)


class Resample(CausalSlot):
    """2x spatial up/down sampling, optionally with 2x causal temporal up/down sampling.

    The first frame of a stream never goes through the temporal operator: that is what makes
    frame 0 map to latent 0 alone.
    """

    def __init__(self, dim: int, mode: str) -> None:
        super().__init__()
        self.mode = mode
        if mode.startswith("upsample"):
            self.resample = nn.Sequential(
                nn.Upsample(scale_factor=(2.0, 2.0), mode="nearest-exact"), nn.Conv2d(dim, dim // 2, 3, padding=1)
            )
            if mode == "upsample3d":
                self.time_conv = CausalConv3d(dim, dim * 2, (3, 1, 1), padding=(1, 0, 0))
        elif mode.startswith("downsample"):
            self.resample = nn.Sequential(nn.ZeroPad2d((0, 1, 0, 1)), nn.Conv2d(dim, dim, 3, stride=2))
            if mode == "downsample3d":
                self.time_conv = CausalConv3d(dim, dim, (3, 1, 1), stride=(2, 1, 1), padding=(0, 0, 0))
        else:
            raise ValueError(f"unknown resample mode {mode!r}")

    def _spatial(self, x: Tensor) -> Tensor:
        b, c, t, h, w = x.shape
        frames = x.permute(0, 2, 1, 3, 4).reshape(b * t, c, h, w)
        resampled: Tensor = self.resample(frames)
        return resampled.reshape(b, t, *resampled.shape[1:]).permute(0, 2, 1, 3, 4)

    def _first_of_stream(self, state: StreamState | None) -> bool:
        if state is None:
            return True
        first = not state.started.get(self.slot, False)
        state.started[self.slot] = True
        return first

    def forward(self, x: Tensor, state: StreamState | None) -> Tensor:
        if self.mode == "upsample3d":
            x = self._upsample_time(x, state)
        x = self._spatial(x)
        if self.mode == "downsample3d":
            x = self._downsample_time(x, state)
        return x

    def _upsample_time(self, x: Tensor, state: StreamState | None) -> Tensor:
        head: Tensor | None = None
        if self._first_of_stream(state):
            head, x = x[:, :, :1], x[:, :, 1:]
        if x.shape[2] > 0:
            b, c, t, h, w = x.shape
            doubled = self.time_conv(x, state)  # zero history at stream start: frame 0 is not context
            x = doubled.reshape(b, 2, c, t, h, w).permute(0, 2, 3, 1, 4, 5).reshape(b, c, 2 * t, h, w)
        return x if head is None else torch.cat([head, x], dim=2)

    def _downsample_time(self, x: Tensor, state: StreamState | None) -> Tensor:
        head: Tensor | None = None
        first = self._first_of_stream(state)
        if first:
            head, rest = x[:, :, :1], x[:, :, 1:]
            past = head
        else:
            rest = x
            assert state is not None
            past = state.history[self.slot]
        if rest.shape[2] % 2:
            raise ValueError(f"temporal downsampling needs an even number of new frames, got {rest.shape[2]}")
        if state is not None:
            state.history[self.slot] = x[:, :, -1:].detach()
        if rest.shape[2] == 0:
            return head if head is not None else rest
        out = self.time_conv(torch.cat([past, rest], dim=2))
        return out if head is None else torch.cat([head, out], dim=2)


def _run(layers: Iterable[nn.Module], x: Tensor, state: StreamState | None) -> Tensor:
    for layer in layers:
        if isinstance(layer, (ResidualBlock, AttentionBlock, Resample, CausalConv3d)):
            x = layer(x, state)
        else:
            x = layer(x)
    return x


class Encoder3d(nn.Module):
    def __init__(self, cfg: VaeConfig, out_channels: int) -> None:
        super().__init__()
        dims = [cfg.dim * m for m in (1, *cfg.dim_mult)]
        self.conv1 = CausalConv3d(3, dims[0], 3, padding=1)
        layers: list[nn.Module] = []
        scale = 1.0
        for level, (in_dim, out_dim) in enumerate(zip(dims[:-1], dims[1:], strict=True)):
            for _ in range(cfg.num_res_blocks):
                layers.append(ResidualBlock(in_dim, out_dim))
                if scale in cfg.attn_scales:
                    layers.append(AttentionBlock(out_dim))
                in_dim = out_dim
            if level != len(cfg.dim_mult) - 1:
                layers.append(Resample(out_dim, "downsample3d" if cfg.temporal_downsample[level] else "downsample2d"))
                scale /= 2.0
        self.downsamples = nn.Sequential(*layers)
        top = dims[-1]
        self.middle = nn.Sequential(ResidualBlock(top, top), AttentionBlock(top), ResidualBlock(top, top))
        self.head = nn.Sequential(RMSNorm(top, video=True), nn.SiLU(), CausalConv3d(top, out_channels, 3, padding=1))

    def forward(self, x: Tensor, state: StreamState | None) -> Tensor:
        x = self.conv1(x, state)
        x = _run(self.downsamples, x, state)
        x = _run(self.middle, x, state)
        return _run(self.head, x, state)


class Decoder3d(nn.Module):
    def __init__(self, cfg: VaeConfig) -> None:
        super().__init__()
        mult = cfg.dim_mult
        dims = [cfg.dim * m for m in (mult[-1], *mult[::-1])]
        temporal_upsample = tuple(reversed(cfg.temporal_downsample))
        self.conv1 = CausalConv3d(cfg.z_dim, dims[0], 3, padding=1)
        self.middle = nn.Sequential(ResidualBlock(dims[0], dims[0]), AttentionBlock(dims[0]),
                                    ResidualBlock(dims[0], dims[0]))
        layers: list[nn.Module] = []
        scale = 1.0 / 2 ** (len(mult) - 2)
        for level, (in_dim, out_dim) in enumerate(zip(dims[:-1], dims[1:], strict=True)):
            if level in (1, 2, 3):
                in_dim //= 2  # the previous upsampler halved the width
            for _ in range(cfg.num_res_blocks + 1):
                layers.append(ResidualBlock(in_dim, out_dim))
                if scale in cfg.attn_scales:
                    layers.append(AttentionBlock(out_dim))
                in_dim = out_dim
            if level != len(mult) - 1:
                layers.append(Resample(out_dim, "upsample3d" if temporal_upsample[level] else "upsample2d"))
                scale *= 2.0
        self.upsamples = nn.Sequential(*layers)
        self.head = nn.Sequential(RMSNorm(dims[-1], video=True), nn.SiLU(), CausalConv3d(dims[-1], 3, 3, padding=1))

    def forward(self, z: Tensor, state: StreamState | None) -> Tensor:
        x = self.conv1(z, state)
        x = _run(self.middle, x, state)
        x = _run(self.upsamples, x, state)
        return _run(self.head, x, state)


class WanVAE(nn.Module):
    """Encoder + decoder with Wan's latent normalisation ((mu - mean) / std)."""

    latent_mean: Tensor  # buffers, registered in __init__
    latent_std: Tensor

    def __init__(self, cfg: VaeConfig) -> None:
        super().__init__()
        self.cfg = cfg
        self.encoder = Encoder3d(cfg, cfg.z_dim * 2)
        self.conv1 = CausalConv3d(cfg.z_dim * 2, cfg.z_dim * 2, 1)
        self.conv2 = CausalConv3d(cfg.z_dim, cfg.z_dim, 1)
        self.decoder = Decoder3d(cfg)
        self.register_buffer("latent_mean", torch.tensor(cfg.latent_mean).view(1, -1, 1, 1, 1), persistent=False)
        self.register_buffer("latent_std", torch.tensor(cfg.latent_std).view(1, -1, 1, 1, 1), persistent=False)
        for slot, module in enumerate(m for m in self.modules() if isinstance(m, CausalSlot)):
            module.slot = slot

    @property
    def temporal_compression(self) -> int:
        return self.cfg.temporal_compression

    def set_latent_stats(self, mean: Tensor, std: Tensor) -> None:
        self.latent_mean.copy_(mean.view_as(self.latent_mean))
        self.latent_std.copy_(std.view_as(self.latent_std))

    def encode_moments(self, video: Tensor, state: StreamState | None = None,
                       window: int = 16) -> tuple[Tensor, Tensor]:
        """Un-normalised posterior mean and log-variance of a video in [-1, 1], [B, 3, T, H, W].

        A fresh stream needs T = 1 + 4k frames; a continued stream (state already used) 4k.
        Frames are fed in windows of `window` (a multiple of 4) to bound memory.
        """
        state = StreamState() if state is None else state
        out = [self.encoder(piece, state) for piece in self._pieces(video, state, window)]
        state.calls += 1
        mu, log_var = self.conv1(torch.cat(out, dim=2)).chunk(2, dim=1)
        return mu, log_var

    def encode(self, video: Tensor, state: StreamState | None = None, window: int = 16) -> Tensor:
        """Normalised latent [B, z, 1 + (T-1)/4, H/8, W/8] of a video in [-1, 1]."""
        mu, _ = self.encode_moments(video, state, window)
        return (mu - self.latent_mean.to(mu.dtype)) / self.latent_std.to(mu.dtype)

    def decode(self, latent: Tensor, state: StreamState | None = None, window: int = 1) -> Tensor:
        """Video in roughly [-1, 1] from normalised latents; continue a stream by passing its state.

        A fresh stream yields 1 + 4(n-1) frames for n latents, a continued one 4n.
        """
        state = StreamState() if state is None else state
        z = latent * self.latent_std.to(latent.dtype) + self.latent_mean.to(latent.dtype)
        x = self.conv2(z)
        out = [self.decoder(x[:, :, i:i + window], state) for i in range(0, x.shape[2], window)]
        state.calls += 1
        return torch.cat(out, dim=2)

    def _pieces(self, video: Tensor, state: StreamState, window: int) -> Iterator[Tensor]:
        t = video.shape[2]
        fresh = state.calls == 0
        start = 0
        if fresh:
            if (t - 1) % self.temporal_compression:
                raise ValueError(f"a fresh stream needs 1 + {self.temporal_compression}k frames, got {t}")
            yield video[:, :, :1]
            start = 1
        elif t % self.temporal_compression:
            raise ValueError(f"a continued stream needs a multiple of {self.temporal_compression} frames, got {t}")
        step = max(self.temporal_compression, window - window % self.temporal_compression)
        for i in range(start, t, step):
            yield video[:, :, i:i + step]
