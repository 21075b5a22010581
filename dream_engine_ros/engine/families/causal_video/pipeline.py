"""The causal-video family's pipeline: the frame network, its optional frame decoder, and the rollout."""

from __future__ import annotations

import time
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch

from dream_engine_ros.engine.families.causal_video.decoders import FRAME_DECODERS, FrameDecoder
from dream_engine_ros.engine.families.causal_video.frame_unet import FrameDenoiser
from dream_engine_ros.engine.families.causal_video.rollout import FrameRollout
from dream_engine_ros.engine.family import FramelessRollout
from dream_engine_ros.engine.loading import require_weight_file, weight_paths
from dream_engine_ros.engine.pixels import pixels_to_unit
from dream_engine_ros.engine.results import BatchRolloutResult, CancelCheck, ChunkCallback, ChunkEvent
from dream_engine_ros.engine.spec import ModelSpec
from dream_engine_ros.engine.weights import KeyMap, load_weights, read_state_file


@dataclass
class LoadedFrameModel:
    """The causal-video family's network (pixels in, pixels out: no tokenizer) and its decoder."""

    net: FrameDenoiser
    decoder: FrameDecoder | None = None  # the spec's `layers`, loaded with its own weight files


def build_frame_model(spec: ModelSpec, weights_dir: str | Path | None, device: torch.device,
                      dtype: torch.dtype) -> LoadedFrameModel:
    """Instantiate a causal-video spec's frame denoiser (and decoder) and load their weights strictly."""
    assert spec.frame_model is not None
    paths = weight_paths(spec, weights_dir)
    path = require_weight_file(paths, "frame_model", spec)
    net = FrameDenoiser(spec.frame_model)
    load_weights(net, read_state_file(path), KeyMap(), source=str(path))
    decoder = None
    if spec.frame_model.layers:
        present = {component: require_weight_file(paths, component, spec)
                   for component in paths if component != "frame_model"}
        decoder = FRAME_DECODERS.get(spec.frame_model.layers).load(spec, present)
    return LoadedFrameModel(net=net.to(device=device, dtype=dtype).eval(), decoder=decoder)


class FramePipeline:
    """Rolls a causal-video spec out frame by frame (`rollout.py`)."""

    has_negative_context = False

    def __init__(self, spec: ModelSpec, model: LoadedFrameModel, device: torch.device, dtype: torch.dtype) -> None:
        self.spec = spec
        self.model = model
        self.device = device
        self.dtype = dtype

    @property
    def frameless(self) -> FramelessRollout | None:
        decoder = self.model.decoder
        return decoder.frameless if decoder is not None else None

    def close(self) -> None:
        """Nothing to release beyond the modules the engine drops."""

    def sampler(self) -> FrameRollout:
        """A frame rollout over this model (a closed loop may keep one to continue its runs)."""
        return FrameRollout(self.spec, self.model.net, self.device, self.dtype, decoder=self.model.decoder)

    @torch.inference_mode()
    def frame_distance(self, images: np.ndarray) -> np.ndarray:
        """Pixel models have no latent space: 4x4 average-pooled pixels in [-1, 1], squared distance
        of each image to the last one (the goal)."""
        pooled = torch.nn.functional.avg_pool2d(pixels_to_unit(torch.from_numpy(images).permute(0, 3, 1, 2)), 4)
        result: np.ndarray = (pooled[:-1] - pooled[-1:]).pow(2).mean(dim=(1, 2, 3)).numpy()
        return result

    def rollout(self, start: np.ndarray, actions: np.ndarray, seeds: list[int], num_steps: int, guidance: float,
                on_chunk: ChunkCallback | None, should_cancel: CancelCheck | None, fused: bool,
                history: tuple[np.ndarray, np.ndarray] | None) -> BatchRolloutResult:
        spec = self.spec
        start_time = time.perf_counter()
        chunks = actions.shape[1] // spec.chunk_size
        frames_all = np.repeat(start[None, None], len(seeds), axis=0)

        def chunk_done(c: int, frames: np.ndarray) -> None:
            if on_chunk is None:
                return
            lo = 0 if c == 0 else c * spec.chunk_size + 1
            first = np.concatenate([frames_all[:, :1], frames], axis=1) if c == 0 else frames
            on_chunk(ChunkEvent(c, chunks, first.copy(), lo, time.perf_counter() - start_time))

        normalised_history = None if history is None else (history[0], spec.normalise_actions(history[1]))
        out, timings = self.sampler().run(start, spec.normalise_actions(actions), seeds, num_steps, chunk_done,
                                          should_cancel, fused, normalised_history)
        timings["total_s"] = time.perf_counter() - start_time
        return BatchRolloutResult(out, seeds, num_steps, 0.0, {key: round(v, 6) for key, v in timings.items()})
