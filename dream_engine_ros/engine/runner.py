"""`DreamEngine`: one facade over every model family, the API every surface calls.

    1. validate the request against the spec (`validation.py`): before any model work
    2. fit the start frame (and any history) to the spec's size (`preprocess.py`)
    3. hand the rollout to the spec's family pipeline (`families/<family>/pipeline.py`), which
       streams each chunk to `on_chunk` as it is decoded
    -> T + 1 frames: frame 0 is the (resized) start frame, frame k follows actions[k-1].

The facade knows no family: `family.FAMILIES` names each spec's family, and the family loads
its pipeline. Capabilities a family may lack (decode-free rollouts for planners) are asked for,
never inferred from a name.
"""

from __future__ import annotations

import time
from collections.abc import Sequence
from pathlib import Path

import numpy as np
import torch

from dream_engine_ros.engine.errors import InputError
from dream_engine_ros.engine.family import FamilyPipeline, family_of
from dream_engine_ros.engine.preprocess import fit_frame
from dream_engine_ros.engine.results import BatchRolloutResult, CancelCheck, ChunkCallback, ChunkEvent, RolloutResult
from dream_engine_ros.engine.spec import ModelSpec, get_spec
from dream_engine_ros.engine.validation import RequestValidator

__all__ = ["BatchRolloutResult", "CancelCheck", "ChunkCallback", "ChunkEvent", "DreamEngine", "RolloutResult",
           "exact_cuda_kernels", "resolve_device", "resolve_dtype"]


def resolve_device(device: str) -> torch.device:
    """'auto' -> the first CUDA device when one is usable, else the CPU."""
    if device == "auto":
        return torch.device("cuda:0" if torch.cuda.is_available() else "cpu")
    if device.startswith("cuda") and not torch.cuda.is_available():
        raise InputError("device", device, "CUDA was requested but no CUDA device is available")
    if device not in ("cpu",) and not device.startswith("cuda"):
        raise InputError("device", device, "must be 'auto', 'cpu', 'cuda' or 'cuda:N'")
    return torch.device(device)


def exact_cuda_kernels() -> None:
    """fp32 convolutions in fp32 and deterministic cuDNN algorithms (process-wide).

    Why: cuDNN runs fp32 convolutions in TF32 by default, which took the VAE's reference round
    trip outside the fixtures' 1e-4 tolerance on a GPU (docs/engine.md), and a benchmarked
    algorithm choice may differ between runs (same seed, other frames)."""
    torch.backends.cudnn.allow_tf32 = False
    torch.backends.cudnn.benchmark = False
    torch.backends.cudnn.deterministic = True
    torch.backends.cuda.matmul.allow_tf32 = False


def resolve_dtype(spec: ModelSpec, device: torch.device) -> torch.dtype:
    """The spec's dtype on an accelerator; float32 on the CPU (bf16 matmuls are slow there)."""
    if device.type == "cpu":
        return torch.float32
    return {"float32": torch.float32, "bfloat16": torch.bfloat16, "float16": torch.float16}[spec.dtype]


