"""The training loop every trainable model shares: seeded, resumable, time-boxed, data-parallel.

Why one loop: a team's training run must survive a crash, a full session and a second GPU the
same way whatever the model is. A model plugs in as a `Trainable` (its modules, a loss on a
batch, held-out figures); the loop owns everything else:

    1. seed torch and numpy; join the process group when launched by torchrun (WORLD_SIZE > 1);
    2. resume from `checkpoint.pt` in the run folder if asked (any process count: the
       checkpoint holds the plain modules, the optimiser and the step);
    3. per step: draw the global batch from a generator seeded by (seed, step), so every process
       sees the same batch and takes its own slice; loss, backward (gradients averaged across
       processes), clip, optimiser step;
    4. every `log_every` steps a log line (a progress line with ETA on a terminal); every
       `eval_every` the held-out figures (of the weights' moving average when `ema` > 0);
       every `checkpoint_every` and at the end a checkpoint, written atomically (a crash
       leaves the last complete one);
    5. stop at `steps` or when the time budget is spent, keeping the best held-out state.

One process and N processes follow the same loss curve up to the order of float sums: the
global batch is the same and the mean of N slice means (equal slices) is the batch mean.
"""

from __future__ import annotations

import math
import os
import sys
import time
from collections.abc import Callable, Iterator, Mapping
from contextlib import AbstractContextManager, contextmanager, nullcontext
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any, Protocol

import numpy as np
import torch
import torch.distributed as dist
from torch import Tensor, nn

from dream_engine_ros.atomic_file import atomic_output

CHECKPOINT = "checkpoint.pt"


class Trainable(Protocol):
    """What a model gives the loop."""

    def modules(self) -> Mapping[str, nn.Module]:
        """The trained modules by name (saved in checkpoints, averaged across processes)."""
        ...

    def batch(self, rng: np.random.Generator, size: int) -> Any:
        """A global training batch of `size` samples drawn with `rng` (the same on every process)."""
        ...

    def shard(self, batch: Any, rank: int, world: int) -> Any:
        """This process's equal slice of a global batch."""
        ...

    def loss(self, batch: Any) -> Tensor:
        """The mean loss over the (local) batch."""
        ...

    def evaluate(self) -> dict[str, float]:
        """Held-out figures; the loop keeps the state with the lowest "loss" among them."""
        ...


@dataclass(frozen=True)
class LoopConfig:
    steps: int = 1000
    batch: int = 16
    lr: float = 3e-4
    weight_decay: float = 0.0
    clip: float = 1.0
    seed: int = 0
    time_budget_s: float = math.inf
    log_every: int = 50
    eval_every: int = 250
    checkpoint_every: int = 250
    bf16: bool = True  # autocast on CUDA only; CPU runs stay float32
    ema: float = 0.0  # > 0: held-out figures, the best state and the result use an exponential moving average

    def __post_init__(self) -> None:
        for name in ("steps", "batch", "log_every", "eval_every", "checkpoint_every"):
            if getattr(self, name) < 1:
                raise ValueError(f"{name} must be >= 1, got {getattr(self, name)}")
        if not self.lr > 0 or not self.time_budget_s > 0:
            raise ValueError("lr and time_budget_s must be positive")


@dataclass
class LoopResult:
    steps_done: int
    stopped_by: str  # "steps" or "time budget"
    losses: list[tuple[int, float]] = field(default_factory=list)  # (step, mean training loss since the last log)
    evals: list[tuple[int, dict[str, float]]] = field(default_factory=list)
    best_step: int | None = None
    best_state: dict[str, dict[str, Tensor]] | None = None
    seconds: float = 0.0


@dataclass(frozen=True)
class Process:
    """This process's place in a data-parallel run (rank 0 of 1 when run alone)."""

    rank: int = 0
    world: int = 1

    @property
    def leads(self) -> bool:
        return self.rank == 0


def join_process_group(device: torch.device) -> Process:
    """Join the group torchrun started (gloo on CPU, NCCL on CUDA); alone otherwise."""
    world = int(os.environ.get("WORLD_SIZE", "1"))
    if world <= 1:
        return Process()
    if not dist.is_initialized():
        dist.init_process_group("nccl" if device.type == "cuda" else "gloo")
    return Process(dist.get_rank(), dist.get_world_size())


def leave_process_group() -> None:
    """Wait for every process, then close the group torchrun started (nothing when alone).

    Why: a process that exits with the group still open leaves gloo's threads running into the
    interpreter's teardown, which can abort it (SIGABRT) after the work is done."""
    if dist.is_initialized():
        dist.barrier()
        dist.destroy_process_group()


