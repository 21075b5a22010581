"""Registration of the block-diffusion family: its spec rules, its config and how its pipeline is loaded."""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Any

from dream_engine_ros.engine.families.block_diffusion.config import BlockDiffusionConfig
from dream_engine_ros.engine.family import FAMILIES, FamilyPipeline
from dream_engine_ros.engine.spec import ModelSpec

if TYPE_CHECKING:  # torch only when a model is loaded
    import torch

NAME = "block-diffusion"
WEIGHT_FILES = ("tokenizer", "dynamics")  # loading.py reads these components


class BlockDiffusionFamily:
    """A per-frame conv tokenizer and a transformer denoising a chunk of latents at a time over a KV cache."""

    name = NAME
    reads_history = False
    has_guidance = False

    def spec_problems(self, spec: ModelSpec) -> list[str]:
        config = spec.config
        if not isinstance(config, BlockDiffusionConfig):
            return [f"family {NAME!r} needs config=BlockDiffusionConfig(...), got {type(config).__name__}"]
        problems: list[str] = []
        if spec.tokenizer is not None or spec.backbone is not None or spec.frame_model is not None:
            problems.append(f"family {NAME!r} reads its config only: tokenizer, backbone and frame_model must be None")
        for label, value in (("height", spec.height), ("width", spec.width)):
            if value <= 0 or value % config.step:
                problems.append(f"{label} {value} is not a positive multiple of {config.step} "
                                f"(tokenizer stride {config.stride} x patch {config.patch})")
        if spec.chunk_size < 1:
            problems.append(f"chunk_size {spec.chunk_size} must be >= 1")
        if config.action_dim != spec.action_dim:
            problems.append(f"config.action_dim {config.action_dim} != action_dim {spec.action_dim}")
        if not config.channels or min(config.channels) < 1:
            problems.append(f"config.channels {config.channels} needs one positive width per tokenizer level")
        for label, value in (("latent_channels", config.latent_channels), ("patch", config.patch),
                             ("width", config.width), ("depth", config.depth), ("heads", config.heads),
                             ("mlp_ratio", config.mlp_ratio), ("action_embed", config.action_embed)):
            if value < 1:
                problems.append(f"config.{label} {value} must be >= 1")
        if config.heads >= 1 and (config.width % config.heads or (config.width // config.heads) % 2):
            problems.append(f"config.width {config.width} must split into {config.heads} heads of an even size")
        if config.context_chunks < 0:
            problems.append(f"config.context_chunks {config.context_chunks} must be >= 0")
        if spec.guidance != 0.0:
            problems.append(f"the {NAME} model is trained without an unconditional branch: guidance must be 0")
        if spec.residual != "none" or spec.change_floor or spec.change_full:
            problems.append("residual/change_floor/change_full are not read by this family: leave them at the defaults")
        if spec.threading != "latent":
            problems.append("threading must be 'latent': chunks follow each other through the predicted latents")
        missing = [name for name in WEIGHT_FILES if name not in spec.weights.files]
        if missing:
            problems.append(f"family {NAME!r} needs weights files {list(WEIGHT_FILES)}; missing {missing}")
        extra = sorted(set(spec.weights.files) - set(WEIGHT_FILES))
        if extra:
            problems.append(f"weights files {extra} are not read by family {NAME!r}")
        return problems

    def config_from_dict(self, data: Mapping[str, Any] | None) -> object | None:
        """BlockDiffusionConfig from a spec file's "config" (lists become tuples); unknown keys are an error."""
        if data is None:
            return None
        fields = {f.name for f in dataclasses.fields(BlockDiffusionConfig)}
        unknown = sorted(set(data) - fields)
        if unknown:
            raise ValueError(f"unknown {NAME} config keys {unknown}; known: {sorted(fields)}")
        values: dict[str, Any] = {key: tuple(value) if isinstance(value, list) else value
                                  for key, value in data.items()}
        return BlockDiffusionConfig(**values)

    def load(self, spec: ModelSpec, weights_dir: str | Path | None, device: torch.device,
             dtype: torch.dtype) -> FamilyPipeline:
        from dream_engine_ros.engine.families.block_diffusion.loading import build_model
        from dream_engine_ros.engine.families.block_diffusion.pipeline import BlockDiffusionPipeline

        return BlockDiffusionPipeline(spec, build_model(spec, weights_dir, device, dtype), device, dtype)


def register() -> None:
    FAMILIES.register(NAME, BlockDiffusionFamily())
