"""What the node needs from a world-model engine, as a Protocol.

Why: the node must not depend on the engine's internals (another team changes them), and
tests or other back ends may hand the node any object with these members. ``DreamEngine``
(engine/runner.py) satisfies it structurally; mypy checks that in ``load_dream_engine``.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING, Protocol

import numpy as np

if TYPE_CHECKING:  # the engine pulls in torch: typing only, the node module stays fast to import
    from dream_engine_ros.engine.runner import BatchRolloutResult, ChunkEvent, RolloutResult
    from dream_engine_ros.engine.spec import ModelSpec
    from dream_engine_ros.engine.validation import RequestValidator


class WorldModelEngine(Protocol):
    """The members of ``DreamEngine`` the node calls, and nothing else."""

    @property
    def spec(self) -> ModelSpec: ...

    @property
    def device(self) -> object:  # only ever printed
        ...

    @property
    def validator(self) -> RequestValidator: ...

    def predict(
        self,
        frame: np.ndarray,
        actions: np.ndarray,
        seed: int = 0,
        num_steps: int | None = None,
        guidance: float | None = None,
        on_chunk: Callable[[ChunkEvent], None] | None = None,
        should_cancel: Callable[[], bool] | None = None,
    ) -> RolloutResult: ...

    def predict_batch(
        self,
        frame: np.ndarray,
        actions: np.ndarray,
        seeds: Sequence[int] | int = 0,
        num_steps: int | None = None,
        guidance: float | None = None,
        on_chunk: Callable[[ChunkEvent], None] | None = None,
        should_cancel: Callable[[], bool] | None = None,
        fused: bool = False,
        history_frames: np.ndarray | None = None,
        history_actions: np.ndarray | None = None,
    ) -> BatchRolloutResult: ...

    def frame_distance(self, frames: np.ndarray, goal: np.ndarray) -> np.ndarray:
        """Goal scoring in the model's own terms (planning.costs, cost "last-frame")."""
        ...

    @property
    def can_roll_out_frameless(self) -> bool:
        """Whether `rollout_frameless` works: what a frameless goal cost needs."""
        ...

    def rollout_frameless(self, frame: np.ndarray, actions: np.ndarray, history_frames: np.ndarray | None = None,
                          history_actions: np.ndarray | None = None) -> np.ndarray:
        """Decode-free rollout (planning.costs: a frameless cost scores its states)."""
        ...

    def close(self) -> None: ...


EngineLoader = Callable[[str, str | None, str], WorldModelEngine]
"""(spec name, weights or None for the spec's own, device) -> a loaded engine."""