def _average_gradients(modules: Mapping[str, nn.Module], world: int) -> None:
    if world == 1:
        return
    for module in modules.values():
        for param in module.parameters():
            if param.grad is not None:
                dist.all_reduce(param.grad, op=dist.ReduceOp.SUM)
                param.grad.div_(world)


def _state(modules: Mapping[str, nn.Module]) -> dict[str, dict[str, Tensor]]:
    return {name: {k: v.detach().cpu().clone() for k, v in module.state_dict().items()}
            for name, module in modules.items()}


class Progress:
    """A progress line with ETA and loss on a terminal; a log line per call otherwise."""

    def __init__(self, total: int, stream: Any = None) -> None:
        self.total = total
        self.stream = stream if stream is not None else sys.stderr
        self.tty = bool(getattr(self.stream, "isatty", lambda: False)())
        self.started = time.monotonic()

    def update(self, step: int, loss: float, first_step: int) -> None:
        elapsed = time.monotonic() - self.started
        done = max(step - first_step, 1)
        eta = elapsed / done * (self.total - step)
        text = f"step {step}/{self.total} loss {loss:.5f} elapsed {elapsed:.0f}s eta {eta:.0f}s"
        if self.tty:
            width = 30
            filled = int(width * step / max(self.total, 1))
            self.stream.write(f"\r[{'#' * filled}{'.' * (width - filled)}] {text}")
        else:
            self.stream.write(text + "\n")
        self.stream.flush()

    def close(self) -> None:
        if self.tty:
            self.stream.write("\n")
            self.stream.flush()


class WeightAverage:
    """An exponential moving average of the modules' parameters (buffers are taken as they are).

    Why: a time-boxed run stops at a constant learning rate, where the weights still jitter
    around their minimum; their moving average sits nearer it (as diffusion models are evaluated).
    The decay ramps up as min(decay, (1 + step) / (10 + step)), so early averages are not
    dominated by the random initialisation."""

    def __init__(self, modules: Mapping[str, nn.Module], decay: float) -> None:
        self.modules, self.decay = modules, decay
        self.averages = {name: {k: p.detach().float().clone() for k, p in module.named_parameters()}
                         for name, module in modules.items()}

    def load(self, averages: dict[str, dict[str, Tensor]]) -> None:
        """Averages from a checkpoint (read on the CPU), moved to each parameter's device."""
        for name, module in self.modules.items():
            for key, param in module.named_parameters():
                self.averages[name][key] = averages[name][key].to(param.device, torch.float32)

    @torch.no_grad()
    def update(self, step: int) -> None:
        decay = min(self.decay, (1.0 + step) / (10.0 + step))
        for name, module in self.modules.items():
            for key, param in module.named_parameters():
                self.averages[name][key].lerp_(param.detach().float(), 1.0 - decay)

    def state(self) -> dict[str, dict[str, Tensor]]:
        """Each module's state dict with its parameters replaced by their averages."""
        states = _state(self.modules)
        for name, averages in self.averages.items():
            for key, value in averages.items():
                states[name][key] = value.to(states[name][key].dtype).clone()
        return states

    @contextmanager
    def applied(self) -> Iterator[None]:
        """The averages in the modules for the block's duration, the live weights restored after."""
        live = _state(self.modules)
        for name, module in self.modules.items():
            module.load_state_dict(self.state()[name])
        try:
            yield
        finally:
            for name, module in self.modules.items():
                module.load_state_dict(live[name])


def save_checkpoint(folder: Path, step: int, modules: Mapping[str, nn.Module], optimiser: torch.optim.Optimizer,
                    config: LoopConfig, best: tuple[int | None, float, dict[str, dict[str, Tensor]] | None],
                    history: LoopResult, average: WeightAverage | None = None) -> Path:
    """`folder/checkpoint.pt`, atomically: a crash mid-write leaves the previous one whole."""
    target = folder / CHECKPOINT
    payload = {
        "step": step, "modules": _state(modules), "optimiser": optimiser.state_dict(), "config": asdict(config),
        "best_step": best[0], "best_loss": best[1], "best_state": best[2],
        "losses": history.losses, "evals": history.evals,
        "averages": average.averages if average is not None else None,
    }
    with atomic_output(target) as tmp:
        torch.save(payload, tmp)
    return target


