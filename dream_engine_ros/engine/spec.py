"""Model spec catalog: everything a caller needs to know about a world model, in one frozen record.

A spec names the architecture family, the pixel/latent geometry, the action interface, the
sampler defaults and where the weights live. The engine builds modules from it; the ROS node
describes it; the CLI prints it. Adding a model means adding a spec, not a code path.
"""

from __future__ import annotations

import dataclasses
import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

import numpy as np

ArchFamily = Literal["rectified-flow", "block-diffusion", "causal-video"]
ChunkThreading = Literal["latent", "pixel"]
ResidualMode = Literal["none", "still"]
UncondMode = Literal["null-action", "negative-prompt"]
Solver = Literal["unipc", "euler"]
DType = Literal["float32", "bfloat16", "float16"]

KNOWN_FAMILIES: tuple[str, ...] = ("rectified-flow", "block-diffusion", "causal-video")

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
    """Frame-autoregressive pixel denoiser (causal-video family, `backbone/frame_unet.py`)."""

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
    # along the displacement + residual); "pusht" = object layers (`scene_layers.py`): the
    # displacement over the T is read as one rigid motion and the agent as one centre, and the
    # frame is drawn from layers cut from the start frame (needs `warp`); "pusht-contact" = the
    # same layers, the T moved by a learned contact model (`contact_model.py`, weights "contact")
    layers: str = ""
    # "pusht-contact" only: draw a T the contact model moved afresh, as gym-pusht draws it
    # (`t_render.py`), instead of resampling the start frame's T. Pushed T's IoU at frame 48
    # 0.803 -> 0.815 (50 held-out pushes), but PSNR -1.2 dB, gate LPIPS 0.0134 -> 0.0168 and the
    # policy evaluation's success ranking 0 -> 6 wrong pairs (README): off by default
    draw_moved_t: bool = False


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
    family: ArchFamily
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
    # Latent families (rectified-flow, block-diffusion): a VAE and a DiT. The causal-video
    # family works on pixels and has neither (tokenizer = backbone = None, frame_model set).
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

    def __post_init__(self) -> None:
        problems = spec_problems(self)
        if problems:
            raise ValueError(f"spec {self.name!r} is inconsistent: " + "; ".join(problems))

    @property
    def is_latent(self) -> bool:
        """True for the VAE + DiT families; False for the pixel-space causal-video family."""
        return self.frame_model is None

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
            "weights": {
                "directory": str(self.weights.resolve()),
                "files": dict(self.weights.files),
                "env_var": self.weights.env_var,
            },
        }


def spec_problems(spec: ModelSpec) -> list[str]:
    """Every rule a spec breaks, as readable sentences (empty list = consistent)."""
    problems: list[str] = []
    if spec.family not in KNOWN_FAMILIES:
        problems.append(f"family {spec.family!r} is not one of {KNOWN_FAMILIES}")
    problems += _common_problems(spec)
    if spec.family == "causal-video":
        return problems + _frame_model_problems(spec)
    if spec.frame_model is not None:
        problems.append(f"frame_model is for the causal-video family only, not {spec.family!r}")
    if spec.tokenizer is None or spec.backbone is None:
        return problems + [f"family {spec.family!r} needs a tokenizer (VaeConfig) and a backbone (DitConfig)"]
    return problems + _latent_problems(spec, spec.tokenizer, spec.backbone)


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


