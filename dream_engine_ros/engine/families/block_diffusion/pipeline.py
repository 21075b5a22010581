"""The block-diffusion family's rollout: a start frame and K action sequences -> K predicted videos.

    1. encode the start frame (the tokenizer, one frame); its keys and values open every
       candidate's KV cache
    for each chunk c of `chunk_size` actions:
        2. noise: candidate k draws the chunk's latent noise from `chunk_seed(seeds[k], c)`
        3. denoise the chunk's latents over the cache, `num_steps` x0-prediction steps
           (cancel is polled before each step)
        4. decode the chunk's frames (the tokenizer, frame by frame, no state between frames)
        5. on_chunk(ChunkEvent): chunk 0's event holds frame 0 (the start frame) too
        6. cache update: one pass of the clean chunk (flow time 0) adds its keys and values to
           the cache, which keeps the start frame and the last `context_chunks` chunks
    -> T + 1 frames: frame 0 is the fitted start frame itself, frame k follows actions[k-1].

Chunks thread latents, not pixels: the next chunk attends to the predicted clean latents, so a
rollout never re-encodes what it decoded, and the decode-free rollout (`frameless`) gives the
very latents the frames are decoded from.

Seed rule: chunk c of a candidate with seed s draws its noise (shape (1, chunk_size, z, h, w))
from numpy's legacy generator seeded with (s + c * CHUNK_SEED_STRIDE) mod 2**32. The odd stride
keeps the chunks of candidates seeded s, s + 1, ... (`predict_batch(seeds=int)`) from sharing
noise, which seed + c would do (candidate k's chunk 1 = candidate k + 1's chunk 0).

Batch rows: candidates run through the networks one at a time, in the same call shapes as a
single prediction (the start frame's cache entry is computed once, with one row, and shared),
so a batch row is bit-identical to the single `predict` with its seed on one machine.
`fused=True` runs all candidates through each call together: faster, but a row then equals the
single prediction only up to batch-dependent float rounding (matrix products and convolutions
are not batch-invariant), which a rollout may amplify from chunk to chunk.
"""

from __future__ import annotations

import time
from collections.abc import Sequence

import numpy as np
import torch
from torch import Tensor

from dream_engine_ros.engine.families.block_diffusion.dynamics import KVCache
from dream_engine_ros.engine.families.block_diffusion.loading import LoadedBlockModel, config_of
from dream_engine_ros.engine.family import FramelessRollout
from dream_engine_ros.engine.results import BatchRolloutResult, CancelCheck, ChunkCallback, ChunkEvent
from dream_engine_ros.engine.sampler import flow_schedule, seeded_noise
from dream_engine_ros.engine.seeding import MAX_SEED
from dream_engine_ros.engine.spec import ModelSpec

CHUNK_SEED_STRIDE = 0x9E3779B1  # odd (2**32 / golden ratio): chunk c of seed s uses s + c * stride
FRAMELESS_SEED = 0  # the decode-free rollout has no seed argument: every candidate uses this one


def chunk_seed(seed: int, chunk: int) -> int:
    """The noise seed of chunk `chunk` of a candidate seeded `seed` (see the module docstring)."""
    return (int(seed) + chunk * CHUNK_SEED_STRIDE) % MAX_SEED


