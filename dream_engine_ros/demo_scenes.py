"""Demo scenes: a start frame and a plausible plan for a spec, so demos and examples run any model.

Why: `dream-engine demo` and the example planner need a camera frame the model knows and actions
that do something visible. Those belong to the model's environment, not to the demo. An
environment registers a scene per spec name; the demo asks for the spec it runs.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import numpy as np

from dream_engine_ros.engine.registry import Registry
from dream_engine_ros.engine.spec import canonical_spec_name


@dataclass(frozen=True)
class DemoStart:
    """One scene's start: the camera frame and a plan for any horizon from it."""

    rgb: np.ndarray  # (H, W, 3) uint8, as the robot's camera would publish it
    plan: Callable[[int], np.ndarray]  # horizon -> (horizon, action_dim) float32 actions


DemoScene = Callable[[int], DemoStart]  # seed -> a start
DEMO_SCENES: Registry[DemoScene] = Registry("demo scene")


def demo_start(spec: str, seed: int) -> DemoStart:
    """The registered scene of `spec` (a spec's name or alias), drawn with `seed`; the error names the specs
    that have one."""
    return DEMO_SCENES.get(canonical_spec_name(spec))(seed)
