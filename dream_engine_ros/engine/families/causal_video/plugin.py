"""Registration of the causal-video family: its spec rules and how its pipeline is loaded."""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Any

import torch

from dream_engine_ros.engine.family import FAMILIES, FamilyPipeline
from dream_engine_ros.engine.spec import ModelSpec

NAME = "causal-video"


class CausalVideoFamily:
    """A pixel-space denoiser that predicts one frame at a time from its recent history."""

    name = NAME
    reads_history = True
    has_guidance = False

    def spec_problems(self, spec: ModelSpec) -> list[str]:
        from dream_engine_ros.engine.families.causal_video.decoders import FRAME_DECODERS

        problems: list[str] = []
        net = spec.frame_model
        if net is None:
            return [f"family {NAME!r} needs a frame_model (FrameNetConfig)"]
        if spec.tokenizer is not None or spec.backbone is not None or spec.config is not None:
            problems.append(f"family {NAME!r} works on pixels: tokenizer, backbone and config must be None")
        step = net.patch << (len(net.channels) - 1)
        for label, value in (("height", spec.height), ("width", spec.width)):
            if value <= 0 or value % step:
                problems.append(f"{label} {value} is not a positive multiple of {step} (patch x U-Net downsampling)")
        if net.action_dim != spec.action_dim:
            problems.append(f"frame_model.action_dim {net.action_dim} != action_dim {spec.action_dim}")
        if len(net.channels) != len(net.blocks):
            problems.append("frame_model.channels and frame_model.blocks must have one entry per level")
        if spec.guidance != 0.0:
            problems.append(f"the {NAME} frame model is trained without an unconditional branch: guidance must be 0")
        if spec.residual != "none" or spec.change_full:
            problems.append("residual/change_full belong to the latent families")
        if spec.change_floor < 0:
            problems.append(f"change_floor {spec.change_floor} must be >= 0")
        if "frame_model" not in spec.weights.files:
            problems.append(f"family {NAME!r} needs a 'frame_model' weights file")
        if not net.layers:
            if net.layer_options:
                problems.append("frame_model.layer_options need a frame decoder (frame_model.layers)")
            extra = sorted(set(spec.weights.files) - {"frame_model"})
            if extra:
                problems.append(f"weights files {extra} are read by a frame decoder: frame_model.layers names none")
            return problems
        if net.layers not in FRAME_DECODERS:
            return problems + [f"frame_model.layers {net.layers!r} is not a registered frame decoder "
                               f"({', '.join(FRAME_DECODERS.names()) or 'none'})"]
        if not net.warp:
            problems.append("frame_model.layers reads the displacement: it needs warp=True")
        return problems + FRAME_DECODERS.get(net.layers).spec_problems(spec)

    def config_from_dict(self, data: Mapping[str, Any] | None) -> object | None:
        return None  # everything this family needs is in ModelSpec's own fields

    def load(self, spec: ModelSpec, weights_dir: str | Path | None, device: torch.device,
             dtype: torch.dtype) -> FamilyPipeline:
        from dream_engine_ros.engine.families.causal_video.pipeline import FramePipeline, build_frame_model

        return FramePipeline(spec, build_frame_model(spec, weights_dir, device, dtype), device, dtype)


def register() -> None:
    FAMILIES.register(NAME, CausalVideoFamily())
