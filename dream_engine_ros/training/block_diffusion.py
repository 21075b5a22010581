"""Train a block-diffusion world model from recordings into a model folder (`dream-engine train`).

    1. read the recordings (`training/data.py`): episodes at the model's resolution, a seeded
       train / held-out split, action statistics; they become the spec's action bounds, so the
       model sees actions in [-1, 1] exactly as `ModelSpec.normalise_actions` maps them;
    2. stage "tokenizer": the per-frame autoencoder learns to reconstruct training frames; then
       its latent statistics are measured on training frames and stored in its weights;
    3. stage "dynamics": the tokenizer frozen, every training frame is encoded once into an on-disk
       latent store (`LatentStore`); the chunk denoiser learns to predict each chunk's clean latents
       from noise, its actions and the true earlier chunks (teacher forcing through the KV cache,
       `ChunkDenoiser.loss`), at flow times drawn per chunk;
    4. the folder gets the best held-out weights of each stage, the spec file LAST (a folder
       without `spec.json` is not a model: a crash never leaves one that looks finished), the
       split, the action statistics, `report.json` and `loss_curve.png`.

Both stages run in the shared loop (`training/loop.py`): seeded, resumable from their own
checkpoint (`DIR/train/<stage>/checkpoint.pt`), time-boxed, data-parallel under torchrun. Once
the dynamics stage has a checkpoint, a resumed run leaves the tokenizer as it is (the dynamics
learned its latents), so `--resume` with a new budget only trains the dynamics further.
Only frames and actions are read: the model learns nothing else.
"""

from __future__ import annotations

import dataclasses
import hashlib
import resource
import shutil
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch import Tensor, nn

from dream_engine_ros.atomic_file import atomic_output
from dream_engine_ros.augment.recording import RecordingOptions
from dream_engine_ros.engine.families.block_diffusion.config import BlockDiffusionConfig
from dream_engine_ros.engine.families.block_diffusion.dynamics import ChunkDenoiser
from dream_engine_ros.engine.families.block_diffusion.tokenizer import FrameTokenizer
from dream_engine_ros.engine.model_dir import write_spec_file
from dream_engine_ros.engine.spec import ModelSpec, WeightsLocation
from dream_engine_ros.engine.weights import save_module_weights
from dream_engine_ros.training.data import TrainingData
from dream_engine_ros.training.loop import LoopConfig, LoopResult, Process, Progress, load_checkpoint, train
from dream_engine_ros.training.report import plot_loss_curve, write_report

FAMILY = "block-diffusion"
WEIGHT_FILES = {"tokenizer": "tokenizer.safetensors", "dynamics": "dynamics.safetensors"}


@dataclass(frozen=True)
class TrainSettings:
    """What `dream-engine train` is told (the defaults are the documented recipe)."""

    inputs: tuple[str, ...]
    out: Path
    options: RecordingOptions
    resolution: int = 96
    fps: float = 10.0
    chunk_size: int = 4
    chunks_per_window: int = 2  # chunks a dynamics training clip holds after its start frame
    num_steps: int = 2
    time_budget_s: float = 45 * 60.0
    tokenizer_share: float = 0.3  # of the time budget (the dynamics stage gets the rest)
    tokenizer_steps: int = 4000
    dynamics_steps: int = 20000
    batch: int = 16
    lr: float = 1e-3
    change_weight: float = 9.0  # dynamics loss: a latent cell that changed weighs 1 + this (`change_weights`)
    ema: float = 0.999  # both stages keep (and are judged and saved by) this moving average of their weights
    context_noise: float = 0.0  # dynamics: the conditioning latents get Gaussian noise of std up to this
    held_out: float = 0.1
    seed: int = 0
    resume: bool = False
    config: BlockDiffusionConfig | None = None  # None: the default architecture for the action size
    log_every: int = 50
    eval_every: int = 500
    held_out_windows: int = 32
    cache_episodes: int = 32  # decoded episodes kept (bounded memory: frames are streamed from the recordings)

    @property
    def window(self) -> int:
        return 1 + self.chunk_size * self.chunks_per_window


