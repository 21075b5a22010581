"""Build a rectified-flow spec's VAE and DiT and fill them from its checkpoint files.

This module knows how each kind of file is laid out (our own safetensors, the reference's
converted DiT `.pt` with `net.` keys, Wan's VAE `.pth`, the precomputed empty-prompt
embedding) and loads them strictly.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

import torch
from torch import Tensor

from dream_engine_ros.engine.errors import WeightsError
from dream_engine_ros.engine.families.rectified_flow.dit import ActionDiT
from dream_engine_ros.engine.families.rectified_flow.wan_vae import WanVAE
from dream_engine_ros.engine.loading import require_weight_file, weight_paths
from dream_engine_ros.engine.spec import ModelSpec
from dream_engine_ros.engine.weights import KeyMap, load_weights, read_metadata, read_state_file

# The reference's converted checkpoints prefix every DiT key with `net.` (EMA exports are
# renamed from `net_ema.`) and carry training counters that inference never reads.
REFERENCE_DIT_KEYMAP = KeyMap(
    strip_prefixes=("net.", "net_ema."),
    ignore=(r"accum_.*", r"logvar\..*"),
    add_prefix_on_save="net.",
)
# Wan's released VAE uses the same module names as ours.
WAN_VAE_KEYMAP = KeyMap()


@dataclass
class LoadedModel:
    vae: WanVAE
    dit: ActionDiT
    context: Tensor | None  # cross-attention context (prompt embedding), if the backbone uses one
    negative_context: Tensor | None


def _latent_stats_from_metadata(path: Path) -> tuple[Tensor, Tensor] | None:
    if path.suffix != ".safetensors":
        return None
    meta = read_metadata(path)
    if "latent_mean" not in meta or "latent_std" not in meta:
        return None
    return torch.tensor(json.loads(meta["latent_mean"])), torch.tensor(json.loads(meta["latent_std"]))


def _load_context(path: Path) -> Tensor:
    state = torch.load(path, map_location="cpu", weights_only=True)
    if isinstance(state, (list, tuple)) and state:
        # the reference's readers (its data loader and its interactive action-to-video
        # inference) index the file with [0], so a list-of-tensors file is valid
        state = state[0]
    if isinstance(state, dict):
        tensors = [v for v in state.values() if isinstance(v, Tensor)]
        if len(tensors) != 1:
            raise WeightsError(f"{path}: expected one embedding tensor, found keys {sorted(state)}")
        state = tensors[0]
    if not isinstance(state, Tensor):
        raise WeightsError(f"{path}: expected a tensor, got {type(state).__name__}")
    return state if state.ndim == 3 else state.reshape(1, *state.shape[-2:])


def build_model(spec: ModelSpec, weights_dir: str | Path | None, device: torch.device,
                dtype: torch.dtype) -> LoadedModel:
    """Instantiate the spec's VAE and DiT on `device` and load their weights strictly."""
    paths = weight_paths(spec, weights_dir)
    vae_path = require_weight_file(paths, "vae", spec)
    dit_path = require_weight_file(paths, "dit", spec)

    vae = WanVAE(spec.vae)
    load_weights(vae, read_state_file(vae_path), WAN_VAE_KEYMAP, source=str(vae_path))
    stats = _latent_stats_from_metadata(vae_path)
    if stats is not None:
        vae.set_latent_stats(*stats)

    dit = ActionDiT(spec.dit)
    keymap = REFERENCE_DIT_KEYMAP if dit_path.suffix in (".pt", ".pth") else KeyMap()
    load_weights(dit, read_state_file(dit_path), keymap, source=str(dit_path))

    context = negative = None
    if spec.dit.use_cross_attn:
        context = _load_context(require_weight_file(paths, "text_embedding", spec)).to(device, dtype)
        neg_path = paths.get("negative_text_embedding")
        if neg_path is not None and neg_path.is_file():
            negative = _load_context(neg_path).to(device, dtype)
    return LoadedModel(
        vae=vae.to(device=device, dtype=dtype).eval(),
        dit=dit.to(device=device, dtype=dtype).eval(),
        context=context,
        negative_context=negative,
    )
