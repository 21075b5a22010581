"""What a model family is to the engine: a named plug-in that checks specs and loads pipelines.

Why: `DreamEngine` (runner.py) is one facade over every family. It validates requests, fits
frames and streams results; a family's pipeline does the rollout. Adding a family is one
folder under `families/` (or in another package) that registers a `Family` here; nothing in
the engine, the ROS node or the HTTP app changes (docs/add_a_family.md).
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Any, Protocol

import numpy as np

from dream_engine_ros.engine.registry import Registry

if TYPE_CHECKING:  # the spec checks itself against this registry (a run-time import would be a cycle),
    # and torch stays out of light imports (the CLI's --help, the HTTP config)
    import torch

    from dream_engine_ros.engine.results import BatchRolloutResult, CancelCheck, ChunkCallback
    from dream_engine_ros.engine.spec import ModelSpec


class FramelessRollout(Protocol):
    """Decode-free rollout for planners: each candidate's state after each action, no frame drawn.

    What a state holds is the model's own (a latent, or a structured model's scene state); a
    goal cost of the same model compares it with a goal. Rows equal the same candidates rolled
    out alone within the tolerance the implementation documents."""

    @property
    def state_size(self) -> int: ...

    def __call__(self, frames: np.ndarray, past_actions: np.ndarray, actions: np.ndarray) -> np.ndarray:
        """frames (n + 1, H, W, 3) uint8 at the spec's size, oldest first (the start frame last);
        past_actions (n, D) and actions (K, T, D) in the spec's units -> (K, T, state_size)."""
        ...

    def encode(self, images: np.ndarray) -> np.ndarray:
        """Images (N, H, W, 3) uint8 at the spec's size -> their states (N, state_size): a goal image
        in the space the rollout's states live in, so a goal cost can compare the two."""
        ...


class FamilyPipeline(Protocol):
    """A loaded model of one family: what `DreamEngine` delegates the model's work to."""

    @property
    def has_negative_context(self) -> bool:
        """Whether guidance by a negative prompt is available (request validation asks)."""
        ...

    @property
    def frameless(self) -> FramelessRollout | None:
        """The decode-free rollout, or None where the model cannot roll out without frames."""
        ...

    def rollout(self, start: np.ndarray, actions: np.ndarray, seeds: list[int], num_steps: int, guidance: float,
                on_chunk: ChunkCallback | None, should_cancel: CancelCheck | None, fused: bool,
                history: tuple[np.ndarray, np.ndarray] | None) -> BatchRolloutResult:
        """start (H, W, 3) uint8 at the spec's size, actions (K, T, D) in the spec's units (checked),
        history (frames at the spec's size, actions in the spec's units) or None."""
        ...

    def frame_distance(self, images: np.ndarray) -> np.ndarray:
        """images (N + 1, H, W, 3) uint8 at the spec's size, the goal last -> (N,) distances."""
        ...

    def close(self) -> None: ...


class Family(Protocol):
    """A model family: its spec rules and how to build a loaded pipeline from a spec."""

    @property
    def name(self) -> str: ...

    @property
    def reads_history(self) -> bool:
        """Whether a rollout may start from the frames and actions that led to the start frame."""
        ...

    @property
    def has_guidance(self) -> bool:
        """Whether the model has an unconditional branch (classifier-free guidance)."""
        ...

    def spec_problems(self, spec: ModelSpec) -> list[str]:
        """Every rule of this family the spec breaks (empty = consistent)."""
        ...

    def config_from_dict(self, data: Mapping[str, Any] | None) -> object | None:
        """The family's own `ModelSpec.config` from a spec file's "config" (None for families without one)."""
        ...

    def load(self, spec: ModelSpec, weights_dir: str | Path | None, device: torch.device,
             dtype: torch.dtype) -> FamilyPipeline:
        """Build the spec's modules on `device` and fill them from its weight files (strict)."""
        ...


FAMILIES: Registry[Family] = Registry("model family")


def family_of(spec: ModelSpec) -> Family:
    return FAMILIES.get(spec.family)
