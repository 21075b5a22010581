"""Action-conditioned diffusion transformer in the Cosmos-Predict2.5 / DreamDojo layout.

Latents are cut into 1x2x2 patches, tokens attend to each other with 3-D RoPE, each block is
modulated (adaLN with a shared low-rank term) by a per-latent-frame vector that carries the
timestep and the actions of that latent frame. The same classes serve the tiny CPU model and
the 2B / 14B GR-1 models; only `DitConfig` changes. Module names follow the released
checkpoints (`net.` prefix stripped) so they load without renaming.
"""

from __future__ import annotations

import math
from collections.abc import Callable

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from dream_engine_ros.engine.spec import DitConfig

NORM_EPS = 1e-6


class RMSNorm(nn.Module):
    """x * rsqrt(mean(x^2) + eps) * weight, computed in fp32."""

    def __init__(self, dim: int, eps: float = NORM_EPS) -> None:
        super().__init__()
        self.eps = eps
        self.weight = nn.Parameter(torch.ones(dim))

    def forward(self, x: Tensor) -> Tensor:
        xf = x.float()
        out = xf * torch.rsqrt(xf.pow(2).mean(-1, keepdim=True) + self.eps) * self.weight.float()
        return out.to(x.dtype)


class PerSampleLinear(nn.Linear):
    """Linear whose result for one sample does not depend on the batch it travels in.

    The conditioning path multiplies only a few rows per sample (one timestep, three action
    groups, four latent frames). BLAS picks different kernels for different row counts, so a
    plain linear over K*rows gives results that differ in the last bits from K separate calls.
    A batched matmul runs the same per-sample kernel whatever K is, which is what makes
    `predict_batch` bit-identical to K single predictions. Same parameters as nn.Linear.
    """

    def forward(self, x: Tensor) -> Tensor:
        if x.ndim != 3:
            return super().forward(x)
        out = torch.bmm(x, self.weight.t().expand(x.shape[0], -1, -1))
        return out + self.bias if self.bias is not None else out


