"""Rollout runner: one start frame + a planned action sequence -> the predicted video.

    1. fit + encode the start frame (chunk 0's condition)
    for each chunk of `chunk_size` actions:
        2. noise + denoise the chunk's latents, frame 0 pinned to the condition
        3. decode / render its new frames
        4. the next chunk's condition
        5. on_chunk callback (streaming)
    -> T + 1 frames: frame 0 is the (resized) start frame, frame k follows actions[k-1].

How a chunk is conditioned, decoded and followed (residual 'still', pixel or latent threading)
is one `ChunkConditioning` strategy per rollout, chosen from the spec (see `chunk_conditioning`).

`predict_batch` runs K candidate sequences through the same loop with the batch dimension, one
fused forward per denoising step. Every candidate draws its own noise from its own seed, so a
batch row equals the single `predict` with that seed.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import torch
from torch import Tensor

from . import sampler
from .chunk_conditioning import conditioning_for
from .errors import InputError, check_cancel
from .frame_rollout import FrameRollout
from .loading import LoadedFrameModel, LoadedModel, build_frame_model, build_model
from .preprocess import fit_frame
from .scene_states import SceneState, read_scene_state, rollout_scene_states, world_to_pixels
from .spec import ModelSpec, get_spec
from .tokenizer import StreamState, pixels_to_unit, unit_to_pixels
from .validation import MAX_SEED, RequestValidator


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

    Why: cuDNN runs fp32 convolutions in TF32 by default; on an H200 the VAE's reference round
    trip then left the fixtures' 1e-4 tolerance (1e-3 on the latent, 6e-3 on the video), and a
    benchmarked algorithm choice may differ between runs (same seed, other frames)."""
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

    def __init__(self, spec: ModelSpec, model: LoadedModel | LoadedFrameModel, device: torch.device,
                 dtype: torch.dtype) -> None:
        self.spec = spec
        self._model: LoadedModel | LoadedFrameModel | None = model
        self.device = device
        self.dtype = dtype
        self._last_scene_state: tuple[bytes, SceneState] | None = None

    @classmethod
    def load(cls, spec: str | ModelSpec, weights: str | Path | None = None, device: str = "auto") -> DreamEngine:
        """Build the spec's modules on the device and load its weights (strict)."""
        resolved = get_spec(spec) if isinstance(spec, str) else spec
        dev = resolve_device(device)
        if dev.type == "cuda":
            exact_cuda_kernels()
        dtype = resolve_dtype(resolved, dev)
        build = build_model if resolved.is_latent else build_frame_model
        return cls(resolved, build(resolved, weights, dev, dtype), dev, dtype)

    @property
    def model(self) -> LoadedModel:
        """The VAE + DiT of a latent-family spec."""
        if self._model is None:
            raise RuntimeError("engine is closed")
        if not isinstance(self._model, LoadedModel):
            raise AttributeError(f"spec {self.spec.name!r} ({self.spec.family}) has no VAE/DiT; see frame_model")
        return self._model

    @property
    def frame_model(self) -> LoadedFrameModel:
        """The pixel-space denoiser of a causal-video spec."""
        if self._model is None:
            raise RuntimeError("engine is closed")
        if not isinstance(self._model, LoadedFrameModel):
            raise AttributeError(f"spec {self.spec.name!r} ({self.spec.family}) has no frame model")
        return self._model

    def close(self) -> None:
        """Drop the modules (and the GPU memory they hold)."""
        self._model = None
        if self.device.type == "cuda":
            torch.cuda.empty_cache()

    # ------------------------------------------------------------------ validation

    @property
    def validator(self) -> RequestValidator:
        if not self.spec.is_latent:
            return RequestValidator(self.spec)
        return RequestValidator(self.spec, has_negative_context=self.model.negative_context is not None)

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
        """Predict K candidates (K, T, D) from one start frame in one fused pass per step.

        `seeds` is one seed per candidate, or one int that seeds candidate k with seed + k.
        Every row is bit-identical to the single `predict` with its seed. `fused=True` (the
        causal-video family) also batches the candidates through the frame network: faster for
        planners, with rows equal to single predictions only up to batch-dependent rounding.
        The latent families fuse their denoiser on the CPU either way (bit-identical rows there);
        on CUDA their exact rows run the DiT one candidate at a time, and `fused=True` batches it.

        `history_frames` (n, H, W, 3) and `history_actions` (n, D) (causal-video only): the
        frames before `frame`, oldest first, and the actions that led from each to the next, so
        a moving robot is not predicted as one at rest (closed-loop planning).
        """
        validator = self.validator
        actions = validator.actions(actions, batched=True)
        k = actions.shape[0]
        seed_list = [int(seeds) + i for i in range(k)] if isinstance(seeds, (int, np.integer)) else list(seeds)
        validator.request(frame, actions, num_steps, guidance, seed_list, batched=True)
        history = None
        if history_frames is not None or history_actions is not None:
            past, past_actions = validator.history(history_frames, history_actions)
            history = (np.stack([self._fit(f) for f in past]), self.spec.normalise_actions(past_actions))
        return self._rollout(frame, actions, seed_list, num_steps, guidance, on_chunk, should_cancel, fused,
                             history)

    @torch.inference_mode()
    def predict_scene_states(self, frame: np.ndarray, actions: np.ndarray, history_frames: np.ndarray | None = None,
                             history_actions: np.ndarray | None = None) -> np.ndarray:
        """Decode-free rollout of K candidates (K, T, D) for planners: (K, T, 5) scene states after
        each action, [agent x, y, T centre x, y] in pixels and the T's angle (`scene_states.py`).

        The spec's agent model and its planner contact model (the frames' contact model where it
        ships none) move the scene read from `frame` (and the history's last frame: the robot's
        velocity); no frame is drawn. The reading is remembered for the
        next call with the same frames (a planner's iterations). Rows equal the same candidates
        scored alone up to float64 rounding. Specs without both models raise an InputError."""
        loaded = self._model
        if not self.predicts_scene_states or not isinstance(loaded, LoadedFrameModel):
            raise InputError("spec", self.spec.name, "has no scene-state dynamics (needs 'pusht-contact' layers "
                             "and an 'agent' weights file)")
        validator = self.validator
        actions = validator.actions(actions, batched=True)
        validator.frame(frame)
        frames, past_targets = [self._fit(frame)], np.zeros((0, self.spec.action_dim))
        if history_frames is not None or history_actions is not None:
            past, past_actions = validator.history(history_frames, history_actions)
            frames = [self._fit(f) for f in past] + frames
            past_targets = world_to_pixels(past_actions, self.spec.height)
        state = self._scene_state(np.stack(frames), past_targets)
        targets = world_to_pixels(actions, self.spec.height)
        contact = loaded.scene_state_contact
        assert loaded.agent is not None and contact is not None
        return rollout_scene_states(state, targets, loaded.agent, contact, self.spec.height)

    def _scene_state(self, frames: np.ndarray, past_targets: np.ndarray) -> SceneState:
        """The scene read from the camera, remembered for the next call with the same frames: a
        planner's CEM iterations score from one observation, and the reading (layers, pose fit:
        ~30 ms) is most of a call's time."""
        key = frames.tobytes() + np.ascontiguousarray(past_targets, dtype=np.float64).tobytes()
        if self._last_scene_state is None or self._last_scene_state[0] != key:
            self._last_scene_state = (key, read_scene_state(frames, past_targets))
        return self._last_scene_state[1]

    @property
    def predicts_scene_states(self) -> bool:
        """Whether `predict_scene_states` works: a spec with contact and agent models."""
        loaded = self._model
        return isinstance(loaded, LoadedFrameModel) and loaded.contact is not None and loaded.agent is not None

    @torch.inference_mode()
    def frame_distance(self, frames: np.ndarray, goal: np.ndarray) -> np.ndarray:
        """Mean squared latent distance of each frame (N, H, W, 3) to a goal image (goal scoring)."""
        validator = self.validator
        validator.frame(goal, "goal")
        frames = np.asarray(frames)
        if frames.ndim == 3:
            frames = frames[None]
        for frame in frames:
            validator.frame(frame)
        images = np.stack([self._fit(f) for f in [*frames, goal]])
        if not self.spec.is_latent:
            # pixel models have no latent space: compare 4x4 average-pooled pixels in [-1, 1]
            pooled = torch.nn.functional.avg_pool2d(pixels_to_unit(torch.from_numpy(images).permute(0, 3, 1, 2)), 4)
            return (pooled[:-1] - pooled[-1:]).pow(2).mean(dim=(1, 2, 3)).numpy()
        latents = self._encode_first(images)  # (N + 1, z, 1, h, w)
        diff = (latents[:-1] - latents[-1:]).float().pow(2).mean(dim=(1, 2, 3, 4))
        return diff.cpu().numpy()

    # ------------------------------------------------------------------ internals

    def _fit(self, frame: np.ndarray) -> np.ndarray:
        return fit_frame(frame, self.spec.height, self.spec.width)

    def _encode_first(self, images: np.ndarray) -> Tensor:
        """Single-frame latents of uint8 images (N, H, W, 3) -> (N, z, 1, h, w)."""
        pixels = torch.from_numpy(images).to(self.device).permute(0, 3, 1, 2).unsqueeze(2)
        return self.model.vae.encode(pixels_to_unit(pixels).to(self.dtype))

    def _velocity_fn(self, cond: Tensor, noise: Tensor, actions: Tensor, guidance: float,
                     schedule: sampler.FlowSchedule, rows_apart: bool = False) -> sampler.VelocityFn:
        """v(x, step) with the condition latent pinned in frame 0 and optional guidance.

        `rows_apart` runs the DiT one candidate at a time: on CUDA its matrix kernels round
        differently for other batch sizes (4e-6 on an H200), so a batch row would not equal the
        single prediction; on the CPU the batched DiT is already bit-identical per row."""
        model, spec = self.model, self.spec
        k = cond.shape[0]
        mask = torch.zeros(k, 1, *noise.shape[2:], device=self.device, dtype=self.dtype)
        mask[:, :, :1] = 1.0
        use_uncond = guidance != 0.0
        context = model.context.expand(k, -1, -1) if model.context is not None else None
        # Frame 0 is pinned: its velocity points from its noise to its known clean value (the
        # condition latent, or zero change when the spec denoises changes relative to the still
        # reference, whose frame 0 is the condition latent itself).
        frame0_target = cond if spec.residual == "none" else torch.zeros_like(cond)
        frame0_velocity = noise[:, :, :1] - frame0_target

        def dit(x_in: Tensor, timesteps: Tensor, acts: Tensor | None, ctx: Tensor | None) -> Tensor:
            if not rows_apart:
                out: Tensor = model.dit(x_in, timesteps, mask, acts, ctx).float()
                return out
            return torch.cat([model.dit(x_in[i:i + 1], timesteps[i:i + 1], mask[i:i + 1],
                                        None if acts is None else acts[i:i + 1],
                                        None if ctx is None else ctx[i:i + 1]).float() for i in range(k)])

        def velocity(x: Tensor, step: int) -> Tensor:
            x_in = torch.cat([cond, x[:, :, 1:]], dim=2).to(self.dtype)
            timesteps = torch.full((k,), schedule.timesteps[step], device=self.device, dtype=torch.int64)
            v_cond = dit(x_in, timesteps, actions, context)
            v_uncond = None
            if use_uncond:
                if spec.uncond == "null-action":
                    v_uncond = dit(x_in, timesteps, None, context)
                else:
                    assert model.negative_context is not None
                    v_uncond = dit(x_in, timesteps, actions, model.negative_context.expand(k, -1, -1))
            v = sampler.guided(v_cond, v_uncond, guidance)
            return torch.cat([frame0_velocity, v[:, :, 1:]], dim=2)

        return velocity

    def _chunk_noise(self, seeds: Sequence[int], chunk_start: int) -> Tensor:
        spec = self.spec
        shape = (1, spec.latent_channels, 1 + spec.latents_per_chunk, spec.latent_height, spec.latent_width)
        return torch.cat([sampler.seeded_noise((s + chunk_start) % MAX_SEED, shape) for s in seeds]).to(self.device)

    def _encode_still(self, image: np.ndarray) -> Tensor:
        """Latents (1, z, 1 + n, h, w) of one uint8 frame held still for a whole chunk: the
        'nothing moves' reference of residual 'still'. Its frame 0 is the condition latent."""
        still = np.repeat(image[None], self.spec.chunk_size + 1, axis=0)
        pixels = torch.from_numpy(still).to(self.device).permute(3, 0, 1, 2).unsqueeze(0)
        return self.model.vae.encode(pixels_to_unit(pixels).to(self.dtype)).float()

    def _render_change(self, frames: np.ndarray, latents: Tensor, still: Tensor,
                       should_cancel: CancelCheck | None = None) -> np.ndarray:
        """Residual 'still': render each candidate's new frames on its condition frame ->
        (K, n, H, W, 3) uint8.

        A pixel's change m = max over channels of |D(latents) - D(still)| picks its source:
        the condition frame's exact value below `change_floor`, the decoded prediction from
        `change_full` up, linear in between (see ModelSpec). Prediction and reference go
        through the decoder together as one batch of two, per candidate, so a batch row stays
        bit-identical to a single prediction.
        """
        vae, spec = self.model.vae, self.spec
        level = 2.0 / 255.0  # one 8-bit level in [-1, 1] units
        floor, full = spec.change_floor * level, spec.change_full * level
        out = []
        for i in range(latents.shape[0]):
            check_cancel(should_cancel, "while decoding")
            pair = torch.cat([latents[i:i + 1], still[i:i + 1]]).to(self.dtype)
            video = vae.decode(pair, StreamState(), window=pair.shape[2])[:, :, 1:].float()
            change = (video[0] - video[1]).abs().amax(dim=0, keepdim=True)
            weight = ((change - floor) / (full - floor)).clamp(0.0, 1.0)
            base = pixels_to_unit(torch.from_numpy(frames[i]).to(self.device).permute(2, 0, 1))[:, None]
            rendered = (base + weight * (video[0] - base)).clamp(-1.0, 1.0)
            out.append(unit_to_pixels(rendered[None])[0].permute(1, 2, 3, 0).cpu().numpy())
        return np.stack(out)

    @torch.inference_mode()
    def _rollout(self, frame: np.ndarray, actions: np.ndarray, seeds: list[int], num_steps: int | None,
                 guidance: float | None, on_chunk: ChunkCallback | None,
                 should_cancel: CancelCheck | None, fused: bool = False,
                 history: tuple[np.ndarray, np.ndarray] | None = None) -> BatchRolloutResult:
        spec = self.spec
        steps = int(num_steps) if num_steps is not None else spec.num_steps
        scale = float(guidance) if guidance is not None else spec.guidance
        k, horizon = actions.shape[0], actions.shape[1]
        chunks = horizon // spec.chunk_size
        schedule = sampler.flow_schedule(steps, spec.shift)
        timings = {"encode_s": 0.0, "denoise_s": 0.0, "decode_s": 0.0}
        start_time = time.perf_counter()

        start = self._fit(frame)
        if not spec.is_latent:
            return self._frame_rollout(start, actions, seeds, steps, on_chunk, should_cancel, start_time, fused,
                                       history)
        conditioning = conditioning_for(self, k)  # how chunk c + 1 follows chunk c, fixed by the spec

        # 1. fit + encode the start frame: chunk 0's condition
        tic = time.perf_counter()
        cond = conditioning.first_condition(start)
        timings["encode_s"] += time.perf_counter() - tic
        acts = torch.from_numpy(spec.normalise_actions(actions)).to(self.device, self.dtype)
        out = np.empty((k, horizon + 1, spec.height, spec.width, 3), dtype=np.uint8)
        out[:, 0] = start

        for c in range(chunks):
            first = c * spec.chunk_size
            # 2. noise + denoise the chunk with frame 0 pinned to the condition
            tic = time.perf_counter()
            noise = self._chunk_noise(seeds, first)
            chunk_actions = acts[:, first:first + spec.chunk_size]
            velocity = self._velocity_fn(cond, noise, chunk_actions, scale, schedule,
                                         rows_apart=not fused and self.device.type != "cpu")
            latents = conditioning.latents(sampler.sample(velocity, noise.clone(), schedule, spec.solver,
                                                          should_cancel))
            timings["denoise_s"] += time.perf_counter() - tic

            # 3. decode / render the chunk's new frames
            tic = time.perf_counter()
            pixels = conditioning.decode(cond, latents, should_cancel)  # (K, n, H, W, 3)
            out[:, first + 1:first + 1 + pixels.shape[1]] = pixels
            timings["decode_s"] += time.perf_counter() - tic

            # 4. the next chunk's condition
            if c + 1 < chunks:
                tic = time.perf_counter()
                cond = conditioning.next_condition(pixels, latents, should_cancel)
                timings["encode_s"] += time.perf_counter() - tic

            # 5. stream
            if on_chunk is not None:
                lo = 0 if c == 0 else first + 1
                on_chunk(ChunkEvent(c, chunks, out[:, lo:first + 1 + pixels.shape[1]].copy(), lo,
                                    time.perf_counter() - start_time))
        timings["total_s"] = time.perf_counter() - start_time
        return BatchRolloutResult(out, seeds, steps, scale, {key: round(v, 6) for key, v in timings.items()})

    def _frame_rollout(self, start: np.ndarray, actions: np.ndarray, seeds: list[int], steps: int,
                       on_chunk: ChunkCallback | None, should_cancel: CancelCheck | None,
                       start_time: float, fused: bool,
                       history: tuple[np.ndarray, np.ndarray] | None = None) -> BatchRolloutResult:
        """causal-video family: frame by frame in pixel space (see `frame_rollout`)."""
        spec = self.spec
        chunks = actions.shape[1] // spec.chunk_size

        def chunk_done(c: int, frames: np.ndarray) -> None:
            if on_chunk is None:
                return
            lo = 0 if c == 0 else c * spec.chunk_size + 1
            first = np.concatenate([frames_all[:, :1], frames], axis=1) if c == 0 else frames
            on_chunk(ChunkEvent(c, chunks, first.copy(), lo, time.perf_counter() - start_time))

        sampler_ = FrameRollout(spec, self.frame_model.net, self.device, self.dtype, contact=self.frame_model.contact)
        frames_all = np.repeat(start[None, None], len(seeds), axis=0)
        out, timings = sampler_.run(start, spec.normalise_actions(actions), seeds, steps, chunk_done, should_cancel,
                                    fused, history)
        timings["total_s"] = time.perf_counter() - start_time
        return BatchRolloutResult(out, seeds, steps, 0.0, {key: round(v, 6) for key, v in timings.items()})
