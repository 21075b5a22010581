"""Rollout of the causal-video family: one frame at a time, each seeing its recent history.

    1. the context is the start frame repeated `context_frames` times (a robot at rest), the
       action history the first action repeated `context_actions` times; a caller that knows
       what came before (a closed-loop planner) passes the frames and actions that led to the
       start frame instead, and the context begins with them;
    2. for frame k = 1..T: draw the frame's noise from seed + k - 1 (numpy's legacy generator);
    3. denoise the change relative to the last context frame with `num_steps` x0-prediction
       steps on the rectified-flow path (cancel is polled before every step);
    4. with a frame decoder (`FrameNetConfig.layers` names one, `decoders.py`), let it redraw
       the frame from the network's frame and displacement; the change is then the drawn frame
       minus the last one;
       zero changes below the spec's `change_floor` (sub-level jitter on a static background),
       add the change to the last frame and round to uint8: the exact pixels that are streamed
       are the pixels fed back, so a rollout can be resumed from any streamed frame;
    5. slide the context and the action history by one;
    6. after every `chunk_size` frames, hand the chunk to `on_chunk` (streaming).

Candidates of a batch run one after another through the same network call shapes, so a batch
row is bit-identical to a single prediction with that seed (CPU convolutions are not
batch-invariant: fusing rows would change the last bits).
"""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass

import numpy as np
import torch
from torch import Tensor

from dream_engine_ros.engine.errors import check_cancel
from dream_engine_ros.engine.families.causal_video.decoders import DecoderLayers, FrameDecoder
from dream_engine_ros.engine.families.causal_video.frame_unet import FrameDenoiser
from dream_engine_ros.engine.pixels import pixels_to_unit, round_to_pixels
from dream_engine_ros.engine.sampler import seeded_noise
from dream_engine_ros.engine.seeding import MAX_SEED
from dream_engine_ros.engine.spec import ModelSpec


def to_unit(frames_uint8: np.ndarray, device: torch.device) -> Tensor:
    """(..., H, W, 3) uint8 -> (..., 3, H, W) float in [-1, 1]."""
    return pixels_to_unit(torch.from_numpy(frames_uint8).to(device)).movedim(-1, -3)


def to_pixels(frames_unit: Tensor) -> np.ndarray:
    """(..., 3, H, W) in [-1, 1] -> (..., H, W, 3) uint8, rounded (not truncated), so a frame
    whose predicted change is zero comes back as exactly the same pixels."""
    pixels: np.ndarray = round_to_pixels(frames_unit).movedim(-3, -1).cpu().numpy()
    return pixels


def to_colours(frames_unit: Tensor) -> Tensor:
    """(B, 3, H, W) in [-1, 1] -> float colours in [0, 255] (rounded like `to_pixels`)."""
    return frames_unit.float().add(1.0).mul(127.5).round().clamp(0.0, 255.0)


def gate(change: Tensor, floor_levels: float) -> Tensor:
    """Zero the change of pixels whose largest channel change is below `floor_levels` 8-bit
    levels: they keep the previous frame's exact value (no drift of a static background)."""
    if floor_levels <= 0:
        return change
    moving = change.abs().amax(dim=-3, keepdim=True) >= floor_levels * (2.0 / 255.0)
    return change * moving


def x0_times(num_steps: int) -> list[float]:
    """Flow times from pure noise (1) to clean (0): num_steps + 1 values."""
    return [1.0 - i / num_steps for i in range(num_steps + 1)]


