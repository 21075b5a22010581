"""Model spec catalog: everything a caller needs to know about a world model, in one frozen record.

A spec names the architecture family, the pixel/latent geometry, the action interface, the
sampler defaults and where the weights live. The engine builds modules from it; the ROS node
describes it; the CLI prints it. Adding a model means adding a spec, not a code path.
"""

from __future__ import annotations

import dataclasses
import os
import warnings
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

import numpy as np

from dream_engine_ros.engine.registry import Registry

ChunkThreading = Literal["latent", "pixel"]
ResidualMode = Literal["none", "still"]
UncondMode = Literal["null-action", "negative-prompt"]
Solver = Literal["unipc", "euler"]
DType = Literal["float32", "bfloat16", "float16"]

# Wan2.1 VAE per-channel latent statistics (public constants of the released tokenizer).
WAN21_LATENT_MEAN: tuple[float, ...] = (
    -0.7571, -0.7089, -0.9113, 0.1075, -0.1745, 0.9653, -0.1517, 1.5508,
    0.4134, -0.0715, 0.5517, -0.3632, -0.1922, -0.9497, 0.2503, -0.2921,
)
WAN21_LATENT_STD: tuple[float, ...] = (
    2.8184, 1.4541, 2.3275, 2.6558, 1.2196, 1.7708, 2.6052, 2.0743,
    3.2687, 2.1526, 2.8652, 1.5579, 1.6382, 1.1253, 2.8251, 1.9160,
)


@dataclass(frozen=True)
class VaeConfig:
    """Causal 3-D convolutional video VAE in the Wan2.1 layout."""

    dim: int = 96
    z_dim: int = 16
    dim_mult: tuple[int, ...] = (1, 2, 4, 4)
    num_res_blocks: int = 2
    attn_scales: tuple[float, ...] = ()
    temporal_downsample: tuple[bool, ...] = (False, True, True)
    latent_mean: tuple[float, ...] = WAN21_LATENT_MEAN
    latent_std: tuple[float, ...] = WAN21_LATENT_STD

    @property
    def spatial_compression(self) -> int:
        return 1 << (len(self.dim_mult) - 1)

    @property
    def temporal_compression(self) -> int:
        return 1 << sum(1 for flag in self.temporal_downsample if flag)


@dataclass(frozen=True)
class DitConfig:
    """Action-conditioned diffusion transformer in the Cosmos-Predict2.5 / DreamDojo layout."""

    in_channels: int = 16
    out_channels: int = 16
    model_channels: int = 2048
    num_blocks: int = 28
    num_heads: int = 16
    mlp_ratio: float = 4.0
    patch_spatial: int = 2
    patch_temporal: int = 1
    adaln_lora_dim: int = 256
    action_dim: int = 384
    actions_per_latent: int = 4
    use_cross_attn: bool = True
    crossattn_in_channels: int = 100352
    crossattn_emb_channels: int = 1024
    concat_padding_mask: bool = True
    rope_t_ratio: float = 1.0
    rope_h_ratio: float = 3.0
    rope_w_ratio: float = 3.0
    rope_max_len: int = 128
    timestep_scale: float = 0.001

    @property
    def head_dim(self) -> int:
        return self.model_channels // self.num_heads


@dataclass(frozen=True)
class FrameNetConfig:
    """Frame-autoregressive pixel denoiser (causal-video family, `families/causal_video/frame_unet.py`)."""

    patch: int = 4
    context_frames: int = 3
    context_actions: int = 3
    action_dim: int = 2
    channels: tuple[int, ...] = (64, 128, 192)
    blocks: tuple[int, ...] = (1, 2, 2)
    embed_dim: int = 128
    bump_sigma: float = 0.75  # action bump width in grid cells
    # predict a per-pixel displacement and move the last frame's pixels along it before the
    # residual change is added: a pushed object is transported whole instead of being redrawn
    warp: bool = False
    # how the network's output becomes the next frame: "" = its own frame (last frame moved
    # along the displacement + residual); otherwise the name of a registered frame decoder
    # (`families/causal_video/decoders.py`, e.g. an environment's object layers) that draws it
    layers: str = ""
    # options of that frame decoder, which checks them (names it documents)
    layer_options: tuple[str, ...] = ()


