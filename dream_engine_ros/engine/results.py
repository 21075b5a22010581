"""What a rollout returns and streams: shared by every family and the `DreamEngine` facade."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field

import numpy as np


@dataclass(frozen=True)
class ChunkEvent:
    """What a streaming consumer gets after each decoded chunk."""

    chunk_index: int
    chunks_total: int
    frames: np.ndarray  # (n, H, W, 3) uint8 for predict; (K, n, H, W, 3) for predict_batch
    first_frame_index: int
    elapsed_s: float


@dataclass
class RolloutResult:
    frames: np.ndarray  # (T + 1, H, W, 3) uint8
    seed: int
    num_steps: int
    guidance: float
    timings: dict[str, float] = field(default_factory=dict)


@dataclass
class BatchRolloutResult:
    frames: np.ndarray  # (K, T + 1, H, W, 3) uint8
    seeds: list[int]
    num_steps: int
    guidance: float
    timings: dict[str, float] = field(default_factory=dict)

    def candidate(self, k: int) -> RolloutResult:
        return RolloutResult(self.frames[k], self.seeds[k], self.num_steps, self.guidance, dict(self.timings))


ChunkCallback = Callable[[ChunkEvent], None]
CancelCheck = Callable[[], bool]