@dataclass
class FrameRollout:
    """The causal-video sampler over a loaded `FrameDenoiser`."""

    spec: ModelSpec
    net: FrameDenoiser
    device: torch.device
    dtype: torch.dtype
    decoder: FrameDecoder | None = None  # redraws each frame (the spec's `layers`), or None
    last_scene: DecoderLayers | None = None  # the decoder's layers after the last run (see `run`'s `scene`)

    def denoise(self, context: Tensor, actions: Tensor, noise: Tensor, num_steps: int,
                should_cancel: Callable[[], bool] | None) -> tuple[Tensor, Tensor | None]:
        """Clean change (B, 3, H, W) of the next frame by x0-prediction steps from `noise`, and
        the last step's displacement (B, 2, H, W) for a warp model (else None)."""
        times = x0_times(num_steps)
        x = noise
        x0 = torch.zeros_like(noise)
        flow: Tensor | None = None
        for i in range(num_steps):
            check_cancel(should_cancel)
            t, t_next = times[i], times[i + 1]
            t_batch = torch.full((x.shape[0],), t, device=self.device)
            out, flow = self.net.change_and_flow(context.to(self.dtype), x.to(self.dtype), t_batch,
                                                 actions.to(self.dtype))
            x0 = out.float()
            eps = (x - (1.0 - t) * x0) / t
            x = (1.0 - t_next) * x0 + t_next * eps
        return x0, flow

    @torch.inference_mode()
    def run(self, start: np.ndarray, actions: np.ndarray, seeds: Sequence[int], num_steps: int,
            on_chunk: Callable[[int, np.ndarray], None] | None,
            should_cancel: Callable[[], bool] | None, fused: bool = False,
            history: tuple[np.ndarray, np.ndarray] | None = None,
            scene: DecoderLayers | None = None) -> tuple[np.ndarray, dict[str, float]]:
        """start (H, W, 3) uint8, actions (K, T, D) normalised -> frames (K, T + 1, H, W, 3).

        `history` = (frames (n, H, W, 3) uint8 oldest first, normalised actions (n, D)): what
        led to the start frame, shared by all candidates; None means a robot at rest.

        Per-row starts (episodes from different scenes, e.g. evaluating a policy): `start`
        (K, H, W, 3) and `history` = (frames (K, n, H, W, 3), actions (K, n, D)); a row then
        equals the call with that row's start and history alone.

        `scene`: with a frame decoder, the layers `last_scene` held after the run that produced
        `start` (one row per candidate): the rollout then continues that run exactly, where
        None cuts new layers from `start` (a closed loop that hands its frames back chunk by
        chunk passes it to equal one long rollout).

        `on_chunk(c, frames)` gets every candidate's chunk c: frames (K, chunk_size, H, W, 3).
        `fused` runs all candidates through each network call together (for planners scoring
        many candidates): several times the throughput, but a row then equals the single
        prediction only up to the convolutions' batch-dependent rounding (a pixel may land one
        level apart, and the difference can grow along the rollout).
        """
        cfg = self.spec.frame_model
        assert cfg is not None
        k_count, horizon = actions.shape[0], actions.shape[1]
        chunk = self.spec.chunk_size
        per_row = start.ndim == 4
        frame_shape = start.shape[-3:]
        out = np.empty((k_count, horizon + 1, *frame_shape), dtype=np.uint8)
        out[:, 0] = start
        past_frames = np.empty((0, *frame_shape), np.uint8) if history is None else history[0]
        past_actions = np.empty((0, actions.shape[2]), np.float32) if history is None else history[1]
        lead = past_actions.shape[-2]
        past_rows = np.broadcast_to(past_actions, (k_count, *past_actions.shape[-2:]))
        acts = torch.from_numpy(np.concatenate([past_rows, actions], axis=1)).to(self.device).float()
        decoder = self.decoder
        inputs = decoder.step_inputs(acts) if decoder is not None else None  # once per run
        # candidates that share one network call: all of them when fused, else one by one
        groups = [list(range(k_count))] if fused else [[i] for i in range(k_count)]
        if per_row:
            rows = [self._context(past_frames[i] if past_frames.ndim == 5 else past_frames, start[i])
                    for i in range(k_count)]
            contexts = [torch.cat([rows[i] for i in group]) for group in groups]
        else:
            first_context = self._context(past_frames, start)
            contexts = [first_context.repeat(len(group), 1, 1, 1, 1) for group in groups]
        layers: list[DecoderLayers | None] = [None] * len(groups)
        if decoder is not None:
            layers = [scene.select(group) if scene is not None else decoder.begin(to_colours(contexts[g][:, -1]))
                      for g, group in enumerate(groups)]
        denoise_s = 0.0
        for k in range(horizon):
            # actions k - A + 1 .. k, the earliest known action standing in for those before it
            window = acts[:, np.clip(np.arange(k - cfg.context_actions + 1, k + 1) + lead, 0, None)]
            tic = time.perf_counter()
            for g, group in enumerate(groups):
                noise = torch.cat([seeded_noise((int(seeds[i]) + k) % MAX_SEED, (1, 3, *frame_shape[:2]))
                                   for i in group]).to(self.device)
                change, flow = self.denoise(contexts[g], window[group], noise, num_steps, should_cancel)
                run_layers = layers[g]
                if decoder is not None and run_layers is not None and flow is not None:
                    step_inputs = None if inputs is None else inputs[group, k + lead]
                    drawn = decoder.step(run_layers, to_colours(contexts[g][:, -1] + change), flow.float(), step_inputs)
                    change = drawn.div(127.5).sub(1.0) - contexts[g][:, -1]
                pixels = to_pixels(contexts[g][:, -1] + gate(change, self.spec.change_floor))
                out[group, k + 1] = pixels
                contexts[g] = torch.cat([contexts[g][:, 1:], to_unit(pixels, self.device)[:, None]], dim=1)
            denoise_s += time.perf_counter() - tic
            if on_chunk is not None and (k + 1) % chunk == 0:
                on_chunk((k + 1) // chunk - 1, out[:, k + 2 - chunk:k + 2])
        parts = [layer for layer in layers if layer is not None]
        self.last_scene = decoder.concat(parts) if decoder is not None and parts else None
        return out, {"encode_s": 0.0, "denoise_s": denoise_s, "decode_s": 0.0}

    def _context(self, past_frames: np.ndarray, start: np.ndarray) -> Tensor:
        """(1, context_frames, 3, H, W): the last frames up to `start`, the earliest repeated."""
        cfg = self.spec.frame_model
        assert cfg is not None
        seen = np.concatenate([past_frames, start[None]])[-cfg.context_frames:]
        seen = np.concatenate([np.repeat(seen[:1], cfg.context_frames - len(seen), axis=0), seen])
        return to_unit(seen, self.device)[None]
