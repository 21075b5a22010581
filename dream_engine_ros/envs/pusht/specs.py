"""PushT's specs: the structured causal-video model (`pusht-structured`, formerly `pusht-causal`, still
accepted as a deprecated alias) and the small latent model, both trained on gym-pusht."""

from __future__ import annotations

from dream_engine_ros.engine.spec import (
    DitConfig,
    FrameNetConfig,
    ModelSpec,
    VaeConfig,
    WeightsLocation,
    register_spec,
    register_spec_alias,
)

# Per-channel statistics of the pusht-tiny VAE's latents over the training windows, printed by
# `train_pusht export` and also stored in the shipped weights' metadata (which the loader uses).
PUSHT_LATENT_MEAN: tuple[float, ...] = (-2.7684, 2.1191, -1.1942, 2.8180, -2.3327, -0.1666, -2.5424, 0.3705)
PUSHT_LATENT_STD: tuple[float, ...] = (2.1355, 1.7234, 0.7575, 2.9117, 1.7079, 0.3714, 2.1501, 1.0981)

PUSHT_TINY = ModelSpec(
    name="pusht-tiny",
    family="rectified-flow",
    description=(
        "Latent PushT model (the default until pusht-structured): 96x96 RGB at 10 Hz, action = absolute target (x, y) "
        "in env units [0, 512]. Same classes as DreamDojo, scaled down, trained on CPU."
    ),
    height=96,
    width=96,
    chunk_size=12,
    action_dim=2,
    fps=10.0,
    # One step returns the flow model's estimate of the mean future given the plan, which scored
    # best on held-out episodes (docs/envs/pusht.md); more steps give sharper samples that are
    # less often right.
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


PUSHT_STRUCTURED = ModelSpec(
    name="pusht-structured",
    family="causal-video",
    description=(
        "Embedded default: a structured, simulator-like model of PushT (gym-pusht), not a learned video world "
        "model from frames and actions only. 96x96 RGB at 10 Hz, action = absolute target (x, y) in env units "
        "[0, 512]. Known by hand: gym-pusht's render colours (each frame is cut into floor, T and agent layers "
        "by them and re-drawn from those layers), the T's geometry (two boxes, its pose fitted to its outline), "
        "the walls and world size; the T's motion comes from an MLP over PushT's state (agent centres, T pose "
        "and motion; the planners' version also the walls), and planners search that state space. A "
        "frame-autoregressive pixel denoiser (last 3 frames and actions, one rectified-flow step) places the agent."
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


# Registered on import (the built-in plug-in imports this module): a spec constructed here may
# itself trigger the plug-ins' loading, which then finds this module half-imported.
for _spec in (PUSHT_STRUCTURED, PUSHT_TINY):
    register_spec(_spec)
# Its name until 2026-12 (the weight files and their env var keep it): still accepted, deprecated.
register_spec_alias("pusht-causal", PUSHT_STRUCTURED.name)
PUSHT_CAUSAL = PUSHT_STRUCTURED  # deprecated Python name of the same spec
