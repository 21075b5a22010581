"""Registration of the rectified-flow family: its spec rules and how its pipeline is loaded."""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Any

import torch

from dream_engine_ros.engine.family import FAMILIES, FamilyPipeline
from dream_engine_ros.engine.spec import DitConfig, ModelSpec, VaeConfig

NAME = "rectified-flow"


class RectifiedFlowFamily:
    """VAE latents denoised chunk by chunk by an action-conditioned DiT (DreamDojo's layout)."""

    name = NAME
    reads_history = False
    has_guidance = True

    def spec_problems(self, spec: ModelSpec) -> list[str]:
        if spec.frame_model is not None or spec.config is not None:
            return [f"frame_model and config are not read by family {spec.family!r}"]
        if spec.tokenizer is None or spec.backbone is None:
            return [f"family {spec.family!r} needs a tokenizer (VaeConfig) and a backbone (DitConfig)"]
        return _latent_problems(spec, spec.tokenizer, spec.backbone)

    def config_from_dict(self, data: Mapping[str, Any] | None) -> object | None:
        return None  # everything this family needs is in ModelSpec's own fields

    def load(self, spec: ModelSpec, weights_dir: str | Path | None, device: torch.device,
             dtype: torch.dtype) -> FamilyPipeline:
        from dream_engine_ros.engine.families.rectified_flow.loading import build_model
        from dream_engine_ros.engine.families.rectified_flow.pipeline import LatentPipeline

        return LatentPipeline(spec, build_model(spec, weights_dir, device, dtype), device, dtype)


def _latent_problems(spec: ModelSpec, vae: VaeConfig, dit: DitConfig) -> list[str]:
    problems: list[str] = []
    for label, value in (("height", spec.height), ("width", spec.width)):
        step = vae.spatial_compression * dit.patch_spatial
        if value <= 0 or value % step:
            problems.append(f"{label} {value} is not a positive multiple of {step}")
    if spec.chunk_size <= 0 or spec.chunk_size % vae.temporal_compression:
        problems.append(
            f"chunk_size {spec.chunk_size} is not a positive multiple of the VAE's temporal "
            f"compression {vae.temporal_compression}"
        )
    if dit.actions_per_latent != vae.temporal_compression:
        problems.append(
            f"backbone.actions_per_latent {dit.actions_per_latent} != temporal compression "
            f"{vae.temporal_compression}"
        )
    if dit.action_dim != spec.action_dim:
        problems.append(f"backbone.action_dim {dit.action_dim} != action_dim {spec.action_dim}")
    if dit.in_channels != vae.z_dim or dit.out_channels != vae.z_dim:
        problems.append(f"backbone channels {dit.in_channels}/{dit.out_channels} != z_dim {vae.z_dim}")
    if dit.model_channels % dit.num_heads:
        problems.append(f"model_channels {dit.model_channels} not divisible by num_heads {dit.num_heads}")
    if len(vae.latent_mean) != vae.z_dim or len(vae.latent_std) != vae.z_dim:
        problems.append(f"latent_mean/latent_std must have z_dim={vae.z_dim} values")
    if spec.residual not in ("none", "still"):
        problems.append(f"residual {spec.residual!r} is not 'none' or 'still'")
    if spec.residual == "still" and spec.threading != "pixel":
        problems.append("residual 'still' needs threading 'pixel': the still reference is encoded from the "
                        "condition frame's pixels")
    if spec.residual == "still" and not 0 <= spec.change_floor < spec.change_full:
        problems.append(f"residual 'still' needs 0 <= change_floor < change_full, got {spec.change_floor} and "
                        f"{spec.change_full}")
    if spec.residual != "still" and (spec.change_floor or spec.change_full):
        problems.append("change_floor/change_full are used by residual 'still' (and change_floor by "
                        "causal-video) only")
    if spec.uncond == "negative-prompt" and not dit.use_cross_attn:
        problems.append("uncond 'negative-prompt' needs a backbone with cross-attention")
    return problems


def register() -> None:
    FAMILIES.register(NAME, RectifiedFlowFamily())