@dataclass(frozen=True)
class WeightsLocation:
    """Where a spec's checkpoint files live and what each file holds.

    `files` maps a component ('vae', 'dit', 'text_embedding') to a file name inside `directory`.
    An empty directory means "the package's own weights folder".
    """

    files: dict[str, str] = field(default_factory=dict)
    directory: str = ""
    env_var: str = ""

    def resolve(self, override: str | os.PathLike[str] | None = None) -> Path:
        """Directory to read weights from: explicit override, then env var, then default."""
        if override:
            return Path(override).expanduser()
        if self.env_var and os.environ.get(self.env_var):
            return Path(os.environ[self.env_var]).expanduser()
        if self.directory:
            return Path(self.directory).expanduser()
        return Path(__file__).resolve().parent.parent / "weights"


@dataclass(frozen=True)
class ModelSpec:
    """One world model: geometry, action interface, sampler defaults, architecture, weights."""

    name: str
    family: str  # a registered model family (`engine.family.FAMILIES`)
    description: str
    height: int
    width: int
    chunk_size: int
    action_dim: int
    fps: float
    num_steps: int
    guidance: float
    shift: float
    solver: Solver
    dtype: DType
    threading: ChunkThreading
    uncond: UncondMode
    # Latent families (rectified-flow): a VAE and a DiT. The pixel families (causal-video)
    # work on pixels and have neither (tokenizer = backbone = None, frame_model set).
    tokenizer: VaeConfig | None
    backbone: DitConfig | None
    weights: WeightsLocation
    action_low: tuple[float, ...] = ()
    action_high: tuple[float, ...] = ()
    # What the DiT denoises. "none": absolute latents, as DreamDojo does. "still": the change
    # relative to the latents of the condition frame held still for the whole chunk, so that a
    # motionless scene is exactly the zero target.
    residual: ResidualMode = "none"
    # Residual 'still': how a pixel's decoded change m = max over channels of
    # |D(z) - D(z_still)| (8-bit levels) picks its source. Below change_floor it is decoder
    # noise and the pixel keeps the condition frame's exact value (no VAE blur piling up on a
    # static scene chunk after chunk); from change_full up the pixel takes the model's own
    # decoded value (adding the change to the sharp frame instead would leave the outline of
    # whatever moved away); linear in between.
    # causal-video: a pixel whose predicted change (max over channels) is below change_floor
    # levels keeps the previous frame's exact value, so sub-level jitter of a static background
    # cannot pile up over hundreds of autoregressive frames.
    change_floor: float = 0.0
    change_full: float = 0.0
    # causal-video only: the frame-autoregressive pixel denoiser.
    frame_model: FrameNetConfig | None = None
    # A family's own config (a frozen dataclass from `families/<family>/config.py`), for families
    # the fields above do not describe; the family checks it (`Family.spec_problems`) and reads it
    # back from a spec file (`Family.config_from_dict`).
    config: Any = None

    def __post_init__(self) -> None:
        problems = spec_problems(self)
        if problems:
            raise ValueError(f"spec {self.name!r} is inconsistent: " + "; ".join(problems))

    @property
    def is_latent(self) -> bool:
        """True for specs with a VAE tokenizer (the rectified-flow family); False for the others (a pixel
        family, or a family whose own `config` describes its networks)."""
        return self.tokenizer is not None

    @property
    def vae(self) -> VaeConfig:
        if self.tokenizer is None:
            raise AttributeError(f"spec {self.name!r} ({self.family}) has no VAE tokenizer")
        return self.tokenizer

    @property
    def dit(self) -> DitConfig:
        if self.backbone is None:
            raise AttributeError(f"spec {self.name!r} ({self.family}) has no DiT backbone")
        return self.backbone

    @property
    def latent_channels(self) -> int:
        return self.vae.z_dim

    @property
    def latent_height(self) -> int:
        return self.height // self.vae.spatial_compression

    @property
    def latent_width(self) -> int:
        return self.width // self.vae.spatial_compression

    @property
    def latents_per_chunk(self) -> int:
        """New latent frames one chunk of actions produces (the conditioning latent excluded)."""
        return self.chunk_size // self.vae.temporal_compression

    def normalise_actions(self, actions: np.ndarray) -> np.ndarray:
        """Raw actions (env units) -> the model's [-1, 1] range; identity without bounds.

        The one place this mapping lives: training and inference must agree exactly.
        """
        acts = np.asarray(actions, dtype=np.float32)
        if not self.action_low:
            return acts
        low = np.asarray(self.action_low, dtype=np.float32)
        high = np.asarray(self.action_high, dtype=np.float32)
        return (acts - low) / (high - low) * 2.0 - 1.0

    def denormalise_actions(self, actions: np.ndarray) -> np.ndarray:
        """The model's [-1, 1] actions -> env units (float64): the inverse of `normalise_actions`."""
        acts = np.asarray(actions, dtype=np.float64)
        if not self.action_low:
            return acts
        low = np.asarray(self.action_low, dtype=np.float64)
        high = np.asarray(self.action_high, dtype=np.float64)
        return (acts + 1.0) / 2.0 * (high - low) + low

    def summary(self) -> dict[str, Any]:
        """Flat, JSON-friendly description (the CLI's `specs` and the ROS describe service)."""
        return {
            "name": self.name,
            "family": self.family,
            "description": self.description,
            "height": self.height,
            "width": self.width,
            "chunk_size": self.chunk_size,
            "action_dim": self.action_dim,
            "fps": self.fps,
            "num_steps": self.num_steps,
            "guidance": self.guidance,
            "shift": self.shift,
            "solver": self.solver,
            "dtype": self.dtype,
            "threading": self.threading,
            "residual": self.residual,
            "change_floor": self.change_floor,
            "change_full": self.change_full,
            "latent_shape": [
                self.latent_channels,
                1 + self.latents_per_chunk,
                self.latent_height,
                self.latent_width,
            ] if self.is_latent else None,
            "tokenizer": dataclasses.asdict(self.tokenizer) if self.tokenizer else None,
            "backbone": dataclasses.asdict(self.backbone) if self.backbone else None,
            "frame_model": dataclasses.asdict(self.frame_model) if self.frame_model else None,
            "config": _config_dict(self.config),
            "weights": {
                "directory": str(self.weights.resolve()),
                "files": dict(self.weights.files),
                "env_var": self.weights.env_var,
            },
        }


