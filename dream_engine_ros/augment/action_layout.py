"""What the recorded action vector is, and how a perturbed one becomes the engine's action input.

Layouts are registered by name (`ACTION_LAYOUTS`); an environment adds its own from its plug-in.

`raw` (here): the recording's vector is the spec's action (e.g. a target x, y); perturbations are
clipped to the spec's action bounds. A robot whose recordings hold something else (joint targets
the model takes as normalised deltas, say) registers a layout that maps them (`envs/gr1/layout.py`).
The bags store the perturbed recorded vectors (the recording's space); the engine's input follows.
"""

from __future__ import annotations

from typing import Protocol

import numpy as np

from dream_engine_ros.engine.registry import Registry
from dream_engine_ros.engine.spec import ModelSpec

RAW = "raw"


class ActionLayout(Protocol):
    """How one kind of recorded action vector is perturbed and handed to the engine."""

    @property
    def recorded_name(self) -> str:
        """What one recorded action is, for errors about its size ('' = the spec's action_dim)."""
        ...

    def spec_problem(self, spec: ModelSpec) -> str:
        """Why this layout cannot feed `spec` ('' when it can)."""
        ...

    def recorded_dim(self, spec: ModelSpec) -> int:
        """How many values one recorded action has."""
        ...

    def perturbation_bounds(self, spec: ModelSpec) -> tuple[np.ndarray | None, np.ndarray | None]:
        """Bounds perturbed actions are clipped to (None: unbounded)."""
        ...

    def engine_actions(self, perturbed: np.ndarray, baseline: np.ndarray) -> np.ndarray:
        """(T, recorded_dim) perturbed actions and the command before the start -> (T, action_dim) float32."""
        ...


class RawLayout:
    """The recorded vector is the spec's action."""

    recorded_name = ""

    def spec_problem(self, spec: ModelSpec) -> str:
        return ""

    def recorded_dim(self, spec: ModelSpec) -> int:
        return spec.action_dim

    def perturbation_bounds(self, spec: ModelSpec) -> tuple[np.ndarray | None, np.ndarray | None]:
        if not spec.action_low:
            return None, None
        return np.asarray(spec.action_low, dtype=np.float64), np.asarray(spec.action_high, dtype=np.float64)

    def engine_actions(self, perturbed: np.ndarray, baseline: np.ndarray) -> np.ndarray:
        return np.asarray(perturbed, dtype=np.float32)


ACTION_LAYOUTS: Registry[ActionLayout] = Registry("action layout")
ACTION_LAYOUTS.register(RAW, RawLayout())


def layout_names() -> list[str]:
    return ACTION_LAYOUTS.names()


def recorded_dim(layout: str, spec: ModelSpec) -> int:
    return ACTION_LAYOUTS.get(layout).recorded_dim(spec)


def perturbation_bounds(layout: str, spec: ModelSpec) -> tuple[np.ndarray | None, np.ndarray | None]:
    return ACTION_LAYOUTS.get(layout).perturbation_bounds(spec)


def engine_actions(layout: str, perturbed: np.ndarray, baseline: np.ndarray) -> np.ndarray:
    return ACTION_LAYOUTS.get(layout).engine_actions(perturbed, baseline)