class TokenizerStage:
    """Stage 2: frames -> reconstruction loss (frames drawn from training windows)."""

    def __init__(self, data: TrainingData, tokenizer: FrameTokenizer, device: torch.device, held_out: Any) -> None:
        self.data, self.tokenizer, self.device, self.held_out = data, tokenizer, device, held_out

    def modules(self) -> dict[str, nn.Module]:
        return {"tokenizer": self.tokenizer}

    def batch(self, rng: np.random.Generator, size: int) -> np.ndarray:
        windows = _draw(self.data, rng, size)
        pick = rng.integers(0, windows.frames.shape[1], size=size)
        frames: np.ndarray = windows.frames[np.arange(size), pick]  # (B, H, W, 3): one frame of each window
        return frames

    def shard(self, batch: np.ndarray, rank: int, world: int) -> np.ndarray:
        per = len(batch) // world
        return batch[rank * per:(rank + 1) * per]

    def loss(self, batch: np.ndarray) -> Tensor:
        return self.tokenizer.loss(torch.from_numpy(batch).to(self.device))

    def evaluate(self) -> dict[str, float]:
        frames = self.held_out.frames.reshape(-1, *self.held_out.frames.shape[2:])
        return {"loss": float(self.tokenizer.loss(torch.from_numpy(frames).to(self.device)))}


