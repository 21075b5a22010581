"""Roll sample tasks out: in this process, or on Ray actors that each load the engine once.

Why actors: loading a model costs far more than one short rollout, so every worker keeps its engine for the
whole run. The driver keeps at most `IN_FLIGHT_PER_WORKER` tasks per actor outstanding and takes results
as they finish (`ray.wait`), so memory holds a few rollouts, never the whole set, and the writer (in the
driver) works while the actors compute. Results do not depend on which worker ran a task: a rollout is a
function of (start frame, actions, seed) only, with the same torch thread count everywhere.

Ray: `workers > 0` without an address starts a local cluster of that many CPUs (stopped at the end);
`ray_address` joins a running one (`ray start --head` on one machine, `ray start --address HEAD:6379` on
the others) and leaves it running. One GPU per actor where the cluster has GPUs and the device allows.
"""

from __future__ import annotations

import os
import resource
import socket
import sys
import time
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

IN_FLIGHT_PER_WORKER = 2


@dataclass
class RolloutTask:
    """What a worker needs for one sample (nothing else travels to it)."""

    sample_id: str
    frame: np.ndarray  # (H, W, 3) uint8 start frame, any size (the engine fits it)
    actions: np.ndarray  # (T, D) float32
    seed: int


@dataclass
class RolloutOutcome:
    sample_id: str
    frames: np.ndarray  # (T + 1, h, w, 3) uint8
    rollout_s: float
    worker: str
    peak_rss_mb: float
    device: str


OutcomeHandler = Callable[[RolloutOutcome], None]


def peak_rss_mb() -> float:
    """This process's peak resident memory (Linux reports KiB, macOS bytes)."""
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    return peak / (1024 * 1024) if sys.platform == "darwin" else peak / 1024


class RolloutWorker:
    """One loaded engine; `rollout` turns a task into frames. Used in-process and as the Ray actor class."""

    def __init__(self, spec: str, weights: str | None, device: str, torch_threads: int,
                 num_steps: int | None = None) -> None:
        import torch

        from dream_engine_ros.engine.runner import DreamEngine

        torch.set_num_threads(max(1, int(torch_threads)))
        self.engine = DreamEngine.load(spec, weights=weights, device=device)
        self.num_steps = num_steps
        self.name = f"{socket.gethostname()}:{os.getpid()}"

    def rollout(self, task: RolloutTask) -> RolloutOutcome:
        start = time.perf_counter()
        result = self.engine.predict(task.frame, task.actions, seed=task.seed, num_steps=self.num_steps)
        return RolloutOutcome(task.sample_id, result.frames, time.perf_counter() - start, self.name, peak_rss_mb(),
                              str(self.engine.device))


@dataclass(frozen=True)
class EngineSettings:
    spec: str
    weights: str | None = None
    device: str = "auto"
    torch_threads: int = 1
    num_steps: int | None = None


class LocalExecutor:
    """Everything in this process, one task after the other (`--workers 0`)."""

    def __init__(self, settings: EngineSettings) -> None:
        self.settings = settings
        self.workers = 1

    def run(self, tasks: Iterable[RolloutTask], on_outcome: OutcomeHandler) -> None:
        s = self.settings
        worker = RolloutWorker(s.spec, s.weights, s.device, s.torch_threads, s.num_steps)
        for task in tasks:
            on_outcome(worker.rollout(task))


class RayExecutor:
    """Ray actors, each with its own engine; tasks streamed to them, results streamed back."""

    def __init__(self, settings: EngineSettings, workers: int | None, address: str | None = None,
                 temp_dir: str | None = None) -> None:
        self.settings = settings
        self.requested = workers
        self.address = address
        self.temp_dir = temp_dir
        self.workers = 0

    def _connect(self) -> bool:
        """Join or start a cluster; True when this call started one (and must stop it)."""
        import ray

        if ray.is_initialized():
            return False
        if self.address:
            ray.init(address=self.address, include_dashboard=False, log_to_driver=True)
            return True
        # Local actors are processes of this machine: let them import the same package as this driver.
        # (the cluster's processes inherit the environment at start; this process's is restored afterwards)
        package_parent = str(Path(__file__).resolve().parents[2])
        before = os.environ.get("PYTHONPATH")
        paths = [p for p in (before or "").split(os.pathsep) if p]
        os.environ["PYTHONPATH"] = os.pathsep.join([package_parent, *(p for p in paths if p != package_parent)])
        try:
            ray.init(num_cpus=max(1, self.requested or 1), include_dashboard=False, log_to_driver=True,
                     _temp_dir=self.temp_dir)
        finally:
            if before is None:
                os.environ.pop("PYTHONPATH", None)
            else:
                os.environ["PYTHONPATH"] = before
        return True

    def _actor_count(self, gpus_per_actor: float) -> int:
        import ray

        if self.requested:
            return int(self.requested)
        resources = ray.cluster_resources()
        if gpus_per_actor:
            return max(1, int(resources.get("GPU", 0)))
        return max(1, int(resources.get("CPU", 1)))

    def run(self, tasks: Iterable[RolloutTask], on_outcome: OutcomeHandler) -> None:
        import ray

        started = self._connect()
        actors: list[Any] = []
        try:
            has_gpu = ray.cluster_resources().get("GPU", 0) >= 1
            gpus = 1.0 if has_gpu and self.settings.device in ("auto", "cuda") else 0.0
            count = self._actor_count(gpus)
            self.workers = count
            s = self.settings
            device = "cuda" if gpus else ("cpu" if s.device == "auto" else s.device)
            actor_class = ray.remote(num_cpus=1, num_gpus=gpus, max_restarts=2, max_task_retries=2)(RolloutWorker)
            actors = [actor_class.remote(s.spec, s.weights, device, s.torch_threads, s.num_steps)
                      for _ in range(count)]
            self._stream(ray, actors, iter(tasks), on_outcome)
        finally:
            for actor in actors:
                ray.kill(actor)
            if started:
                ray.shutdown()

    @staticmethod
    def _stream(ray: Any, actors: list[Any], tasks: Iterator[RolloutTask], on_outcome: OutcomeHandler) -> None:
        pending: dict[Any, Any] = {}  # object ref -> the actor running it

        def submit(actor: Any) -> bool:
            task = next(tasks, None)
            if task is None:
                return False
            pending[actor.rollout.remote(task)] = actor
            return True

        for actor in actors:
            for _ in range(IN_FLIGHT_PER_WORKER):
                if not submit(actor):
                    break
        while pending:
            ready, _ = ray.wait(list(pending), num_returns=1)
            for ref in ready:
                actor = pending.pop(ref)
                outcome: RolloutOutcome = ray.get(ref)
                on_outcome(outcome)
                submit(actor)
