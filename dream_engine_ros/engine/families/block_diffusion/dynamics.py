"""The block-diffusion dynamics: a transformer that denoises one chunk of latent frames at a time.

Tokens: each latent frame (z, h, w) is cut into (h / patch) x (w / patch) patches, one token
each, with a fixed 2-D sine-cosine position added. Per frame, a conditioning vector (the flow
time of the frame plus its action's embedding; the start frame has a learned embedding instead
of an action) modulates every block (adaLN-zero, as in DiT), so frame k of a chunk is told the
action that led to it.

Attention: the chunk's tokens attend to each other (all frames of the chunk at once) and to the
keys and values of the conditioning frames, held in a `KVCache`: the start frame's (always) and
the last `context_chunks` chunks' (clean, i.e. computed at flow time 0 once a chunk is done).
Time enters attention only as a rotary embedding of each frame's slot in that window (start
frame 0, cached frames 1..n, the chunk's frames n + 1 ...), applied when attending: the cache
holds keys without rotation, so a chunk keeps its cached keys while its slot shifts as the
window slides, and a rollout of any length sees positions the model was trained on.

Output: the clean latents (x0 prediction), so one step already gives the conditional mean; more
steps walk the rectified-flow path x_t = (1 - t) x0 + t noise from t ~ 1 to 0 (`denoise`).

With `config.reference`, each token of a chunk also embeds the latents, at its own place, of the
last clean frame before the chunk (the cache keeps it: the start frame, then each committed
chunk's last frame), and the output is that frame plus a predicted change (the head starts at
zero, so an untrained model copies the scene and training learns only what moves). Attention
alone would have to learn to copy every static cell from the cache, which a small model on a
small budget does not. With `config.action_at_token`, each token also gets an embedding of its
frame's action joined with the token's grid position in [-1, 1]. The per-frame conditioning
(time, action) modulates the blocks once per frame and is broadcast over the frame's tokens.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass, field

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from dream_engine_ros.engine.errors import check_cancel
from dream_engine_ros.engine.families.block_diffusion.config import BlockDiffusionConfig

LayerKV = tuple[Tensor, Tensor]  # keys, values (B, heads, tokens, head_dim), keys without rotation


@dataclass
class KVCache:
    """Per layer, the keys and values of the conditioning frames: the start frame and the last
    `context_chunks` chunks. Rows of a batch are independent (one row per candidate)."""

    context_chunks: int
    anchor: list[LayerKV] | None = None  # the start frame's, per layer
    chunks: list[list[LayerKV]] = field(default_factory=list)  # oldest first, per layer
    chunk_frames: list[int] = field(default_factory=list)
    last: Tensor | None = None  # latents (1 or B, z, h, w) of the last clean frame: the next chunk's reference

    @property
    def cached_frames(self) -> int:
        return sum(self.chunk_frames)

    def append(self, entry: list[LayerKV], frames: int, last: Tensor) -> None:
        """Keep a finished chunk's keys and values (drop the oldest beyond `context_chunks`) and its
        last frame's latents (the next chunk's reference)."""
        self.last = last
        if self.context_chunks == 0:
            return
        self.chunks = (self.chunks + [entry])[-self.context_chunks:]
        self.chunk_frames = (self.chunk_frames + [frames])[-self.context_chunks:]

    def reference(self, rows: int) -> Tensor | None:
        """The last clean frame's latents broadcast to `rows` (None before the start frame)."""
        return None if self.last is None else self.last.expand(rows, -1, -1, -1)

    def window(self, layer: int, rows: int) -> LayerKV | None:
        """Cached keys and values of one layer in window order (start frame first), broadcast to `rows`."""
        if self.anchor is None:
            return None
        parts = [self.anchor[layer]] + [chunk[layer] for chunk in self.chunks]
        keys = torch.cat([k.expand(rows, -1, -1, -1) for k, _ in parts], dim=2)
        values = torch.cat([v.expand(rows, -1, -1, -1) for _, v in parts], dim=2)
        return keys, values


def timestep_embedding(t: Tensor, dim: int) -> Tensor:
    """Sinusoidal embedding of flow times in [0, 1] (scaled to [0, 1000]): (B,) -> (B, dim)."""
    half = dim // 2
    freqs = torch.exp(-math.log(10000.0) * torch.arange(half, device=t.device, dtype=torch.float32) / half)
    args = t.float()[:, None] * 1000.0 * freqs[None]
    return torch.cat([torch.cos(args), torch.sin(args)], dim=1)


