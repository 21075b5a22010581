"""DreamDojo's GR-1 post-trained world models (Cosmos-Predict2.5 DiT + Wan2.1 VAE); weights are the user's."""

from __future__ import annotations

from dream_engine_ros.engine.spec import DitConfig, ModelSpec, VaeConfig, WeightsLocation, register_spec


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


# Registered on import (the built-in plug-in imports this module): a spec constructed here may
# itself trigger the plug-ins' loading, which then finds this module half-imported.
for _spec in (DREAMDOJO_GR1_2B, DREAMDOJO_GR1_14B):
    register_spec(_spec)