def load_checkpoint(folder: Path) -> dict[str, Any]:
    path = folder / CHECKPOINT
    try:
        payload: dict[str, Any] = torch.load(path, map_location="cpu", weights_only=True)
    except FileNotFoundError:
        raise FileNotFoundError(f"--resume: no checkpoint at {path}") from None
    except Exception as error:  # a truncated or foreign file: name it
        raise ValueError(f"--resume: {path} is not a readable checkpoint: {error}") from None
    return payload


def train(trainable: Trainable, config: LoopConfig, folder: Path, device: torch.device, resume: bool = False,
          process: Process | None = None, log: Callable[[str], None] | None = None,
          progress: Progress | None = None) -> LoopResult:
    """Run the loop (steps 1-5 of the module docstring); rank 0 writes the checkpoints."""
    process = process or Process()
    torch.manual_seed(config.seed)
    modules = trainable.modules()
    params = [p for module in modules.values() for p in module.parameters()]
    optimiser = torch.optim.AdamW(params, lr=config.lr, weight_decay=config.weight_decay)
    result = LoopResult(0, "steps")
    best: tuple[int | None, float, dict[str, dict[str, Tensor]] | None] = (None, math.inf, None)
    first = 0
    saved_averages = None
    if resume:
        payload = load_checkpoint(folder)
        saved_averages = payload.get("averages")
        for name, module in modules.items():
            module.load_state_dict(payload["modules"][name])
        optimiser.load_state_dict(payload["optimiser"])
        first = int(payload["step"])
        best = (payload["best_step"], float(payload["best_loss"]), payload["best_state"])
        result.losses = [(int(s), float(v)) for s, v in payload["losses"]]
        result.evals = [(int(s), dict(figures)) for s, figures in payload["evals"]]
    average = WeightAverage(modules, config.ema) if config.ema > 0 else None
    if average is not None and saved_averages is not None:
        average.load(saved_averages)
    started = time.monotonic()
    autocast: Callable[[], AbstractContextManager[Any]] = (
        (lambda: torch.autocast("cuda", dtype=torch.bfloat16)) if config.bf16 and device.type == "cuda"
        else nullcontext)
    running: list[float] = []
    step = first
    for step in range(first + 1, config.steps + 1):
        for module in modules.values():
            module.train()
        rng = np.random.default_rng([config.seed, step])
        batch = trainable.shard(trainable.batch(rng, config.batch), process.rank, process.world)
        with autocast():
            loss = trainable.loss(batch)
        optimiser.zero_grad(set_to_none=True)
        loss.backward()  # type: ignore[no-untyped-call]  # Tensor.backward is untyped in this torch build
        _average_gradients(modules, process.world)
        if config.clip > 0:
            torch.nn.utils.clip_grad_norm_(params, config.clip)
        optimiser.step()
        if average is not None:
            average.update(step)
        value = float(loss.detach())
        if process.world > 1:
            reduced = torch.tensor([value], dtype=torch.float64)
            dist.all_reduce(reduced, op=dist.ReduceOp.SUM)
            value = float(reduced[0]) / process.world
        running.append(value)
        out_of_time = time.monotonic() - started >= config.time_budget_s
        if process.world > 1:  # every process stops at the same step, or the next all-reduce hangs
            flag = torch.tensor([1.0 if out_of_time else 0.0])
            dist.all_reduce(flag, op=dist.ReduceOp.MAX)
            out_of_time = bool(flag[0] > 0)
        last = step == config.steps or out_of_time
        if step % config.log_every == 0 or last:
            mean = float(np.mean(running))
            result.losses.append((step, mean))
            running = []
            if process.leads and progress is not None:
                progress.update(step, mean, first)
        if step % config.eval_every == 0 or last:
            for module in modules.values():
                module.eval()
            with torch.no_grad(), (average.applied() if average is not None else nullcontext()):
                figures = trainable.evaluate()
            result.evals.append((step, figures))
            if figures.get("loss", math.inf) < best[1]:
                best = (step, figures["loss"], average.state() if average is not None else _state(modules))
            if log is not None and process.leads:
                log(f"step {step}: " + ", ".join(f"{k} {v:.5f}" for k, v in figures.items()))
        if process.leads and (step % config.checkpoint_every == 0 or last):
            save_checkpoint(folder, step, modules, optimiser, config, best, result, average)
        if out_of_time:
            result.stopped_by = "time budget"
            break
    if progress is not None and process.leads:
        progress.close()
    result.steps_done = step
    result.best_step, result.best_state = best[0], best[2]
    result.seconds = time.monotonic() - started
    return result