class DreamEngine:
    """A loaded world model that turns (start frame, actions, seed) into predicted frames."""

    def __init__(self, spec: ModelSpec, pipeline: FamilyPipeline, device: torch.device, dtype: torch.dtype) -> None:
        self.spec = spec
        self._pipeline: FamilyPipeline | None = pipeline
        self.device = device
        self.dtype = dtype

    @classmethod
    def load(cls, spec: str | ModelSpec, weights: str | Path | None = None, device: str = "auto") -> DreamEngine:
        """Build the spec's modules on the device and load its weights (strict)."""
        resolved = get_spec(spec) if isinstance(spec, str) else spec
        dev = resolve_device(device)
        if dev.type == "cuda":
            exact_cuda_kernels()
        dtype = resolve_dtype(resolved, dev)
        return cls(resolved, family_of(resolved).load(resolved, weights, dev, dtype), dev, dtype)

    @property
    def pipeline(self) -> FamilyPipeline:
        """The family's loaded pipeline (its modules are the family's own business)."""
        if self._pipeline is None:
            raise RuntimeError("engine is closed")
        return self._pipeline

    def close(self) -> None:
        """Drop the modules (and the GPU memory they hold)."""
        if self._pipeline is not None:
            self._pipeline.close()
        self._pipeline = None
        if self.device.type == "cuda":
            torch.cuda.empty_cache()

    # ------------------------------------------------------------------ validation

    @property
    def validator(self) -> RequestValidator:
        return RequestValidator(self.spec, has_negative_context=self.pipeline.has_negative_context,
                                decode_free=self.can_roll_out_frameless)

    # ------------------------------------------------------------------ public API

    def predict(self, frame: np.ndarray, actions: np.ndarray, seed: int = 0, num_steps: int | None = None,
                guidance: float | None = None, on_chunk: ChunkCallback | None = None,
                should_cancel: CancelCheck | None = None) -> RolloutResult:
        """Predict T + 1 frames for one action sequence (T, D)."""
        actions = self.validator.request(frame, actions, num_steps, guidance, [seed])

        def single(event: ChunkEvent) -> None:
            if on_chunk is not None:
                on_chunk(ChunkEvent(event.chunk_index, event.chunks_total, event.frames[0],
                                    event.first_frame_index, event.elapsed_s))

        batch = self._rollout(frame, actions[None], [int(seed)], num_steps, guidance, single, should_cancel)
        return batch.candidate(0)

    def predict_batch(self, frame: np.ndarray, actions: np.ndarray, seeds: Sequence[int] | int = 0,
                      num_steps: int | None = None, guidance: float | None = None,
                      on_chunk: ChunkCallback | None = None,
                      should_cancel: CancelCheck | None = None, fused: bool = False,
                      history_frames: np.ndarray | None = None,
                      history_actions: np.ndarray | None = None) -> BatchRolloutResult:
        """Predict K candidate rollouts (K, T, D) from one start frame in one batched pass.

        `seeds` is one seed per candidate, or one int that seeds candidate k with seed + k.
        Every row is bit-identical to the single `predict` with its seed. `fused=True` (the
        causal-video family) also batches the candidates through the frame network: faster for
        planners, with rows equal to single predictions only up to batch-dependent rounding.
        The latent families fuse their denoiser on the CPU either way (bit-identical rows there);
        on CUDA their exact rows run the DiT one candidate at a time, and `fused=True` batches it.

        `history_frames` (n, H, W, 3) and `history_actions` (n, D) (families that read a
        history): the frames before `frame`, oldest first, and the actions that led from each to
        the next, so a moving robot is not predicted as one at rest (closed-loop planning).
        """
        validator = self.validator
        actions = validator.actions(actions, batched=True)
        k = actions.shape[0]
        seed_list = [int(seeds) + i for i in range(k)] if isinstance(seeds, (int, np.integer)) else list(seeds)
        validator.request(frame, actions, num_steps, guidance, seed_list, batched=True)
        history = None
        if history_frames is not None or history_actions is not None:
            past, past_actions = validator.history(history_frames, history_actions)
            history = (np.stack([self._fit(f) for f in past]), past_actions)
        return self._rollout(frame, actions, seed_list, num_steps, guidance, on_chunk, should_cancel, fused,
                             history)

    @property
    def can_roll_out_frameless(self) -> bool:
        """Whether `rollout_frameless` works for this model (planners ask before choosing a cost)."""
        return self.pipeline.frameless is not None

    @torch.inference_mode()
    def rollout_frameless(self, frame: np.ndarray, actions: np.ndarray, history_frames: np.ndarray | None = None,
                          history_actions: np.ndarray | None = None) -> np.ndarray:
        """Decode-free rollout of K candidates (K, T, D) for planners: (K, T, S) model states after
        each action, no frame drawn (what a state is belongs to the model; its goal costs read it).
        Only the chosen plan needs frames, and `predict_batch` draws them. A model without this
        capability raises an InputError naming the spec."""
        rollout = self.pipeline.frameless
        if rollout is None:
            raise InputError("spec", self.spec.name, "cannot roll out decode-free (no frameless rollout)")
        validator = self.validator
        actions = validator.actions(actions, batched=True)
        validator.frame(frame)
        frames = [self._fit(frame)]
        past_actions = np.zeros((0, self.spec.action_dim), dtype=np.float32)
        if history_frames is not None or history_actions is not None:
            past, past_actions = validator.history(history_frames, history_actions)
            frames = [self._fit(f) for f in past] + frames
        return rollout(np.stack(frames), past_actions, actions)

    def encode_frameless(self, images: np.ndarray) -> np.ndarray:
        """Images (N, H, W, 3) (any size: fitted as start frames are) -> their states (N, S) in the
        space `rollout_frameless` predicts: a goal image for a decode-free goal cost."""
        rollout = self.pipeline.frameless
        if rollout is None:
            raise InputError("spec", self.spec.name, "cannot roll out decode-free (no frameless rollout)")
        images = np.asarray(images)
        if images.ndim == 3:
            images = images[None]
        validator = self.validator
        for i, image in enumerate(images):
            validator.frame(image, f"images[{i}]")
        return rollout.encode(np.stack([self._fit(image) for image in images]))

    @torch.inference_mode()
    def frame_distance(self, frames: np.ndarray, goal: np.ndarray) -> np.ndarray:
        """Distance of each frame (N, H, W, 3) to a goal image in the model's own terms (latent
        distance for latent families, pooled pixels for pixel families): goal scoring."""
        validator = self.validator
        validator.frame(goal, "goal")
        frames = np.asarray(frames)
        if frames.ndim == 3:
            frames = frames[None]
        for frame in frames:
            validator.frame(frame)
        return self.pipeline.frame_distance(np.stack([self._fit(f) for f in [*frames, goal]]))

    # ------------------------------------------------------------------ internals

    def _fit(self, frame: np.ndarray) -> np.ndarray:
        return fit_frame(frame, self.spec.height, self.spec.width)

    def _rollout(self, frame: np.ndarray, actions: np.ndarray, seeds: list[int], num_steps: int | None,
                 guidance: float | None, on_chunk: ChunkCallback | None,
                 should_cancel: CancelCheck | None, fused: bool = False,
                 history: tuple[np.ndarray, np.ndarray] | None = None) -> BatchRolloutResult:
        steps = int(num_steps) if num_steps is not None else self.spec.num_steps
        scale = float(guidance) if guidance is not None else self.spec.guidance
        started = time.perf_counter()
        result = self.pipeline.rollout(self._fit(frame), actions, seeds, steps, scale, on_chunk, should_cancel, fused,
                                       history)
        result.timings["total_s"] = round(time.perf_counter() - started, 6)
        return result
