"""A tiny regression model as a `Trainable`, for the loop's tests (also run under torchrun)."""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch import Tensor, nn

from dream_engine_ros.training.loop import LoopConfig, Process, join_process_group, leave_process_group, train

TRUE_WEIGHTS = np.array([[1.5, -2.0, 0.5, 3.0]], dtype=np.float32)


class Toy:
    def __init__(self) -> None:
        torch.manual_seed(0)
        self.net = nn.Sequential(nn.Linear(4, 16), nn.Tanh(), nn.Linear(16, 1))
        held = np.random.default_rng(99)
        self.held_x = held.normal(size=(64, 4)).astype(np.float32)
        self.held_y = self.held_x @ TRUE_WEIGHTS.T

    def modules(self) -> dict[str, nn.Module]:
        return {"net": self.net}

    def batch(self, rng: np.random.Generator, size: int) -> tuple[np.ndarray, np.ndarray]:
        x = rng.normal(size=(size, 4)).astype(np.float32)
        return x, x @ TRUE_WEIGHTS.T + 0.01 * rng.normal(size=(size, 1)).astype(np.float32)

    def shard(self, batch: Any, rank: int, world: int) -> Any:
        x, y = batch
        per = len(x) // world
        return x[rank * per:(rank + 1) * per], y[rank * per:(rank + 1) * per]

    def loss(self, batch: Any) -> Tensor:
        x, y = batch
        return nn.functional.mse_loss(self.net(torch.from_numpy(x)), torch.from_numpy(y))

    def evaluate(self) -> dict[str, float]:
        return {"loss": float(self.loss((self.held_x, self.held_y)))}


def run(folder: Path, steps: int, resume: bool, process: Process | None = None) -> dict[str, Any]:
    config = LoopConfig(steps=steps, batch=8, lr=1e-2, seed=3, log_every=1, eval_every=5, checkpoint_every=5)
    result = train(Toy(), config, folder, torch.device("cpu"), resume=resume, process=process)
    return {"losses": result.losses, "best_step": result.best_step, "stopped_by": result.stopped_by}


if __name__ == "__main__":  # torchrun --nproc_per_node N toy_trainable.py FOLDER STEPS RESUME OUT
    torch.set_num_threads(1)
    process = join_process_group(torch.device("cpu"))
    out = run(Path(sys.argv[1]), int(sys.argv[2]), sys.argv[3] == "1", process)
    if process.leads:
        Path(sys.argv[4]).write_text(json.dumps(out))
    leave_process_group()
