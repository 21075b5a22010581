"""Build a spec's modules and fill them from its checkpoint files.

Each spec names its files (`spec.weights.files`); this module knows how each kind of file is
laid out (our own safetensors, the reference's converted DiT `.pt` with `net.` keys, Wan's VAE
`.pth`, the precomputed empty-prompt embedding) and loads them strictly.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

import torch
from torch import Tensor

from .agent_model import AgentModel
from .backbone import ActionDiT
from .backbone.frame_unet import FrameDenoiser
from .contact_model import ContactModel
from .errors import WeightsError
from .spec import ModelSpec
from .tokenizer import WanVAE
from .weights import KeyMap, load_weights, read_metadata, read_state_file

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


@dataclass
class LoadedFrameModel:
    """The causal-video family's one network (pixels in, pixels out: no tokenizer)."""

    net: FrameDenoiser
    contact: ContactModel | None = None  # the T's contact dynamics ("pusht-contact" layers)
    agent: AgentModel | None = None  # the agent's motion (weights "agent"): scene-state rollouts
    planner_contact: ContactModel | None = None  # weights "planner_contact": the T in scene-state rollouts

    @property
    def scene_state_contact(self) -> ContactModel | None:
        """The contact model of planners' scene-state rollouts: one fine-tuned on the planner's own
        contacts where the spec ships it (see `training/planner_episodes.py`), else the frames' one."""
        return self.planner_contact if self.planner_contact is not None else self.contact


def weight_paths(spec: ModelSpec, weights_dir: str | Path | None = None) -> dict[str, Path]:
    """Component -> file path for a spec (files need not exist)."""
    root = spec.weights.resolve(weights_dir)
    return {component: root / name for component, name in spec.weights.files.items()}


def weights_status(spec: ModelSpec, weights_dir: str | Path | None = None) -> dict[str, object]:
    """Which of a spec's files are present; `installed` is True only when all are."""
    paths = weight_paths(spec, weights_dir)
    present = {component: path.is_file() for component, path in paths.items()}
    return {
        "directory": str(spec.weights.resolve(weights_dir)),
        "files": {component: str(path) for component, path in paths.items()},
        "present": present,
        "installed": all(present.values()),
    }


def _require(paths: dict[str, Path], component: str, spec: ModelSpec) -> Path:
    path = paths.get(component)
    if path is None or not path.is_file():
        hint = f" (set {spec.weights.env_var} or pass weights=DIR)" if spec.weights.env_var else ""
        raise WeightsError(f"spec {spec.name!r}: {component} weights not found at {path}{hint}")
    return path


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


def build_frame_model(spec: ModelSpec, weights_dir: str | Path | None, device: torch.device,
                      dtype: torch.dtype) -> LoadedFrameModel:
    """Instantiate a causal-video spec's frame denoiser and load its weights strictly."""
    assert spec.frame_model is not None
    path = _require(weight_paths(spec, weights_dir), "frame_model", spec)
    net = FrameDenoiser(spec.frame_model)
    load_weights(net, read_state_file(path), KeyMap(), source=str(path))
    contact = None
    if spec.frame_model.layers == "pusht-contact":
        contact_path = _require(weight_paths(spec, weights_dir), "contact", spec)
        contact = ContactModel.from_state(read_state_file(contact_path), source=str(contact_path))
    agent = None
    if "agent" in spec.weights.files:
        agent_path = _require(weight_paths(spec, weights_dir), "agent", spec)
        agent = AgentModel.from_state(read_state_file(agent_path), source=str(agent_path))
    planner_contact = None
    if "planner_contact" in spec.weights.files:
        planner_path = _require(weight_paths(spec, weights_dir), "planner_contact", spec)
        planner_contact = ContactModel.from_state(read_state_file(planner_path), source=str(planner_path))
    return LoadedFrameModel(net=net.to(device=device, dtype=dtype).eval(), contact=contact, agent=agent,
                            planner_contact=planner_contact)


def build_model(spec: ModelSpec, weights_dir: str | Path | None, device: torch.device,
                dtype: torch.dtype) -> LoadedModel:
    """Instantiate the spec's VAE and DiT on `device` and load their weights strictly."""
    paths = weight_paths(spec, weights_dir)
    vae_path = _require(paths, "vae", spec)
    dit_path = _require(paths, "dit", spec)

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
        context = _load_context(_require(paths, "text_embedding", spec)).to(device, dtype)
        neg_path = paths.get("negative_text_embedding")
        if neg_path is not None and neg_path.is_file():
            negative = _load_context(neg_path).to(device, dtype)
    return LoadedModel(
        vae=vae.to(device=device, dtype=dtype).eval(),
        dit=dit.to(device=device, dtype=dtype).eval(),
        context=context,
        negative_context=negative,
    )
