"""A real PushT start frame (gym-pusht, headless) and a smooth action sequence for it.

Why render instead of shipping a PNG: the demo should show the same simulator the
embedded pusht-tiny spec was trained on, at the env's own resolution.
"""

from __future__ import annotations

import os
from dataclasses import dataclass

import numpy as np

from dream_engine_ros.demo_scenes import DEMO_SCENES, DemoStart

WORKSPACE_LOW, WORKSPACE_HIGH = 25.0, 487.0  # env units; keeps the agent fully visible


@dataclass(frozen=True)
class PushTStart:
    rgb: np.ndarray  # uint8 (96, 96, 3)
    agent_xy: np.ndarray  # float32 (2,), env units


def render_pusht_start(seed: int = 0, size: int = 96) -> PushTStart:
    """Reset gym-pusht with ``seed`` and return its first observation."""
    os.environ.setdefault("SDL_VIDEODRIVER", "dummy")
    os.environ.setdefault("PYGAME_HIDE_SUPPORT_PROMPT", "1")
    from gym_pusht.envs.pusht import PushTEnv

    env = PushTEnv(
        obs_type="pixels_agent_pos",
        render_mode="rgb_array",
        observation_width=size,
        observation_height=size,
    )
    try:
        observation, _ = env.reset(seed=seed)
    finally:
        env.close()
    return PushTStart(
        rgb=np.ascontiguousarray(observation["pixels"], dtype=np.uint8),
        agent_xy=np.asarray(observation["agent_pos"], dtype=np.float32),
    )


def arc_actions(start_xy: np.ndarray, horizon: int, radius: float = 90.0) -> np.ndarray:
    """Absolute (x, y) targets sweeping an arc from the agent's position: (horizon, 2) float32."""
    angles = np.linspace(0.0, np.pi, horizon, dtype=np.float64)
    centre = np.asarray(start_xy, dtype=np.float64) + np.array([radius, 0.0])
    points = centre + radius * np.stack([-np.cos(angles), np.sin(angles)], axis=1)
    targets: np.ndarray = np.clip(points, WORKSPACE_LOW, WORKSPACE_HIGH).astype(np.float32)
    return targets


def demo_start(seed: int) -> DemoStart:
    """PushT's demo scene: a rendered start and an arc of targets from the agent."""
    start = render_pusht_start(seed)
    return DemoStart(start.rgb, lambda horizon: arc_actions(start.agent_xy, horizon))


def register() -> None:
    for spec in ("pusht-structured", "pusht-tiny"):
        DEMO_SCENES.register(spec, demo_start)