class BlockDiffusionPipeline:
    """A loaded tokenizer + chunk denoiser and the rollout over them."""

    has_negative_context = False

    def __init__(self, spec: ModelSpec, model: LoadedBlockModel, device: torch.device, dtype: torch.dtype) -> None:
        self.spec = spec
        self.config = config_of(spec)
        self.model = model
        self.device = device
        self.dtype = dtype
        self.latent_height = spec.height // self.config.stride
        self.latent_width = spec.width // self.config.stride

    @property
    def frameless(self) -> FramelessRollout | None:
        return BlockFramelessRollout(self)

    @property
    def state_size(self) -> int:
        """Numbers in one frame's latents: the size of a decode-free state."""
        return self.config.latent_channels * self.latent_height * self.latent_width

    def close(self) -> None:
        """Nothing to release beyond the modules the engine drops."""

    # ------------------------------------------------------------------ pieces of a rollout

    def encode(self, images: np.ndarray) -> Tensor:
        """uint8 images (N, H, W, 3) -> latents (N, z, h, w) float32, one image at a time (so an
        image's latents do not depend on what it is encoded with)."""
        tokenizer = self.model.tokenizer
        return torch.cat([tokenizer.encode(torch.from_numpy(image[None]).to(self.device)).float()
                          for image in images])

    def decode(self, latents: Tensor, fused: bool) -> np.ndarray:
        """Latents (K, F, z, h, w) -> uint8 frames (K, F, H, W, 3), candidate by candidate unless fused."""
        tokenizer = self.model.tokenizer
        k, frames = latents.shape[:2]
        flat = latents.to(self.dtype)
        if fused:
            pixels = tokenizer.decode_pixels(flat.flatten(0, 1)).reshape(k, frames, *self.frame_shape)
            result: np.ndarray = pixels.cpu().numpy()
            return result
        return np.stack([tokenizer.decode_pixels(flat[i]).cpu().numpy() for i in range(k)])

    @property
    def frame_shape(self) -> tuple[int, int, int]:
        return self.spec.height, self.spec.width, 3

    def chunk_noise(self, seeds: Sequence[int], chunk: int) -> Tensor:
        """Each candidate's noise for chunk `chunk`: (K, chunk_size, z, h, w) float32."""
        shape = (1, self.spec.chunk_size, self.config.latent_channels, self.latent_height, self.latent_width)
        return torch.cat([seeded_noise(chunk_seed(s, chunk), shape) for s in seeds]).to(self.device)

    def open_caches(self, start_latent: Tensor, groups: list[list[int]]) -> list[KVCache]:
        """One cache per group of candidates, each holding the start frame's keys, values and latents
        (computed once, with one row, and broadcast)."""
        first = self.model.dynamics.begin(start_latent.to(self.dtype))
        return [KVCache(self.config.context_chunks, anchor=first.anchor, last=first.last) for _ in groups]

    def denoise(self, caches: list[KVCache], groups: list[list[int]], noise: Tensor, actions: Tensor,
                num_steps: int, should_cancel: CancelCheck | None) -> Tensor:
        """Clean latents (K, chunk_size, z, h, w) of one chunk, group by group."""
        times = list(flow_schedule(num_steps, self.spec.shift).sigmas)
        out = torch.empty_like(noise)
        for cache, group in zip(caches, groups, strict=True):
            out[group] = self.model.dynamics.denoise(cache, noise[group], actions[group], times, should_cancel)
        return out

    def update_caches(self, caches: list[KVCache], groups: list[list[int]], latents: Tensor, actions: Tensor) -> None:
        """Add a finished chunk's clean latents to every group's cache."""
        for cache, group in zip(caches, groups, strict=True):
            self.model.dynamics.commit(cache, latents[group].to(self.dtype), actions[group])

    @staticmethod
    def groups(k: int, fused: bool) -> list[list[int]]:
        """Candidates that share one network call: all of them when fused, else one by one."""
        return [list(range(k))] if fused else [[i] for i in range(k)]

    # ------------------------------------------------------------------ rollout

    @torch.inference_mode()
    def rollout(self, start: np.ndarray, actions: np.ndarray, seeds: list[int], num_steps: int, guidance: float,
                on_chunk: ChunkCallback | None, should_cancel: CancelCheck | None, fused: bool,
                history: tuple[np.ndarray, np.ndarray] | None) -> BatchRolloutResult:
        spec = self.spec
        size = spec.chunk_size
        k, horizon = actions.shape[0], actions.shape[1]
        chunks = horizon // size
        timings = {"encode_s": 0.0, "denoise_s": 0.0, "decode_s": 0.0}
        start_time = time.perf_counter()
        acts = torch.from_numpy(spec.normalise_actions(actions)).to(self.device)
        groups = self.groups(k, fused)
        out = np.empty((k, horizon + 1, *self.frame_shape), dtype=np.uint8)
        out[:, 0] = start

        # 1. encode the start frame: it opens every candidate's cache
        tic = time.perf_counter()
        caches = self.open_caches(self.encode(start[None]), groups)
        timings["encode_s"] += time.perf_counter() - tic

        for c in range(chunks):
            first = c * size
            chunk_actions = acts[:, first:first + size]
            tic = time.perf_counter()
            # 2. noise from each candidate's seed
            noise = self.chunk_noise(seeds, c)
            # 3. denoise the chunk over the cache
            latents = self.denoise(caches, groups, noise, chunk_actions, num_steps, should_cancel)
            timings["denoise_s"] += time.perf_counter() - tic

            # 4. decode the chunk's frames
            tic = time.perf_counter()
            out[:, first + 1:first + 1 + size] = self.decode(latents, fused)
            timings["decode_s"] += time.perf_counter() - tic

            # 5. stream (chunk 0 with the start frame)
            if on_chunk is not None:
                lo = 0 if c == 0 else first + 1
                on_chunk(ChunkEvent(c, chunks, out[:, lo:first + 1 + size].copy(), lo,
                                    time.perf_counter() - start_time))

            # 6. cache update: the clean chunk becomes context of the next
            if c + 1 < chunks:
                tic = time.perf_counter()
                self.update_caches(caches, groups, latents, chunk_actions)
                timings["denoise_s"] += time.perf_counter() - tic
        timings["total_s"] = time.perf_counter() - start_time
        return BatchRolloutResult(out, seeds, num_steps, 0.0, {key: round(v, 6) for key, v in timings.items()})

    @torch.inference_mode()
    def latent_rollout(self, start: np.ndarray, actions: np.ndarray, seeds: Sequence[int], num_steps: int,
                       fused: bool = False) -> Tensor:
        """Steps 1-3 and 6 of `rollout` without decoding: latents (K, T, z, h, w) float32, the very
        latents `rollout` with the same inputs decodes into frames 1..T."""
        size = self.spec.chunk_size
        k, horizon = actions.shape[0], actions.shape[1]
        acts = torch.from_numpy(self.spec.normalise_actions(actions)).to(self.device)
        groups = self.groups(k, fused)
        caches = self.open_caches(self.encode(start[None]), groups)
        parts = []
        for c in range(horizon // size):
            chunk_actions = acts[:, c * size:(c + 1) * size]
            latents = self.denoise(caches, groups, self.chunk_noise(seeds, c), chunk_actions, num_steps, None)
            parts.append(latents)
            if c + 1 < horizon // size:
                self.update_caches(caches, groups, latents, chunk_actions)
        return torch.cat(parts, dim=1)

    @torch.inference_mode()
    def frame_distance(self, images: np.ndarray) -> np.ndarray:
        """Mean squared latent distance of each image to the last one (the goal)."""
        latents = self.encode(images)
        result: np.ndarray = (latents[:-1] - latents[-1:]).pow(2).mean(dim=(1, 2, 3)).cpu().numpy()
        return result


class BlockFramelessRollout:
    """Decode-free rollout for planners: each candidate's predicted latents after each action,
    flattened (K, T, z * h * w), with the spec's default number of steps and seed
    `FRAMELESS_SEED` for every candidate (common noise: candidates differ by their actions only).
    Candidates run one by one, so a row is bit-identical to that candidate rolled out alone, and
    to the latents `predict(..., seed=FRAMELESS_SEED)` decodes. A planner scoring many candidates
    may build one with `fused=True` (all candidates through each call: several times faster,
    rows equal up to batch-dependent float rounding)."""

    def __init__(self, pipeline: BlockDiffusionPipeline, fused: bool = False) -> None:
        self.pipeline = pipeline
        self.fused = fused

    @property
    def state_size(self) -> int:
        return self.pipeline.state_size

    @torch.inference_mode()
    def encode(self, images: np.ndarray) -> np.ndarray:
        """Images -> their latents, flattened as the rollout's states are."""
        latents = self.pipeline.encode(images)  # one image at a time, as a rollout encodes its start
        states: np.ndarray = latents.reshape(len(images), -1).cpu().numpy()
        return states

    def __call__(self, frames: np.ndarray, past_actions: np.ndarray, actions: np.ndarray) -> np.ndarray:
        """frames (n + 1, H, W, 3): only the start frame (the last) is read (no history)."""
        pipeline = self.pipeline
        k = actions.shape[0]
        latents = pipeline.latent_rollout(frames[-1], actions, [FRAMELESS_SEED] * k, pipeline.spec.num_steps,
                                          self.fused)
        states: np.ndarray = latents.reshape(k, actions.shape[1], -1).cpu().numpy()
        return states