def sincos_2d(rows: int, cols: int, dim: int) -> Tensor:
    """Fixed 2-D position embedding (rows * cols, dim): half the channels for each axis."""
    quarter = dim // 4
    freqs = torch.exp(-math.log(10000.0) * torch.arange(quarter, dtype=torch.float32) / max(quarter, 1))
    ys, xs = torch.meshgrid(torch.arange(rows, dtype=torch.float32), torch.arange(cols, dtype=torch.float32),
                            indexing="ij")
    parts = []
    for axis in (ys.reshape(-1), xs.reshape(-1)):
        args = axis[:, None] * freqs[None]
        parts += [torch.sin(args), torch.cos(args)]
    emb = torch.cat(parts, dim=1)
    return F.pad(emb, (0, dim - emb.shape[1]))


def rotate(x: Tensor, positions: Tensor, base: float) -> Tensor:
    """Rotary embedding over the last dim of x (B, heads, L, d) at float positions (L,)."""
    half = x.shape[-1] // 2
    freqs = base ** (-torch.arange(half, device=x.device, dtype=torch.float32) / half)
    angles = positions.float()[:, None] * freqs[None]  # (L, half)
    cos, sin = angles.cos().to(x.dtype), angles.sin().to(x.dtype)
    x1, x2 = x[..., :half], x[..., half:2 * half]
    rotated = torch.cat([x1 * cos - x2 * sin, x1 * sin + x2 * cos], dim=-1)
    return torch.cat([rotated, x[..., 2 * half:]], dim=-1)


