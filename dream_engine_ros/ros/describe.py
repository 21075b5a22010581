"""ModelSpec message from the engine's spec (what ~/describe answers)."""

from __future__ import annotations

from typing import Any

from dream_engine_msgs.msg import ModelSpec


def spec_to_msg(spec: Any, device: str) -> ModelSpec:
    msg = ModelSpec()
    msg.name = str(spec.name)
    msg.family = str(spec.family)
    msg.height = int(spec.height)
    msg.width = int(spec.width)
    msg.chunk_size = int(spec.chunk_size)
    msg.action_dim = int(spec.action_dim)
    msg.fps = float(spec.fps)
    msg.num_steps = int(spec.num_steps)
    msg.guidance = float(spec.guidance)
    msg.device = str(device)
    msg.dtype = str(spec.dtype)
    return msg