class LatentStore:
    """The frozen tokenizer's latents of every training frame, encoded once and kept on disk.

    Why: the dynamics stage reads each window's latents at every step; encoding its frames again
    each time cost more than the denoiser itself. Each episode is encoded the first time a batch
    needs it (its frames streamed from the recording, in fixed groups, so the numbers do not depend
    on the batch) into `folder/<episode>.npy`, then read through a memory map: memory stays bounded
    by the OS page cache, whatever the dataset's size."""

    def __init__(self, data: TrainingData, tokenizer: FrameTokenizer, device: torch.device, folder: Path,
                 group: int = 16) -> None:
        self.data, self.tokenizer, self.device, self.folder, self.group = data, tokenizer, device, folder, group
        folder.mkdir(parents=True, exist_ok=True)
        self.maps: dict[int, np.ndarray] = {}

    def _episode(self, episode: int) -> np.ndarray:
        if episode in self.maps:
            return self.maps[episode]
        path = self.folder / f"{episode:06d}.npy"
        if not path.is_file():
            frames = self.data.episodes[episode].recording.frame_ok.size
            wanted = sorted({k for s in self.data.episodes[episode].starts for k in range(s, s + self.data.window)})
            config = self.tokenizer.config
            height, width = self.data.resolution
            out = np.zeros((frames, config.latent_channels, height // config.stride, width // config.stride),
                           np.float32)
            with torch.no_grad():
                for lo in range(0, len(wanted), self.group):
                    indices = wanted[lo:lo + self.group]
                    fitted = self.data.load_fitted(episode, indices)
                    pixels = torch.from_numpy(np.stack([fitted[k] for k in indices])).to(self.device)
                    out[indices] = self.tokenizer.encode(pixels).float().cpu().numpy()
            with atomic_output(path) as tmp:
                with tmp.open("wb") as handle:
                    np.save(handle, out)
        self.maps[episode] = np.load(path, mmap_mode="r")
        return self.maps[episode]

    def window(self, episode: int, start: int) -> np.ndarray:
        """(window, z, h, w) latents of one window."""
        return np.asarray(self._episode(episode)[start:start + self.data.window])


def tokenizer_fingerprint(tokenizer: FrameTokenizer) -> str:
    """A short hash of the tokenizer's weights and latent statistics (every tensor, in key order)."""
    digest = hashlib.sha256()
    for key, tensor in sorted(tokenizer.state_dict().items()):
        digest.update(key.encode())
        digest.update(tensor.detach().cpu().contiguous().numpy().tobytes())
    return digest.hexdigest()[:16]


def latent_store_folder(stage_dir: Path, tokenizer: FrameTokenizer, rank: int) -> Path:
    """This process's latent store for this tokenizer; stores of other tokenizers are removed.

    Why the fingerprint: `--resume` may continue a tokenizer stage the time budget had stopped, and
    latents encoded by the earlier weights must then not be read back as the new ones'."""
    folder = stage_dir / f"latents-{tokenizer_fingerprint(tokenizer)}-rank{rank}"
    for stale in stage_dir.glob(f"latents-*rank{rank}"):
        if stale != folder and stale.is_dir():
            shutil.rmtree(stale)
    return folder


class DynamicsStage:
    """Stage 3: windows -> teacher-forced x0 loss over each chunk (the tokenizer frozen)."""

    def __init__(self, data: TrainingData, tokenizer: FrameTokenizer, dynamics: ChunkDenoiser, spec: ModelSpec,
                 chunks: int, device: torch.device, held_out: Any, store: LatentStore, change_weight: float = 0.0,
                 context_noise: float = 0.0) -> None:
        self.data, self.tokenizer, self.dynamics, self.spec = data, tokenizer, dynamics, spec
        self.chunks, self.device, self.held_out, self.store = chunks, device, held_out, store
        self.change_weight, self.context_noise = change_weight, context_noise
        with torch.no_grad():  # the held-out windows' latents, once
            frames = torch.from_numpy(held_out.frames).to(device)
            self.held_latents = np.stack([tokenizer.encode(clip).float().cpu().numpy() for clip in frames])

    def modules(self) -> dict[str, nn.Module]:
        return {"dynamics": self.dynamics}

    def batch(self, rng: np.random.Generator, size: int) -> dict[str, np.ndarray]:
        episodes, starts = _pick(self.data, rng, size)
        latents = np.stack([self.store.window(e, s) for e, s in zip(episodes, starts, strict=True)])
        actions = np.stack([self.data.episodes[e].recording.actions[s:s + self.data.window - 1]
                            for e, s in zip(episodes, starts, strict=True)]).astype(np.float32)
        return _clip(latents, actions, self.spec, self.chunks, rng, self.context_noise)

    def shard(self, batch: dict[str, np.ndarray], rank: int, world: int) -> dict[str, np.ndarray]:
        per = len(batch["latents"]) // world
        return {key: value[rank * per:(rank + 1) * per] for key, value in batch.items()}

    def loss(self, batch: dict[str, np.ndarray]) -> Tensor:
        return self._loss(batch, self.change_weight)

    def _loss(self, batch: dict[str, np.ndarray], change_weight: float) -> Tensor:
        latents, actions, times, noise = (torch.from_numpy(batch[key]).to(self.device)
                                          for key in ("latents", "actions", "times", "noise"))
        context = torch.from_numpy(batch["context"]).to(self.device) if "context" in batch else None
        return self.dynamics.loss(latents, actions, times, noise, context, change_weight)

    def evaluate(self) -> dict[str, float]:
        """Held-out x0 MSE, unweighted and from clean context (comparable across settings), and the
        change-weighted one (what the moving cells alone would say)."""
        rng = np.random.default_rng(12345)  # the same noise and times at every evaluation
        clip = _clip(self.held_latents, self.held_out.actions, self.spec, self.chunks, rng)
        figures = {"loss": float(self._loss(clip, 0.0))}
        if self.change_weight > 0:
            figures["weighted_loss"] = float(self._loss(clip, self.change_weight))
        return figures


def _pick(data: TrainingData, rng: np.random.Generator, size: int) -> tuple[list[int], list[int]]:
    """`size` training windows (episode, start) drawn uniformly with `rng`."""
    pool = data.pool("train")
    counts = np.array([len(data.episodes[i].starts) for i in pool])
    ends = np.cumsum(counts)
    picks = rng.integers(0, int(ends[-1]), size=size)
    slots = np.searchsorted(ends, picks, side="right")
    episodes = [pool[slot] for slot in slots]
    starts = [data.episodes[e].starts[int(p - (ends[s] - counts[s]))] for e, p, s in zip(episodes, picks, slots,
                                                                                       strict=True)]
    return episodes, starts


def _draw(data: TrainingData, rng: np.random.Generator, size: int) -> Any:
    """`size` training windows drawn uniformly with `rng`, their frames decoded."""
    episodes, starts = _pick(data, rng, size)
    return data.batch(episodes, starts)


def _clip(latents: np.ndarray, actions: np.ndarray, spec: ModelSpec, chunks: int,
          rng: np.random.Generator, context_noise: float = 0.0) -> dict[str, np.ndarray]:
    """A dynamics batch: window latents (B, window, z, h, w), actions normalised by the spec's bounds,
    per-chunk flow times in (0, 1] and the noise, drawn from `rng` (so every process draws the same);
    with `context_noise`, a corrupted copy of the latents to condition on (per row a noise std
    drawn uniformly up to it)."""
    size = len(latents)
    steps = actions.shape[1]
    times = 1.0 - rng.random((size, chunks))  # (0, 1]: every chunk learns every noise level
    noise = rng.standard_normal((size, steps, *latents.shape[2:]))
    batch = {"latents": latents.astype(np.float32), "actions": spec.normalise_actions(actions).astype(np.float32),
             "times": times.astype(np.float32), "noise": noise.astype(np.float32)}
    if context_noise > 0:
        levels = context_noise * rng.random((size, 1, 1, 1, 1))
        batch["context"] = (latents + levels * rng.standard_normal(latents.shape)).astype(np.float32)
    return batch


def _inputs_summary(inputs: tuple[str, ...]) -> str:
    """The inputs as a spec's description names them: all of a few, the first and a count of many."""
    if len(inputs) <= 3:
        return ", ".join(inputs)
    return f"{len(inputs)} inputs ({inputs[0]}, ..., {inputs[-1]})"


def spec_for(settings: TrainSettings, data: TrainingData) -> ModelSpec:
    """The trained model's spec: geometry and action interface from the data, bounds from its statistics."""
    config = settings.config or BlockDiffusionConfig(action_dim=data.action_dim)
    height, width = data.resolution
    return ModelSpec(
        name=settings.out.name, family=FAMILY,
        description=(f"Block-diffusion world model trained by `dream-engine train` on {len(data.episodes)} episodes "
                     f"from {_inputs_summary(settings.inputs)}; frames and actions only."),
        height=height, width=width, chunk_size=settings.chunk_size, action_dim=data.action_dim, fps=data.fps,
        num_steps=settings.num_steps, guidance=0.0, shift=1.0, solver="euler", dtype="float32", threading="latent",
        uncond="null-action", tokenizer=None, backbone=None, weights=WeightsLocation(files=dict(WEIGHT_FILES)),
        action_low=tuple(float(v) for v in data.stats.low), action_high=tuple(float(v) for v in data.stats.high),
        config=config,
    )


@dataclass
class TrainOutcome:
    spec: ModelSpec
    folder: Path
    stages: dict[str, LoopResult] = field(default_factory=dict)
    seconds: float = 0.0


def _held_out_windows(data: TrainingData, count: int) -> Any:
    windows = (data.window_list("held_out") if data.held_out else data.window_list("train"))[:count]
    episodes, starts = zip(*windows, strict=True)
    return data.batch(list(episodes), list(starts))


def _load_best(module: nn.Module, result: LoopResult, name: str) -> None:
    if result.best_state is not None:
        module.load_state_dict(result.best_state[name])


@torch.no_grad()
def measure_latent_stats(tokenizer: FrameTokenizer, frames: np.ndarray, device: torch.device) -> None:
    """Per-channel mean and std of the raw bottleneck over training frames, stored as the tokenizer's stats."""
    tokenizer.set_latent_stats(torch.zeros_like(tokenizer.latent_mean), torch.ones_like(tokenizer.latent_std))
    raw = tokenizer.encode(torch.from_numpy(frames).to(device)).float()
    tokenizer.set_latent_stats(raw.mean(dim=(0, 2, 3)), raw.std(dim=(0, 2, 3)).clamp_min(1e-3))


def train_block_diffusion(settings: TrainSettings, device: torch.device, process: Process | None = None,
                          log: Any = print) -> TrainOutcome:
    """Steps 1-4 of the module docstring; rank 0 writes the folder."""
    process = process or Process()
    started = time.monotonic()
    torch.manual_seed(settings.seed)
    # 1. the data and the spec
    data = TrainingData.build(settings.inputs, settings.options, settings.fps, settings.resolution, settings.window,
                              settings.held_out, settings.seed, cache_episodes=settings.cache_episodes)
    spec = spec_for(settings, data)
    config = spec.config
    assert isinstance(config, BlockDiffusionConfig)
    folder = settings.out
    if process.leads:
        (folder / "train").mkdir(parents=True, exist_ok=True)
        data.save(folder)
    log(f"train: {len(data.train)} training / {len(data.held_out)} held-out episodes, action_dim {data.action_dim}, "
        f"{data.resolution[0]}x{data.resolution[1]} at {data.fps:g} fps, chunk {spec.chunk_size}")
    held_out = _held_out_windows(data, settings.held_out_windows)
    tokenizer = FrameTokenizer(config).to(device)
    dynamics = ChunkDenoiser(config).to(device)
    outcome = TrainOutcome(spec, folder)
    budget = settings.time_budget_s

    # 2. the tokenizer
    stage_dir = folder / "train" / "tokenizer"
    stage_dir.mkdir(parents=True, exist_ok=True)
    loop = LoopConfig(steps=settings.tokenizer_steps, batch=settings.batch, lr=settings.lr, seed=settings.seed,
                      time_budget_s=budget * settings.tokenizer_share, log_every=settings.log_every,
                      eval_every=settings.eval_every, checkpoint_every=settings.eval_every, ema=settings.ema)
    resume = settings.resume and (stage_dir / "checkpoint.pt").is_file()
    if resume and (folder / "train" / "dynamics" / "checkpoint.pt").is_file():
        # the dynamics has trained on this tokenizer's latents: it stays as it is
        loop = dataclasses.replace(loop, steps=int(load_checkpoint(stage_dir)["step"]))
    result = train(TokenizerStage(data, tokenizer, device, held_out), loop, stage_dir, device, resume, process, log,
                   Progress(loop.steps))
    _load_best(tokenizer, result, "tokenizer")
    outcome.stages["tokenizer"] = result
    stats_frames = _draw(data, np.random.default_rng([settings.seed, 7]), 64).frames
    measure_latent_stats(tokenizer.eval(), stats_frames.reshape(-1, *stats_frames.shape[2:]), device)
    for param in tokenizer.parameters():
        param.requires_grad_(False)

    # 3. the dynamics
    stage_dir = folder / "train" / "dynamics"
    stage_dir.mkdir(parents=True, exist_ok=True)
    left = max(budget - (time.monotonic() - started), 1.0)
    loop = dataclasses.replace(loop, steps=settings.dynamics_steps, time_budget_s=left)
    resume = settings.resume and (stage_dir / "checkpoint.pt").is_file()
    store = LatentStore(data, tokenizer, device, latent_store_folder(stage_dir, tokenizer, process.rank))
    stage = DynamicsStage(data, tokenizer, dynamics, spec, settings.chunks_per_window, device, held_out, store,
                          settings.change_weight, settings.context_noise)
    result = train(stage, loop, stage_dir, device, resume, process, log, Progress(loop.steps))
    _load_best(dynamics, result, "dynamics")
    outcome.stages["dynamics"] = result
    outcome.seconds = time.monotonic() - started

    # 4. the model folder, the spec file last
    if process.leads:
        save_module_weights(tokenizer, folder / WEIGHT_FILES["tokenizer"])
        save_module_weights(dynamics, folder / WEIGHT_FILES["dynamics"])
        tokenizer_result, dynamics_result = outcome.stages["tokenizer"], outcome.stages["dynamics"]
        frames_seen = settings.batch * (tokenizer_result.steps_done + dynamics_result.steps_done * settings.window)
        facts = {"family": FAMILY, "seconds": round(outcome.seconds, 1), "processes": process.world,
                 "device": str(device), "data": data.describe(),
                 "throughput_frames_per_s": round(frames_seen / max(outcome.seconds, 1e-9), 1),
                 "peak_rss_mib": round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, 1),
                 "stages": {name: {"steps_done": r.steps_done, "stopped_by": r.stopped_by, "best_step": r.best_step,
                                   "held_out": r.evals[-1][1] if r.evals else None}
                            for name, r in outcome.stages.items()},
                 "settings": {key: (str(value) if isinstance(value, Path) else value)
                              for key, value in dataclasses.asdict(settings).items() if key != "options"}}
        write_report(folder, outcome.stages["dynamics"], facts)
        _plot_stages(folder, outcome)
        write_spec_file(spec, folder)
        log(f"train: model folder {folder} ({outcome.seconds:.0f} s)")
    return outcome


def _plot_stages(folder: Path, outcome: TrainOutcome) -> None:
    """One picture for both stages (the dynamics' steps follow the tokenizer's)."""
    plot_loss_curve(folder, outcome.stages, f"{folder.name}: tokenizer, then dynamics")