def _frame_model_problems(spec: ModelSpec) -> list[str]:
    problems: list[str] = []
    net = spec.frame_model
    if net is None:
        return ["family 'causal-video' needs a frame_model (FrameNetConfig)"]
    if spec.tokenizer is not None or spec.backbone is not None:
        problems.append("family 'causal-video' works on pixels: tokenizer and backbone must be None")
    step = net.patch << (len(net.channels) - 1)
    for label, value in (("height", spec.height), ("width", spec.width)):
        if value <= 0 or value % step:
            problems.append(f"{label} {value} is not a positive multiple of {step} (patch x U-Net downsampling)")
    if net.action_dim != spec.action_dim:
        problems.append(f"frame_model.action_dim {net.action_dim} != action_dim {spec.action_dim}")
    if len(net.channels) != len(net.blocks):
        problems.append("frame_model.channels and frame_model.blocks must have one entry per level")
    if spec.guidance != 0.0:
        problems.append("the causal-video frame model is trained without an unconditional branch: guidance must be 0")
    if spec.residual != "none" or spec.change_full:
        problems.append("residual/change_full belong to the latent families")
    if spec.change_floor < 0:
        problems.append(f"change_floor {spec.change_floor} must be >= 0")
    if net.layers not in ("", "pusht", "pusht-contact"):
        problems.append(f"frame_model.layers {net.layers!r} is not '', 'pusht' or 'pusht-contact'")
    if net.layers == "pusht-contact" and "contact" not in spec.weights.files:
        problems.append("frame_model.layers 'pusht-contact' needs a 'contact' weights file")
    if "planner_contact" in spec.weights.files and net.layers != "pusht-contact":
        problems.append("a 'planner_contact' weights file needs frame_model.layers 'pusht-contact'")
    if net.layers == "pusht-contact" and not spec.action_low:
        problems.append("frame_model.layers 'pusht-contact' reads targets in pixels: it needs action_low/action_high")
    if net.draw_moved_t and net.layers != "pusht-contact":
        problems.append("frame_model.draw_moved_t draws the contact model's T: it needs layers 'pusht-contact'")
    if net.layers and not net.warp:
        problems.append("frame_model.layers reads the displacement: it needs warp=True")
    return problems


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


# --------------------------------------------------------------------------------------------
# Catalog
# --------------------------------------------------------------------------------------------

# Per-channel statistics of the pusht-tiny VAE's latents over the training windows, printed by
# `train_pusht export` and also stored in the shipped weights' metadata (which the loader uses).
PUSHT_LATENT_MEAN: tuple[float, ...] = (-2.7684, 2.1191, -1.1942, 2.8180, -2.3327, -0.1666, -2.5424, 0.3705)
PUSHT_LATENT_STD: tuple[float, ...] = (2.1355, 1.7234, 0.7575, 2.9117, 1.7079, 0.3714, 2.1501, 1.0981)

PUSHT_TINY = ModelSpec(
    name="pusht-tiny",
    family="rectified-flow",
    description=(
        "Latent PushT model (the default until pusht-causal): 96x96 RGB at 10 Hz, action = absolute target (x, y) "
        "in env units [0, 512]. Same classes as DreamDojo, scaled down, trained on CPU."
    ),
    height=96,
    width=96,
    chunk_size=12,
    action_dim=2,
    fps=10.0,
    # One step returns the flow model's estimate of the mean future given the plan, which on
    # held-out episodes scores best (validation seed 555, 10 episodes, PSNR / SSIM: 27.11 / 0.937
    # at 1 step, 27.01 / 0.937 at 2, 26.44 / 0.933 at 4, 26.10 / 0.929 at 8); more steps per
    # goal give sharper samples that are less often right.
    num_steps=1,
    guidance=0.0,
    # the still-relative change has a std of ~0.45 (not 1), so a smaller shift keeps the
    # signal-to-noise schedule the model saw on unit-variance latents (3 x 0.45 ~ 1.5)
    shift=1.5,
    solver="unipc",
    dtype="float32",
    threading="pixel",
    uncond="null-action",
    tokenizer=VaeConfig(
        dim=12,
        z_dim=8,
        dim_mult=(1, 2, 2, 4),
        num_res_blocks=1,
        attn_scales=(),
        temporal_downsample=(False, True, True),
        latent_mean=PUSHT_LATENT_MEAN,
        latent_std=PUSHT_LATENT_STD,
    ),
    backbone=DitConfig(
        in_channels=8,
        out_channels=8,
        model_channels=128,
        num_blocks=6,
        num_heads=2,
        adaln_lora_dim=64,
        action_dim=2,
        actions_per_latent=4,
        use_cross_attn=False,
        crossattn_in_channels=0,
        crossattn_emb_channels=0,
        concat_padding_mask=True,
        rope_max_len=64,
    ),
    weights=WeightsLocation(
        files={"vae": "pusht-tiny-vae.safetensors", "dit": "pusht-tiny-dit.safetensors"},
        env_var="DREAM_ENGINE_PUSHT_WEIGHTS",
    ),
    action_low=(0.0, 0.0),
    action_high=(512.0, 512.0),
    residual="still",
    change_floor=10.0,
    change_full=70.0,
)


