"""What an open-loop evaluation rolls out: a predictor maps (start frame, actions, seed) to T + 1
frames. One home for the engine's and the copy-first-frame baseline's, shared by every scene's
evaluation (each scene only reads its own objects back from the frames)."""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING

import numpy as np

if TYPE_CHECKING:  # the engine (torch) is imported only when a model is evaluated
    from dream_engine_ros.engine.runner import DreamEngine

Predictor = Callable[[np.ndarray, np.ndarray, int], np.ndarray]  # (start, actions, seed) -> (T+1, H, W, 3)


def copy_first_frame(start: np.ndarray, actions: np.ndarray, seed: int) -> np.ndarray:
    """The baseline every model must beat: nothing moves."""
    return np.repeat(start[None], len(actions) + 1, axis=0)


def engine_predictor(engine: DreamEngine, num_steps: int | None = None) -> Predictor:
    """The engine's `predict`, with the spec's default number of steps unless told otherwise."""
    return lambda start, actions, seed: engine.predict(start, actions, seed=seed, num_steps=num_steps).frames
