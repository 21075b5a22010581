"""The block-diffusion family's own config: a spec carries it as `ModelSpec.config`.

Tokenizer: a per-frame convolutional autoencoder, one stride-2 level per entry of `channels`
(two levels = spatial downsampling 4, so that a 3-px object still covers a latent cell at
96 x 96). Dynamics: a transformer over `patch` x `patch` patches of the latent grid that
denoises one chunk of `chunk_size` frames (`ModelSpec.chunk_size`) at a time, attending to the
start frame and the last `context_chunks` chunks through a KV cache. The number of denoising
steps is the spec's `num_steps` (1-4 is what this family is meant for: it predicts x0).

Two inductive biases, neither about a scene (`dynamics.py` says how): `reference` (predict what
changes from the last clean frame, as video models that concatenate the previous frame do, so an
untrained model already copies the scene) and `action_at_token` (an action joined with each
token's position, so "the action points here" is one small MLP away, as CoordConv does for
convolutions).
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
    patch: int = 4  # patch size on the latent grid: one token per patch x patch latent cells (16 px at stride 4)
    width: int = 128
    depth: int = 4
    heads: int = 4
    mlp_ratio: int = 4
    context_chunks: int = 1  # earlier chunks kept in the KV cache (the start frame is always kept)
    action_embed: int = 64  # hidden size of the per-frame action embedding
    rope_base: float = 10000.0  # temporal rotary embedding of a frame's slot in the attention window
    reference: bool = True  # each token also sees the last clean frame's latents there; x0 = that frame + a change
    action_at_token: bool = True  # each token gets an embedding of (its frame's action, its grid position)

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
