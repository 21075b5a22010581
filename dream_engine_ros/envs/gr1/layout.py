"""The GR-1 recording layout for augmentation: 29 joint targets in, DreamDojo's 384-d delta actions out.

The recording holds the 29 GR-1 joint targets (left arm 7, right arm 7, left hand 6, right hand 6,
waist 3; e.g. a JointState mapped with --action-fields). Perturbations act on the joints (no bounds),
and `actions.gr1_joints_to_actions` turns them into DreamDojo's normalised delta actions, with the
command one step before the start frame as the delta baseline (the start's own command at frame 0).
"""

from __future__ import annotations

import numpy as np

from dream_engine_ros.augment.action_layout import ACTION_LAYOUTS
from dream_engine_ros.engine.spec import ModelSpec
from dream_engine_ros.envs.gr1.actions import ACTION_DIM, GR1_NUM_JOINTS, gr1_joints_to_actions

NAME = "gr1"


class GR1JointLayout:
    recorded_name = "the GR-1 joint count (--action-layout gr1)"

    def spec_problem(self, spec: ModelSpec) -> str:
        if spec.action_dim == ACTION_DIM:
            return ""
        return f"gr1 needs a DreamDojo GR-1 spec ({ACTION_DIM}-d actions), spec {spec.name} has {spec.action_dim}"

    def recorded_dim(self, spec: ModelSpec) -> int:
        return GR1_NUM_JOINTS

    def perturbation_bounds(self, spec: ModelSpec) -> tuple[np.ndarray | None, np.ndarray | None]:
        return None, None

    def engine_actions(self, perturbed: np.ndarray, baseline: np.ndarray) -> np.ndarray:
        joints = np.concatenate([np.asarray(baseline, dtype=np.float64)[None], perturbed]).astype(np.float64)
        return gr1_joints_to_actions(joints).astype(np.float32)


def register() -> None:
    ACTION_LAYOUTS.register(NAME, GR1JointLayout())
