"""What the recorded action vector is, and how a perturbed one becomes the engine's action input.

`raw`: the recording's vector is the spec's action (PushT: the target x, y); perturbations are clipped to
the spec's action bounds.

`gr1`: the recording holds the 29 GR-1 joint targets (left arm 7, right arm 7, left hand 6, right hand 6,
waist 3; e.g. a JointState mapped with --action-fields). Perturbations act on the joints (no bounds), and
`engine.gr1_actions.gr1_joints_to_actions` turns them into DreamDojo's 384-d normalised delta actions, with
the command one step before the start frame as the delta baseline (the start's own command at frame 0).
The bags store the perturbed joints (the recording's space); the engine's input follows from them.
"""

from __future__ import annotations

from typing import Literal

import numpy as np

from ..engine.gr1_actions import GR1_NUM_JOINTS, gr1_joints_to_actions
from ..engine.spec import ModelSpec

ActionLayoutName = Literal["raw", "gr1"]
LAYOUTS: tuple[str, ...] = ("raw", "gr1")


def recorded_dim(layout: ActionLayoutName, spec: ModelSpec) -> int:
    """How many values one recorded action has."""
    return GR1_NUM_JOINTS if layout == "gr1" else spec.action_dim


def perturbation_bounds(layout: ActionLayoutName, spec: ModelSpec) -> tuple[np.ndarray | None, np.ndarray | None]:
    if layout == "gr1" or not spec.action_low:
        return None, None
    return np.asarray(spec.action_low, dtype=np.float64), np.asarray(spec.action_high, dtype=np.float64)


def engine_actions(layout: ActionLayoutName, perturbed: np.ndarray, baseline: np.ndarray) -> np.ndarray:
    """(T, recorded_dim) perturbed actions -> the (T, spec.action_dim) float32 the engine is given."""
    if layout == "gr1":
        joints = np.concatenate([np.asarray(baseline, dtype=np.float64)[None], perturbed]).astype(np.float64)
        return gr1_joints_to_actions(joints).astype(np.float32)
    return np.asarray(perturbed, dtype=np.float32)