def _config_dict(config: object) -> dict[str, Any] | None:
    """A family's config as JSON-friendly values (None when the spec has none)."""
    if config is None:
        return None
    if not dataclasses.is_dataclass(config) or isinstance(config, type):
        raise TypeError(f"ModelSpec.config must be a dataclass instance, got {type(config).__name__}")
    return dataclasses.asdict(config)


def spec_problems(spec: ModelSpec) -> list[str]:
    """Every rule a spec breaks, as readable sentences (empty list = consistent): the rules every
    spec keeps, then its family's own (`Family.spec_problems`)."""
    from dream_engine_ros.engine.family import FAMILIES

    problems = _common_problems(spec)
    if spec.family not in FAMILIES:
        return problems + [f"family {spec.family!r} is not one of {tuple(FAMILIES.names())}"]
    return problems + FAMILIES.get(spec.family).spec_problems(spec)


def _common_problems(spec: ModelSpec) -> list[str]:
    problems: list[str] = []
    if spec.num_steps <= 0:
        problems.append(f"num_steps {spec.num_steps} must be positive")
    if spec.fps <= 0:
        problems.append(f"fps {spec.fps} must be positive")
    if spec.chunk_size <= 0:
        problems.append(f"chunk_size {spec.chunk_size} must be positive")
    if spec.action_low and (len(spec.action_low) != spec.action_dim or len(spec.action_high) != spec.action_dim):
        problems.append("action_low/action_high must have action_dim values each")
    return problems


