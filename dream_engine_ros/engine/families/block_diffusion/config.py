"""The block-diffusion family's own config: a spec carries it as `ModelSpec.config`.

Tokenizer: a per-frame convolutional autoencoder, one stride-2 level per entry of `channels`
(two levels = spatial downsampling 4, so that a 3-px object still covers a latent cell at
96 x 96). Dynamics: a transformer over `patch` x `patch` patches of the latent grid that
denoises one chunk of `chunk_size` frames (`ModelSpec.chunk_size`) at a time, attending to the
start frame and the last `context_chunks` chunks through a KV cache. The number of denoising
steps is the spec's `num_steps` (1-4 is what this family is meant for: it predicts x0).
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class BlockDiffusionConfig:
    action_dim: int
    # tokenizer
    channels: tuple[int, ...] = (32, 64)  # conv width per level; each level halves the resolution
    latent_channels: int = 8
    # dynamics
    patch: int = 2  # patch size on the latent grid: one token per patch x patch latent cells
    width: int = 128
    depth: int = 4
    heads: int = 4
    mlp_ratio: int = 4
    context_chunks: int = 1  # earlier chunks kept in the KV cache (the start frame is always kept)
    action_embed: int = 64  # hidden size of the per-frame action embedding
    rope_base: float = 10000.0  # temporal rotary embedding of a frame's slot in the attention window

    @property
    def stride(self) -> int:
        """Pixels per latent cell along each axis (the tokenizer's downsampling)."""
        return 1 << len(self.channels)

    @property
    def step(self) -> int:
        """Pixels per token along each axis: height and width must be multiples of it."""
        return self.stride * self.patch

    @property
    def head_dim(self) -> int:
        return self.width // self.heads