def _dreamdojo_spec(name: str, channels: int, blocks: int, heads: int, description: str) -> ModelSpec:
    return ModelSpec(
        name=name,
        family="rectified-flow",
        description=description,
        height=480,
        width=640,
        chunk_size=12,
        action_dim=384,
        fps=10.0,
        num_steps=35,
        guidance=0.0,
        shift=5.0,
        solver="unipc",
        dtype="bfloat16",
        threading="pixel",
        uncond="negative-prompt",
        tokenizer=VaeConfig(),
        backbone=DitConfig(model_channels=channels, num_blocks=blocks, num_heads=heads),
        weights=WeightsLocation(
            files={
                "dit": "model_ema_bf16.pt",
                "vae": "Wan2.1_VAE.pth",
                "text_embedding": "cr1_empty_string_text_embeddings.pt",
            },
            directory=f"~/.cache/dream_engine/{name}",
            env_var="DREAM_ENGINE_" + name.upper().replace("-", "_") + "_WEIGHTS",
        ),
    )


DREAMDOJO_GR1_2B = _dreamdojo_spec(
    "dreamdojo-gr1-2b", 2048, 28, 16,
    "DreamDojo GR-1 post-trained world model (Cosmos-Predict2.5 2B DiT + Wan2.1 VAE), 480x640.",
)
DREAMDOJO_GR1_14B = _dreamdojo_spec(
    "dreamdojo-gr1-14b", 5120, 36, 40,
    "DreamDojo GR-1 post-trained world model, 14B DiT variant, 480x640.",
)

PUSHT_CAUSAL = ModelSpec(
    name="pusht-causal",
    family="causal-video",
    description=(
        "Embedded default: PushT (gym-pusht) 96x96 RGB at 10 Hz, action = absolute target (x, y) in env "
        "units [0, 512]. Frame-autoregressive pixel-space denoiser: sees the last 3 frames and actions, "
        "predicts the next frame in one rectified-flow step as a displacement of the last frame's pixels plus a "
        "residual change; no VAE, so small objects keep their pixels."
    ),
    height=96,
    width=96,
    chunk_size=12,
    action_dim=2,
    fps=10.0,
    num_steps=1,
    guidance=0.0,
    shift=1.0,
    solver="euler",
    change_floor=4.0,
    dtype="float32",
    threading="pixel",
    uncond="null-action",
    tokenizer=None,
    backbone=None,
    weights=WeightsLocation(
        files={"frame_model": "pusht-causal.safetensors", "contact": "pusht-contact.safetensors",
               "agent": "pusht-agent.safetensors", "planner_contact": "pusht-contact-planner.safetensors"},
        env_var="DREAM_ENGINE_PUSHT_CAUSAL_WEIGHTS",
    ),
    action_low=(0.0, 0.0),
    action_high=(512.0, 512.0),
    frame_model=FrameNetConfig(
        patch=4,
        context_frames=3,
        context_actions=3,
        action_dim=2,
        channels=(48, 96, 160),
        blocks=(1, 2, 2),
        embed_dim=128,
        warp=True,
        layers="pusht-contact",
    ),
)

_CATALOG: dict[str, ModelSpec] = {
    spec.name: spec for spec in (PUSHT_CAUSAL, PUSHT_TINY, DREAMDOJO_GR1_2B, DREAMDOJO_GR1_14B)
}

# The embedded default: the causal-video model predicts PushT's agent to ~0.3 px and keeps the
# T's shape where the latent pusht-tiny melts it (README "Physics evaluation").
DEFAULT_SPEC = PUSHT_CAUSAL.name


def list_specs() -> list[ModelSpec]:
    """All registered specs, default first."""
    return list(_CATALOG.values())


def get_spec(name: str) -> ModelSpec:
    """Look a spec up by name; the error lists what exists."""
    try:
        return _CATALOG[name]
    except KeyError:
        raise KeyError(f"unknown spec {name!r}; known specs: {', '.join(_CATALOG)}") from None


def register_spec(spec: ModelSpec, *, replace: bool = False) -> None:
    """Add a spec (e.g. a fine-tuned variant) to the catalog."""
    if spec.name in _CATALOG and not replace:
        raise ValueError(f"spec {spec.name!r} already registered")
    _CATALOG[spec.name] = spec
