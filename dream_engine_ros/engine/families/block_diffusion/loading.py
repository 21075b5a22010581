"""Build a block-diffusion spec's tokenizer and dynamics and fill them from its weight files.

Two files, both our own safetensors with the modules' own key names, loaded strictly:
`tokenizer` (`FrameTokenizer`, latent statistics included as buffers) and `dynamics`
(`ChunkDenoiser`). A missing file is a WeightsError naming the component and the path.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import torch

from dream_engine_ros.engine.families.block_diffusion.config import BlockDiffusionConfig
from dream_engine_ros.engine.families.block_diffusion.dynamics import ChunkDenoiser
from dream_engine_ros.engine.families.block_diffusion.tokenizer import FrameTokenizer
from dream_engine_ros.engine.loading import require_weight_file, weight_paths
from dream_engine_ros.engine.spec import ModelSpec
from dream_engine_ros.engine.weights import load_weights, read_state_file


@dataclass
class LoadedBlockModel:
    tokenizer: FrameTokenizer
    dynamics: ChunkDenoiser


def config_of(spec: ModelSpec) -> BlockDiffusionConfig:
    if not isinstance(spec.config, BlockDiffusionConfig):
        raise TypeError(f"spec {spec.name!r} has no BlockDiffusionConfig")
    return spec.config


def build_model(spec: ModelSpec, weights_dir: str | Path | None, device: torch.device,
                dtype: torch.dtype) -> LoadedBlockModel:
    """Instantiate the spec's tokenizer and dynamics on `device` and load their weights strictly."""
    config = config_of(spec)
    paths = weight_paths(spec, weights_dir)
    tokenizer_path = require_weight_file(paths, "tokenizer", spec)
    dynamics_path = require_weight_file(paths, "dynamics", spec)
    tokenizer = FrameTokenizer(config)
    load_weights(tokenizer, read_state_file(tokenizer_path), source=str(tokenizer_path))
    dynamics = ChunkDenoiser(config)
    load_weights(dynamics, read_state_file(dynamics_path), source=str(dynamics_path))
    return LoadedBlockModel(tokenizer=tokenizer.to(device=device, dtype=dtype).eval(),
                            dynamics=dynamics.to(device=device, dtype=dtype).eval())