class Block(nn.Module):
    """adaLN-zero transformer block whose attention also reads the cached keys and values."""

    def __init__(self, config: BlockDiffusionConfig) -> None:
        super().__init__()
        w = config.width
        self.heads = config.heads
        self.rope_base = config.rope_base
        self.norm1 = nn.LayerNorm(w, elementwise_affine=False, eps=1e-6)
        self.qkv = nn.Linear(w, 3 * w)
        self.proj = nn.Linear(w, w)
        self.norm2 = nn.LayerNorm(w, elementwise_affine=False, eps=1e-6)
        self.mlp = nn.Sequential(nn.Linear(w, config.mlp_ratio * w), nn.GELU(approximate="tanh"),
                                 nn.Linear(config.mlp_ratio * w, w))
        self.modulation = nn.Linear(w, 6 * w)
        nn.init.zeros_(self.modulation.weight)
        nn.init.zeros_(self.modulation.bias)

    def forward(self, x: Tensor, cond: Tensor, per_frame: int, cached: LayerKV | None, q_pos: Tensor,
                k_pos: Tensor) -> tuple[Tensor, LayerKV]:
        """x (B, F * per_frame, W), cond (B, F, W) per frame -> (x, this block's keys and values of x)."""
        b, n, w = x.shape
        modulation = self.modulation(F.silu(cond)).repeat_interleave(per_frame, dim=1)  # once per frame
        shift1, scale1, gate1, shift2, scale2, gate2 = modulation.chunk(6, dim=-1)
        h = self.norm1(x) * (1.0 + scale1) + shift1
        q, k, v = self.qkv(h).view(b, n, 3, self.heads, w // self.heads).permute(2, 0, 3, 1, 4).unbind(0)
        keys, values = (k, v)
        if cached is not None:
            keys, values = torch.cat([cached[0], k], dim=2), torch.cat([cached[1], v], dim=2)
        attended = F.scaled_dot_product_attention(rotate(q, q_pos, self.rope_base), rotate(keys, k_pos, self.rope_base),
                                                  values)
        x = x + gate1 * self.proj(attended.transpose(1, 2).reshape(b, n, w))
        x = x + gate2 * self.mlp(self.norm2(x) * (1.0 + scale2) + shift2)
        return x, (k, v)


class ChunkDenoiser(nn.Module):
    """x0-predicting transformer over one chunk of latent frames; see the module docstring."""

    def __init__(self, config: BlockDiffusionConfig) -> None:
        super().__init__()
        self.config = config
        w, cell = config.width, config.latent_channels * config.patch * config.patch
        self.embed = nn.Linear(cell, w)
        self.time = nn.Sequential(nn.Linear(w, w), nn.SiLU(), nn.Linear(w, w))
        self.action = nn.Sequential(nn.Linear(config.action_dim, config.action_embed), nn.SiLU(),
                                    nn.Linear(config.action_embed, w))
        self.start_embed = nn.Parameter(torch.zeros(w))  # stands in for the action of the start frame
        self.reference_embed = nn.Linear(cell, w) if config.reference else None
        self.action_at_token = nn.Sequential(nn.Linear(config.action_dim + 2, config.action_embed), nn.SiLU(),
                                             nn.Linear(config.action_embed, w)) if config.action_at_token else None
        self.blocks = nn.ModuleList(Block(config) for _ in range(config.depth))
        self.norm = nn.LayerNorm(w, elementwise_affine=False, eps=1e-6)
        self.final_modulation = nn.Linear(w, 2 * w)
        self.head = nn.Linear(w, cell)
        for layer in (self.final_modulation, self.head):
            nn.init.zeros_(layer.weight)
            nn.init.zeros_(layer.bias)

    # ------------------------------------------------------------------ tokens

    def patchify(self, latents: Tensor) -> Tensor:
        """(B, F, z, h, w) -> (B, F * tokens, z * p * p)."""
        b, f, z, h, w = latents.shape
        p = self.config.patch
        grid = latents.reshape(b, f, z, h // p, p, w // p, p).permute(0, 1, 3, 5, 2, 4, 6)
        return grid.reshape(b, f * (h // p) * (w // p), z * p * p)

    def unpatchify(self, tokens: Tensor, frames: int, h: int, w: int) -> Tensor:
        """(B, F * tokens, z * p * p) -> (B, F, z, h, w)."""
        b, p, z = tokens.shape[0], self.config.patch, self.config.latent_channels
        grid = tokens.reshape(b, frames, h // p, w // p, z, p, p).permute(0, 1, 4, 2, 5, 3, 6)
        return grid.reshape(b, frames, z, h, w)

    # ------------------------------------------------------------------ forward

    def forward(self, x: Tensor, t: Tensor, actions: Tensor | None, cache: KVCache) -> tuple[Tensor, list[LayerKV]]:
        """x (B, F, z, h, w) latents at flow time t (B,) (0 = clean), actions (B, F, D) normalised
        (None: x is the start frame, F = 1, and the cache is empty) -> (x0 prediction (B, F, z, h, w),
        per layer the keys and values of x's tokens, for the cache once x is clean)."""
        b, frames, _, h, w = x.shape
        rows, cols = h // self.config.patch, w // self.config.patch
        per_frame = rows * cols
        tokens = self.embed(self.patchify(x))
        tokens = tokens + sincos_2d(rows, cols, self.config.width).to(tokens).repeat(frames, 1)[None]
        reference = self.reference_of(x, actions, cache)
        if self.reference_embed is not None and reference is not None:
            tokens = tokens + self.reference_embed(self.patchify(reference[:, None])).repeat(1, frames, 1)
        cond = self.time(timestep_embedding(t, self.config.width).to(tokens))[:, None]  # (B, 1, W)
        if actions is None:
            cond = cond + self.start_embed.to(tokens)
        else:
            cond = cond + self.action(actions.to(tokens))  # (B, F, W)
            if self.action_at_token is not None:
                tokens = tokens + self.action_at_token(self.with_positions(actions.to(tokens), rows, cols))
        cond = cond.expand(b, frames, -1)
        cached_frames = cache.cached_frames if cache.anchor is not None else -1
        frame_slots = torch.arange(frames, device=x.device) + (cached_frames + 1)  # start frame: slot 0
        q_pos = frame_slots.repeat_interleave(per_frame)
        k_pos = torch.cat([torch.arange(cached_frames + 1, device=x.device).repeat_interleave(per_frame), q_pos]) \
            if cache.anchor is not None else q_pos
        entries: list[LayerKV] = []
        for i, block in enumerate(self.blocks):
            tokens, kv = block(tokens, cond, per_frame, cache.window(i, b), q_pos, k_pos)
            entries.append(kv)
        shift, scale = self.final_modulation(F.silu(cond)).repeat_interleave(per_frame, dim=1).chunk(2, dim=-1)
        out = self.unpatchify(self.head(self.norm(tokens) * (1.0 + scale) + shift), frames, h, w)
        if self.config.reference and reference is not None:
            out = out + reference[:, None].to(out)
        return out, entries

    def reference_of(self, x: Tensor, actions: Tensor | None, cache: KVCache) -> Tensor | None:
        """The frame a chunk predicts its change from: the cache's last clean frame; the start frame
        (actions None) is its own."""
        if not self.config.reference:
            return None
        return x[:, 0] if actions is None else cache.reference(x.shape[0])

    @staticmethod
    def with_positions(actions: Tensor, rows: int, cols: int) -> Tensor:
        """(B, F, D) -> (B, F * rows * cols, D + 2): each token's frame action and its (y, x) in [-1, 1]."""
        b, frames, d = actions.shape
        ys = torch.linspace(-1.0, 1.0, rows, device=actions.device, dtype=actions.dtype)
        xs = torch.linspace(-1.0, 1.0, cols, device=actions.device, dtype=actions.dtype)
        grid = torch.stack(torch.meshgrid(ys, xs, indexing="ij"), dim=-1).reshape(1, 1, rows * cols, 2)
        per_token = actions[:, :, None, :].expand(b, frames, rows * cols, d)
        return torch.cat([per_token, grid.expand(b, frames, -1, -1)], dim=-1).reshape(b, frames * rows * cols, d + 2)

    # ------------------------------------------------------------------ rollout pieces

    def begin(self, start: Tensor) -> KVCache:
        """A cache holding the start frame's keys and values: start latents (B, z, h, w)."""
        cache = KVCache(self.config.context_chunks)
        zero = torch.zeros(start.shape[0], device=start.device)
        _, cache.anchor = self(start[:, None], zero, None, cache)
        cache.last = start
        return cache

    def commit(self, cache: KVCache, clean: Tensor, actions: Tensor) -> None:
        """Add a finished chunk (clean latents (B, F, z, h, w), its actions (B, F, D)) to the cache."""
        zero = torch.zeros(clean.shape[0], device=clean.device)
        _, entry = self(clean, zero, actions, cache)
        cache.append(entry, clean.shape[1], clean[:, -1])

    def denoise(self, cache: KVCache, noise: Tensor, actions: Tensor, times: list[float],
                should_cancel: Callable[[], bool] | None) -> Tensor:
        """Clean latents of one chunk from its noise (B, F, z, h, w), float32, by x0-prediction steps
        along `times` (from ~1 down to 0: num_steps + 1 values); cancel is polled before each step."""
        x = noise
        x0 = torch.zeros_like(noise)
        dtype = self.embed.weight.dtype
        for i in range(len(times) - 1):
            check_cancel(should_cancel)
            t, t_next = times[i], times[i + 1]
            x0 = self(x.to(dtype), torch.full((x.shape[0],), t, device=x.device), actions, cache)[0].float()
            eps = (x - (1.0 - t) * x0) / t
            x = (1.0 - t_next) * x0 + t_next * eps
        return x0

    def loss(self, latents: Tensor, actions: Tensor, times: Tensor, noise: Tensor, context: Tensor | None = None,
             change_weight: float = 0.0) -> Tensor:
        """Teacher-forced training loss of a clip, exactly as a rollout conditions each chunk.

        latents (B, 1 + L * C, z, h, w): the clip's clean latents, the start frame first; actions
        (B, L * C, D) normalised; times (B, L) flow times in (0, 1]; noise (B, L * C, z, h, w).
        Each chunk is noised to its time, its x0 predicted over the cache of the earlier chunks,
        and the cache then takes that chunk: mean squared x0 error over all chunks.

        `context` (same shape as latents, None: the latents themselves) is what the cache and the
        reference are built from: a trainer passes a corrupted copy so that the model learns to
        continue from imperfect frames, as it must from its own predictions in a rollout.
        `change_weight` > 0 weighs the latent cells that changed from the chunk's reference
        `change_weight` times more (`change_weights`): the few cells that move carry the dynamics,
        and an unweighted mean lets the static majority, which the reference already copies, drown them."""
        chunk = (latents.shape[1] - 1) // times.shape[1]
        context = latents if context is None else context
        cache = self.begin(context[:, 0])
        errors = []
        for j in range(times.shape[1]):
            lo, hi = 1 + j * chunk, 1 + (j + 1) * chunk
            clean, acts = latents[:, lo:hi], actions[:, lo - 1:hi - 1]
            t = times[:, j]
            t5 = t[:, None, None, None, None]
            noisy = (1.0 - t5) * clean + t5 * noise[:, lo - 1:hi - 1]
            squared = (self(noisy, t, acts, cache)[0] - clean) ** 2
            if change_weight > 0:
                squared = squared * change_weights(clean, latents[:, lo - 1], change_weight)
            errors.append(squared.mean())
            if j + 1 < times.shape[1]:
                self.commit(cache, context[:, lo:hi], acts)
        return torch.stack(errors).mean()


def change_weights(clean: Tensor, reference: Tensor, strength: float, threshold: float = 0.03) -> Tensor:
    """Per-cell loss weights (B, F, 1, h, w) of a chunk: 1 + strength where the cell changed.

    A cell changed where its squared distance from the reference frame (B, z, h, w), averaged
    over channels, exceeds `threshold` (latents are normalised to unit scale, so the threshold
    means the same for any tokenizer). A bounded weight on purpose: weighting by the size of the
    change let the largest movers dominate and the static cells, unweighted, drift."""
    change = ((clean - reference[:, None]) ** 2).mean(dim=2, keepdim=True)
    return 1.0 + strength * (change > threshold).to(clean.dtype)