class Patchify(nn.Module):
    """[B, C, T, H, W] -> [B, T', H', W', C*pt*ph*pw], channel slowest within a patch."""

    def __init__(self, pt: int, ph: int, pw: int) -> None:
        super().__init__()
        self.pt, self.ph, self.pw = pt, ph, pw

    def forward(self, x: Tensor) -> Tensor:
        b, c, t, h, w = x.shape
        x = x.reshape(b, c, t // self.pt, self.pt, h // self.ph, self.ph, w // self.pw, self.pw)
        return x.permute(0, 2, 4, 6, 1, 3, 5, 7).reshape(b, t // self.pt, h // self.ph, w // self.pw, -1)


class PatchEmbed(nn.Module):
    def __init__(self, cfg: DitConfig, in_channels: int) -> None:
        super().__init__()
        features = in_channels * cfg.patch_temporal * cfg.patch_spatial**2
        self.proj = nn.Sequential(
            Patchify(cfg.patch_temporal, cfg.patch_spatial, cfg.patch_spatial),
            nn.Linear(features, cfg.model_channels, bias=False),
        )

    def forward(self, x: Tensor) -> Tensor:
        out: Tensor = self.proj(x)
        return out


class Timesteps(nn.Module):
    """Sinusoidal embedding laid out [cos | sin]."""

    def __init__(self, dim: int) -> None:
        super().__init__()
        self.dim = dim

    def forward(self, t: Tensor) -> Tensor:
        half = self.dim // 2
        freqs = torch.exp(-math.log(10000.0) * torch.arange(half, dtype=torch.float32, device=t.device) / half)
        angles = t.float().unsqueeze(-1) * freqs
        return torch.cat([torch.cos(angles), torch.sin(angles)], dim=-1)


class TimestepEmbedding(nn.Module):
    """Two bias-free linears; the second's output (3D wide) is the shared adaLN-LoRA term."""

    def __init__(self, dim: int) -> None:
        super().__init__()
        self.linear_1 = PerSampleLinear(dim, dim, bias=False)
        self.activation = nn.SiLU()
        self.linear_2 = PerSampleLinear(dim, 3 * dim, bias=False)

    def forward(self, sinusoid: Tensor) -> Tensor:
        out: Tensor = self.linear_2(self.activation(self.linear_1(sinusoid)))
        return out


class ActionMlp(nn.Module):
    def __init__(self, in_features: int, hidden: int, out_features: int) -> None:
        super().__init__()
        self.fc1 = PerSampleLinear(in_features, hidden)
        self.act = nn.GELU(approximate="tanh")
        self.fc2 = PerSampleLinear(hidden, out_features)

    def forward(self, x: Tensor) -> Tensor:
        out: Tensor = self.fc2(self.act(self.fc1(x)))
        return out


class VideoRope3d(nn.Module):
    """3-D rotary angles for a (T, H, W) token grid; NTK-scaled per axis, integer positions."""

    seq: Tensor  # buffers, registered in __init__
    dim_spatial_range: Tensor
    dim_temporal_range: Tensor

    def __init__(self, cfg: DitConfig) -> None:
        super().__init__()
        head_dim = cfg.head_dim
        self.dim_h = self.dim_w = (head_dim // 6) * 2
        self.dim_t = head_dim - 2 * self.dim_h
        self.ratios = (cfg.rope_t_ratio, cfg.rope_h_ratio, cfg.rope_w_ratio)
        self.register_buffer("seq", torch.arange(cfg.rope_max_len, dtype=torch.float32))
        self.register_buffer("dim_spatial_range", torch.arange(0, self.dim_h, 2).float() / self.dim_h)
        self.register_buffer("dim_temporal_range", torch.arange(0, self.dim_t, 2).float() / self.dim_t)

    def _freqs(self, ratio: float, dim: int, exponents: Tensor) -> Tensor:
        theta = 10000.0 * ratio ** (dim / (dim - 2))
        freqs: Tensor = 1.0 / theta ** exponents
        return freqs

    def forward(self, t: int, h: int, w: int) -> Tensor:
        """Angles [T*H*W, head_dim] in (t, h, w) token order."""
        if max(t, h, w) > self.seq.numel():
            raise ValueError(f"token grid {t}x{h}x{w} exceeds rope_max_len {self.seq.numel()}")
        ft = torch.outer(self.seq[:t], self._freqs(self.ratios[0], self.dim_t, self.dim_temporal_range))
        fh = torch.outer(self.seq[:h], self._freqs(self.ratios[1], self.dim_h, self.dim_spatial_range))
        fw = torch.outer(self.seq[:w], self._freqs(self.ratios[2], self.dim_w, self.dim_spatial_range))
        grid = torch.cat(
            [
                ft[:, None, None, :].expand(t, h, w, -1),
                fh[None, :, None, :].expand(t, h, w, -1),
                fw[None, None, :, :].expand(t, h, w, -1),
            ],
            dim=-1,
        ).reshape(t * h * w, -1)
        return torch.cat([grid, grid], dim=-1)


def apply_rope(x: Tensor, cos: Tensor, sin: Tensor) -> Tensor:
    """x [B, L, H, D]; rotate-half (not interleaved) layout."""
    a, b = x.chunk(2, dim=-1)
    return x * cos + torch.cat([-b, a], dim=-1) * sin


class Attention(nn.Module):
    """Multi-head attention with per-head RMSNorm on q and k (self or cross)."""

    def __init__(self, dim: int, context_dim: int, heads: int) -> None:
        super().__init__()
        self.heads = heads
        self.head_dim = dim // heads
        self.q_proj = nn.Linear(dim, dim, bias=False)
        self.k_proj = nn.Linear(context_dim, dim, bias=False)
        self.v_proj = nn.Linear(context_dim, dim, bias=False)
        self.q_norm = RMSNorm(self.head_dim)
        self.k_norm = RMSNorm(self.head_dim)
        self.output_proj = nn.Linear(dim, dim, bias=False)

    def forward(self, x: Tensor, context: Tensor | None = None, rope: tuple[Tensor, Tensor] | None = None) -> Tensor:
        context = x if context is None else context
        b, length, _ = x.shape
        q = self.q_norm(self.q_proj(x).view(b, length, self.heads, self.head_dim))
        k = self.k_norm(self.k_proj(context).view(b, context.shape[1], self.heads, self.head_dim))
        v = self.v_proj(context).view(b, context.shape[1], self.heads, self.head_dim)
        if rope is not None:
            cos, sin = rope
            q, k = apply_rope(q, cos, sin), apply_rope(k, cos, sin)
        out = F.scaled_dot_product_attention(q.transpose(1, 2), k.transpose(1, 2), v.transpose(1, 2))
        projected: Tensor = self.output_proj(out.transpose(1, 2).reshape(b, length, -1))
        return projected


class FeedForward(nn.Module):
    def __init__(self, dim: int, hidden: int) -> None:
        super().__init__()
        self.layer1 = nn.Linear(dim, hidden, bias=False)
        self.activation = nn.GELU()
        self.layer2 = nn.Linear(hidden, dim, bias=False)

    def forward(self, x: Tensor) -> Tensor:
        out: Tensor = self.layer2(self.activation(self.layer1(x)))
        return out


def _modulation(dim: int, rank: int, chunks: int) -> nn.Sequential:
    return nn.Sequential(nn.SiLU(), PerSampleLinear(dim, rank, bias=False),
                         PerSampleLinear(rank, chunks * dim, bias=False))


def _modulate(x: Tensor, shift: Tensor, scale: Tensor) -> Tensor:
    """x [B, T, S, D] (S = tokens of one latent frame); shift/scale [B, T, D]."""
    return x * (1 + scale.unsqueeze(2)) + shift.unsqueeze(2)


class Block(nn.Module):
    """Self-attention, cross-attention (optional), MLP; each adaLN-modulated and gated."""

    def __init__(self, cfg: DitConfig) -> None:
        super().__init__()
        dim, rank = cfg.model_channels, cfg.adaln_lora_dim
        self.layer_norm_self_attn = nn.LayerNorm(dim, elementwise_affine=False, eps=NORM_EPS)
        self.self_attn = Attention(dim, dim, cfg.num_heads)
        self.adaln_modulation_self_attn = _modulation(dim, rank, 3)
        self.use_cross_attn = cfg.use_cross_attn
        if cfg.use_cross_attn:
            self.layer_norm_cross_attn = nn.LayerNorm(dim, elementwise_affine=False, eps=NORM_EPS)
            self.cross_attn = Attention(dim, cfg.crossattn_emb_channels, cfg.num_heads)
            self.adaln_modulation_cross_attn = _modulation(dim, rank, 3)
        self.layer_norm_mlp = nn.LayerNorm(dim, elementwise_affine=False, eps=NORM_EPS)
        self.mlp = FeedForward(dim, int(dim * cfg.mlp_ratio))
        self.adaln_modulation_mlp = _modulation(dim, rank, 3)

    def _branch(self, x: Tensor, emb: Tensor, lora: Tensor, norm: nn.Module, mod: nn.Module,
                fn: Callable[[Tensor], Tensor]) -> Tensor:
        b, t, s, d = x.shape
        modulation: Tensor = mod(emb) + lora
        shift, scale, gate = modulation.float().chunk(3, dim=-1)
        normed: Tensor = norm(x)
        h = _modulate(normed.float(), shift, scale).to(x.dtype)
        out = fn(h.reshape(b, t * s, d)).reshape(b, t, s, d)
        return x + (gate.unsqueeze(2) * out.float()).to(x.dtype)

    def forward(self, x: Tensor, emb: Tensor, lora: Tensor, rope: tuple[Tensor, Tensor],
                context: Tensor | None) -> Tensor:
        x = self._branch(x, emb, lora, self.layer_norm_self_attn, self.adaln_modulation_self_attn,
                         lambda h: self.self_attn(h, rope=rope))
        if self.use_cross_attn:
            x = self._branch(x, emb, lora, self.layer_norm_cross_attn, self.adaln_modulation_cross_attn,
                             lambda h: self.cross_attn(h, context=context))
        return self._branch(x, emb, lora, self.layer_norm_mlp, self.adaln_modulation_mlp, self.mlp)


class FinalLayer(nn.Module):
    def __init__(self, cfg: DitConfig) -> None:
        super().__init__()
        dim = cfg.model_channels
        self.layer_norm = nn.LayerNorm(dim, elementwise_affine=False, eps=NORM_EPS)
        self.linear = nn.Linear(dim, cfg.patch_spatial**2 * cfg.patch_temporal * cfg.out_channels, bias=False)
        self.adaln_modulation = _modulation(dim, cfg.adaln_lora_dim, 2)

    def forward(self, x: Tensor, emb: Tensor, lora: Tensor) -> Tensor:
        dim = x.shape[-1]
        shift, scale = (self.adaln_modulation(emb) + lora[..., : 2 * dim]).float().chunk(2, dim=-1)
        b, t, s, d = x.shape
        h = _modulate(self.layer_norm(x).float(), shift, scale).to(x.dtype)
        out: Tensor = self.linear(h)
        return out


class ActionDiT(nn.Module):
    """Velocity predictor v(x_t, t | actions, condition frame, context)."""

    def __init__(self, cfg: DitConfig) -> None:
        super().__init__()
        self.cfg = cfg
        dim = cfg.model_channels
        extra = 1 + (1 if cfg.concat_padding_mask else 0)
        self.x_embedder = PatchEmbed(cfg, cfg.in_channels + extra)
        self.pos_embedder = VideoRope3d(cfg)
        self.t_embedder = nn.Sequential(Timesteps(dim), TimestepEmbedding(dim))
        self.t_embedding_norm = RMSNorm(dim)
        action_features = cfg.action_dim * cfg.actions_per_latent
        self.action_embedder_B_D = ActionMlp(action_features, 4 * dim, dim)
        self.action_embedder_B_3D = ActionMlp(action_features, 4 * dim, 3 * dim)
        if cfg.use_cross_attn:
            self.crossattn_proj = nn.Sequential(
                nn.Linear(cfg.crossattn_in_channels, cfg.crossattn_emb_channels), nn.GELU()
            )
        self.blocks = nn.ModuleList(Block(cfg) for _ in range(cfg.num_blocks))
        self.final_layer = FinalLayer(cfg)

    def embed_actions(self, actions: Tensor | None, batch: int, latent_frames: int,
                      dtype: torch.dtype) -> tuple[Tensor, Tensor]:
        """Per-latent-frame action terms [B, T, D] and [B, T, 3D]; frame 0 (condition) gets zeros.

        `actions` [B, (T-1)*actions_per_latent, action_dim]; None means "no action" (the
        unconditional branch of a null-action spec) and gives zeros everywhere.
        """
        dim = self.cfg.model_channels
        if actions is None:
            zeros = torch.zeros(batch, latent_frames, dim, dtype=dtype, device=self.t_embedding_norm.weight.device)
            return zeros, zeros.repeat(1, 1, 3)
        grouped = actions.reshape(batch, latent_frames - 1, -1).to(dtype)
        emb_d, emb_3d = self.action_embedder_B_D(grouped), self.action_embedder_B_3D(grouped)
        return F.pad(emb_d, (0, 0, 1, 0)), F.pad(emb_3d, (0, 0, 1, 0))

    def forward(
        self,
        x: Tensor,
        timesteps: Tensor,
        condition_mask: Tensor,
        actions: Tensor | None,
        context: Tensor | None = None,
        padding_mask: Tensor | None = None,
        drop_actions: Tensor | None = None,
    ) -> Tensor:
        """x [B, C, T, H, W] (frame 0 already the clean condition latent), timesteps [B] or [B, 1]
        in the 0..1000 scale, condition_mask [B, 1, T, H, W] -> velocity [B, C, T, H, W].

        `drop_actions` (bool [B]) zeroes the action terms of those samples: the same signal the
        unconditional branch of a null-action spec gets (used to train guidance)."""
        cfg = self.cfg
        b, _, t, h, w = x.shape
        inputs = [x, condition_mask.to(x.dtype)]
        if cfg.concat_padding_mask:
            if padding_mask is None:
                pad = x.new_zeros(b, 1, h, w)
            else:
                pad = F.interpolate(padding_mask.to(x.dtype), size=(h, w), mode="nearest")
            inputs.append(pad.unsqueeze(2).expand(b, 1, t, h, w))
        tokens = self.x_embedder(torch.cat(inputs, dim=1))  # [B, T', H', W', D]
        _, tp, hp, wp, dim = tokens.shape

        angles = self.pos_embedder(tp, hp, wp).to(x.device)
        rope = (angles.cos()[None, :, None, :].to(x.dtype), angles.sin()[None, :, None, :].to(x.dtype))

        steps = timesteps.reshape(b, -1).float() * cfg.timestep_scale  # [B, 1] or [B, T]
        sinusoid = self.t_embedder[0](steps)  # [B, 1|T, D]
        lora = self.t_embedder[1](sinusoid.to(x.dtype))
        act_d, act_3d = self.embed_actions(actions, b, tp, x.dtype)
        if drop_actions is not None:
            keep = (~drop_actions).to(x.dtype).view(b, 1, 1)
            act_d, act_3d = act_d * keep, act_3d * keep
        emb = self.t_embedding_norm(sinusoid.to(x.dtype) + act_d)  # [B, T, D]
        lora = lora + act_3d

        ctx = self.crossattn_proj(context.to(x.dtype)) if cfg.use_cross_attn and context is not None else None
        if cfg.use_cross_attn and ctx is None:
            raise ValueError("this backbone cross-attends: a context embedding is required")

        hidden = tokens.reshape(b, tp, hp * wp, dim)
        for block in self.blocks:
            hidden = block(hidden, emb, lora, rope, ctx)
        out = self.final_layer(hidden, emb, lora)  # [B, T', S, p*p*pt*C]
        return self._unpatchify(out, tp, hp, wp)

    def _unpatchify(self, out: Tensor, tp: int, hp: int, wp: int) -> Tensor:
        cfg = self.cfg
        b = out.shape[0]
        p, pt, c = cfg.patch_spatial, cfg.patch_temporal, cfg.out_channels
        out = out.reshape(b, tp, hp, wp, p, p, pt, c)
        return out.permute(0, 7, 1, 6, 2, 4, 3, 5).reshape(b, c, tp * pt, hp * p, wp * p)
