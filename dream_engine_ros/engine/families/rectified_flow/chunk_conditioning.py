"""How a latent-family rollout carries one chunk into the next, chosen once per spec.

A rollout samples `chunk_size` actions at a time; every chunk's frame 0 is pinned to a
condition latent. The spec decides where that condition comes from and how the chunk's
latents become pixels:

- `StillResidual` (residual 'still'): the sampler denoises the change relative to the start
  frame held still; each chunk is rendered on its condition frame (`LatentPipeline.render_change`)
  and the next chunk is conditioned on its re-encoded last frame.
- `PixelThreading`: every chunk is its own decode stream, started from the sampler's frame-0
  estimate; the next chunk is conditioned on its re-encoded last frame.
- `LatentThreading`: one decode stream per candidate across the whole rollout; the next chunk
  is conditioned on the last latent of this one.

`conditioning_for` picks the strategy; `LatentPipeline.rollout` only calls it.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from typing import TYPE_CHECKING

import numpy as np
import torch
from torch import Tensor

from dream_engine_ros.engine.errors import check_cancel
from dream_engine_ros.engine.families.rectified_flow.wan_vae import StreamState
from dream_engine_ros.engine.pixels import unit_to_pixels

if TYPE_CHECKING:
    from dream_engine_ros.engine.families.rectified_flow.pipeline import LatentPipeline
    from dream_engine_ros.engine.results import CancelCheck


def decode_streams(engine: LatentPipeline, head: Tensor, new: Tensor, states: list[StreamState],
                   should_cancel: CancelCheck | None = None) -> np.ndarray:
    """Decode one chunk's new latents per candidate, each continuing its own causal stream.

    Candidates are decoded one by one: convolution kernels are not batch-invariant, and
    batching the decoder buys little on a CPU; this keeps every row of a batch bit-identical
    to a single prediction. A fresh stream starts from `head` (the condition latent, or with
    pixel threading the sampler's own frame-0 output, as the reference decodes it), whose
    decoded frame is dropped (frame 0 of a rollout is the start frame itself).
    """
    vae = engine.model.vae
    out = []
    for i, state in enumerate(states):
        check_cancel(should_cancel, "while decoding")
        if state.calls == 0:
            video = vae.decode(torch.cat([head[i:i + 1], new[i:i + 1]], dim=2).to(engine.dtype), state,
                               window=1 + new.shape[2])[:, :, 1:]
        else:
            video = vae.decode(new[i:i + 1].to(engine.dtype), state, window=new.shape[2])
        out.append(unit_to_pixels(video)[0].permute(1, 2, 3, 0).cpu().numpy())
    return np.stack(out)


class ChunkConditioning(ABC):
    """One rollout's chunk-to-chunk strategy for K candidates (holds that rollout's state)."""

    def __init__(self, engine: LatentPipeline, k: int) -> None:
        self.engine = engine
        self.k = k

    @abstractmethod
    def first_condition(self, start: np.ndarray) -> Tensor:
        """Chunk 0's condition latent (K, z, 1, h, w) float32 from the fitted start frame (H, W, 3)."""

    def latents(self, sampled: Tensor) -> Tensor:
        """The chunk's latents (K, z, 1 + n, h, w) from what the sampler returned."""
        return sampled

    @abstractmethod
    def decode(self, cond: Tensor, latents: Tensor, should_cancel: CancelCheck | None) -> np.ndarray:
        """The chunk's new frames (K, n, H, W, 3) uint8 (latent frame 0 is the condition)."""

    @abstractmethod
    def next_condition(self, pixels: np.ndarray, latents: Tensor, should_cancel: CancelCheck | None) -> Tensor:
        """The next chunk's condition latent from this chunk's frames and latents."""


class StillResidual(ChunkConditioning):
    """Residual 'still': the sampler predicts the change relative to the condition frame held
    still for the whole chunk, and the change is rendered on that frame's exact pixels."""

    def first_condition(self, start: np.ndarray) -> Tensor:
        self.frames = np.repeat(start[None], self.k, axis=0)  # each candidate's chunk condition frame
        self.still = self.engine.encode_still(start).expand(self.k, -1, -1, -1, -1).contiguous()
        return self.still[:, :, :1]

    def latents(self, sampled: Tensor) -> Tensor:
        return sampled + self.still

    def decode(self, cond: Tensor, latents: Tensor, should_cancel: CancelCheck | None) -> np.ndarray:
        return self.engine.render_change(self.frames, latents, self.still, should_cancel)

    def next_condition(self, pixels: np.ndarray, latents: Tensor, should_cancel: CancelCheck | None) -> Tensor:
        self.frames = pixels[:, -1].copy()
        encoded = []
        for i in range(self.k):
            check_cancel(should_cancel, "while encoding the next chunk's condition")
            encoded.append(self.engine.encode_still(self.frames[i]))
        self.still = torch.cat(encoded)
        return self.still[:, :, :1]


class PixelThreading(ChunkConditioning):
    """Each chunk is conditioned on its predecessor's re-encoded last frame and decoded as a
    fresh stream."""

    def first_condition(self, start: np.ndarray) -> Tensor:
        return self.engine.encode_first(start[None]).float().expand(self.k, -1, -1, -1, -1).contiguous()

    def decode(self, cond: Tensor, latents: Tensor, should_cancel: CancelCheck | None) -> np.ndarray:
        # every chunk is its own stream, started from a freshly encoded frame; the
        # reference decodes the sampler's whole output, whose frame 0 is the sampler's
        # x0 estimate (~1e-3 off the clean condition), and the decoder is causal, so
        # decoding from `cond` instead moves every frame of the chunk (fixture: 8.5e-3)
        states = [StreamState() for _ in range(self.k)]
        return decode_streams(self.engine, latents[:, :, :1], latents[:, :, 1:], states, should_cancel)

    def next_condition(self, pixels: np.ndarray, latents: Tensor, should_cancel: CancelCheck | None) -> Tensor:
        frames = pixels[:, -1].copy()
        encoded = []
        for i in range(self.k):
            check_cancel(should_cancel, "while encoding the next chunk's condition")
            encoded.append(self.engine.encode_first(frames[i:i + 1]).float())
        return torch.cat(encoded)


class LatentThreading(ChunkConditioning):
    """Each chunk is conditioned on its predecessor's last latent; the decoder's causal state
    carries over, so the streamed frames equal one decode of the whole latent sequence."""

    def __init__(self, engine: LatentPipeline, k: int) -> None:
        super().__init__(engine, k)
        self.states = [StreamState() for _ in range(k)]

    def first_condition(self, start: np.ndarray) -> Tensor:
        return self.engine.encode_first(start[None]).float().expand(self.k, -1, -1, -1, -1).contiguous()

    def decode(self, cond: Tensor, latents: Tensor, should_cancel: CancelCheck | None) -> np.ndarray:
        return decode_streams(self.engine, cond, latents[:, :, 1:], self.states, should_cancel)

    def next_condition(self, pixels: np.ndarray, latents: Tensor, should_cancel: CancelCheck | None) -> Tensor:
        return latents[:, :, -1:]


def conditioning_for(engine: LatentPipeline, k: int) -> ChunkConditioning:
    """The strategy of `engine.spec` for a rollout of K candidates (residual 'still' implies pixel
    threading; the spec checks that)."""
    spec = engine.spec
    if spec.residual == "still":
        return StillResidual(engine, k)
    if spec.threading == "pixel":
        return PixelThreading(engine, k)
    return LatentThreading(engine, k)
