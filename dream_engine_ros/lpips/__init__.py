"""LPIPS (AlexNet, v0.1 heads) from local weight files; see ``weights`` for where they are found."""

from __future__ import annotations

import os

from dream_engine_ros.lpips.network import AlexLpips
from dream_engine_ros.lpips.weights import LpipsWeights, LpipsWeightsError, find_weights

__all__ = ["AlexLpips", "LpipsModel", "LpipsWeights", "LpipsWeightsError", "find_weights", "load_lpips"]


class LpipsModel(AlexLpips):
    """The network plus where its weights came from (reports name the source)."""

    def __init__(self, weights: LpipsWeights, device: str = "cpu") -> None:
        super().__init__(weights.tensors, device)
        self.source = weights.source


def load_lpips(path: str | os.PathLike[str] | None = None, device: str = "cpu") -> LpipsModel:
    """Find the weights (raising LpipsWeightsError naming every place looked) and build the network."""
    return LpipsModel(find_weights(path), device)
