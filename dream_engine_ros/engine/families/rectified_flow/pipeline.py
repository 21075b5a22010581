"""The rectified-flow family's rollout: a start frame and K action sequences -> K predicted videos.

    1. encode the (fitted) start frame: chunk 0's condition
    for each chunk of `chunk_size` actions:
        2. noise + denoise the chunk's latents, frame 0 pinned to the condition
        3. decode / render its new frames
        4. the next chunk's condition
        5. on_chunk callback (streaming)
    -> T + 1 frames: frame 0 is the start frame, frame k follows actions[k-1].

How a chunk is conditioned, decoded and followed (residual 'still', pixel or latent threading)
is one `ChunkConditioning` strategy per rollout, chosen from the spec (`chunk_conditioning.py`).
The K candidates share one fused forward per denoising step; each draws its own noise from its
own seed, so a batch row equals the single rollout with that seed.
"""

from __future__ import annotations

import time
from collections.abc import Sequence

import numpy as np
import torch
from torch import Tensor

from dream_engine_ros.engine import sampler
from dream_engine_ros.engine.errors import check_cancel
from dream_engine_ros.engine.families.rectified_flow.chunk_conditioning import conditioning_for
from dream_engine_ros.engine.families.rectified_flow.loading import LoadedModel
from dream_engine_ros.engine.families.rectified_flow.wan_vae import StreamState
from dream_engine_ros.engine.family import FramelessRollout
from dream_engine_ros.engine.pixels import pixels_to_unit, unit_to_pixels
from dream_engine_ros.engine.results import BatchRolloutResult, CancelCheck, ChunkCallback, ChunkEvent
from dream_engine_ros.engine.seeding import MAX_SEED
from dream_engine_ros.engine.spec import ModelSpec


class LatentPipeline:
    """A loaded VAE + DiT and the rollout over them."""

    def __init__(self, spec: ModelSpec, model: LoadedModel, device: torch.device, dtype: torch.dtype) -> None:
        self.spec = spec
        self.model = model
        self.device = device
        self.dtype = dtype

    @property
    def has_negative_context(self) -> bool:
        return self.model.negative_context is not None

    @property
    def frameless(self) -> FramelessRollout | None:
        return None

    def close(self) -> None:
        """Nothing to release beyond the modules the engine drops."""

    # ------------------------------------------------------------------ encoding and rendering

    def encode_first(self, images: np.ndarray) -> Tensor:
        """Single-frame latents of uint8 images (N, H, W, 3) -> (N, z, 1, h, w)."""
        pixels = torch.from_numpy(images).to(self.device).permute(0, 3, 1, 2).unsqueeze(2)
        return self.model.vae.encode(pixels_to_unit(pixels).to(self.dtype))

    def encode_still(self, image: np.ndarray) -> Tensor:
        """Latents (1, z, 1 + n, h, w) of one uint8 frame held still for a whole chunk: the
        'nothing moves' reference of residual 'still'. Its frame 0 is the condition latent."""
        still = np.repeat(image[None], self.spec.chunk_size + 1, axis=0)
        pixels = torch.from_numpy(still).to(self.device).permute(3, 0, 1, 2).unsqueeze(0)
        return self.model.vae.encode(pixels_to_unit(pixels).to(self.dtype)).float()

    def render_change(self, frames: np.ndarray, latents: Tensor, still: Tensor,
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
    def frame_distance(self, images: np.ndarray) -> np.ndarray:
        """Mean squared latent distance of each image to the last one (the goal)."""
        latents = self.encode_first(images)  # (N + 1, z, 1, h, w)
        diff = (latents[:-1] - latents[-1:]).float().pow(2).mean(dim=(1, 2, 3, 4))
        result: np.ndarray = diff.cpu().numpy()
        return result

    # ------------------------------------------------------------------ sampling

    def velocity_fn(self, cond: Tensor, noise: Tensor, actions: Tensor, guidance: float,
                    schedule: sampler.FlowSchedule, rows_apart: bool = False) -> sampler.VelocityFn:
        """v(x, step) with the condition latent pinned in frame 0 and optional guidance.

        `rows_apart` runs the DiT one candidate at a time: on CUDA its matrix kernels round
        differently for other batch sizes, so a batch row would not equal the single
        prediction; on the CPU the batched DiT is already bit-identical per row."""
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

    def chunk_noise(self, seeds: Sequence[int], chunk_start: int) -> Tensor:
        """Each candidate's noise for the chunk starting at action `chunk_start` (seed + chunk_start)."""
        spec = self.spec
        shape = (1, spec.latent_channels, 1 + spec.latents_per_chunk, spec.latent_height, spec.latent_width)
        return torch.cat([sampler.seeded_noise((s + chunk_start) % MAX_SEED, shape) for s in seeds]).to(self.device)

    # ------------------------------------------------------------------ rollout

    @torch.inference_mode()
    def rollout(self, start: np.ndarray, actions: np.ndarray, seeds: list[int], num_steps: int, guidance: float,
                on_chunk: ChunkCallback | None, should_cancel: CancelCheck | None, fused: bool,
                history: tuple[np.ndarray, np.ndarray] | None) -> BatchRolloutResult:
        spec = self.spec
        k, horizon = actions.shape[0], actions.shape[1]
        chunks = horizon // spec.chunk_size
        schedule = sampler.flow_schedule(num_steps, spec.shift)
        timings = {"encode_s": 0.0, "denoise_s": 0.0, "decode_s": 0.0}
        start_time = time.perf_counter()
        conditioning = conditioning_for(self, k)  # how chunk c + 1 follows chunk c, fixed by the spec

        # 1. encode the start frame: chunk 0's condition
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
            noise = self.chunk_noise(seeds, first)
            chunk_actions = acts[:, first:first + spec.chunk_size]
            velocity = self.velocity_fn(cond, noise, chunk_actions, guidance, schedule,
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
        return BatchRolloutResult(out, seeds, num_steps, guidance, {key: round(v, 6) for key, v in timings.items()})