# --------------------------------------------------------------------------------------------
# Catalog: specs are registered by their environments' plug-ins (`envs/<env>/specs.py`) or added
# at run time (`register_spec`, a trained model's folder).
# --------------------------------------------------------------------------------------------

SPECS: Registry[ModelSpec] = Registry("spec")


def list_specs() -> list[ModelSpec]:
    """All registered specs, in registration order (the CLI lists the product's default first)."""
    return SPECS.values()


# Where a name that is not in the catalog may still come from (e.g. a trained model's folder,
# `engine/model_dir.py`): each source returns a spec for a name it recognises, else None.
SpecSource = Callable[[str], "ModelSpec | None"]
SPEC_SOURCES: Registry[SpecSource] = Registry("spec source")


# A former name of a spec, still accepted (deprecated): alias -> the spec's name. Registered by the
# plug-in that renamed its spec (`register_spec_alias`); `get_spec` resolves it, `dream-engine specs`
# lists it under the spec it names, never as a model of its own.
SPEC_ALIASES: Registry[str] = Registry("spec alias")


def canonical_spec_name(name: str) -> str:
    """The spec name an alias stands for; any other name (a spec's, a model folder's path) unchanged."""
    return SPEC_ALIASES.get(name) if name not in SPECS and name in SPEC_ALIASES else name


def get_spec(name: str) -> ModelSpec:
    """Look a spec up by name, by a former name (an alias, deprecated), or by anything a spec source
    recognises (e.g. a model folder's path); the error lists what exists."""
    if name in SPECS:
        return SPECS.get(name)
    if name in SPEC_ALIASES:
        target = SPEC_ALIASES.get(name)
        warnings.warn(f"spec name {name!r} is deprecated: it is an alias of {target!r}", DeprecationWarning,
                      stacklevel=2)
        if target not in SPECS:
            raise KeyError(f"spec alias {name!r} names spec {target!r}, which is not registered; "
                           f"known: {', '.join(SPECS.names()) or 'none'}")
        return SPECS.get(target)
    for source in SPEC_SOURCES.values():
        found = source(name)
        if found is not None:
            return found
    return SPECS.get(name)


def register_spec_alias(alias: str, name: str) -> None:
    """Keep a renamed spec's former name working: `get_spec(alias)` returns the spec `name`.

    `name` must already be registered (register the spec first) and `alias` must not be a spec's
    name; either mistake is refused with a ValueError that names it. Does not load plug-ins, so a
    plug-in may call it while it registers its specs."""
    if not SPECS.registered(name):
        raise ValueError(f"spec alias {alias!r} names spec {name!r}, which is not registered; "
                         f"known: {', '.join(SPECS.registered_names()) or 'none'}")
    if SPECS.registered(alias):
        raise ValueError(f"spec alias {alias!r} is already the name of a spec")
    SPEC_ALIASES.register(alias, name)


def spec_aliases(name: str) -> list[str]:
    """The aliases (former, deprecated names) of the spec `name`, in registration order."""
    return [alias for alias in SPEC_ALIASES.names() if SPEC_ALIASES.get(alias) == name]


def register_spec(spec: ModelSpec, *, replace: bool = False) -> None:
    """Add a spec (e.g. a fine-tuned variant) to the catalog; a name that is an alias is refused."""
    if SPEC_ALIASES.registered(spec.name):
        raise ValueError(f"spec {spec.name!r}: that name is an alias of spec {SPEC_ALIASES.get(spec.name)!r}")
    SPECS.register(spec.name, spec, replace=replace)


def unregister_spec(name: str) -> None:
    """Take a spec added at run time out of the catalog again."""
    SPECS.unregister(name)
