"""What the engine thread runs for each route, and the metadata that goes back with it.

Why separate from the routes: these functions run on the engine thread (never the event loop)
and are the only code that touches the engine, so the serial-execution rule is visible here.
"""

from __future__ import annotations

import hashlib
import math
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from dream_engine_ros.engine.runner import ChunkEvent
from dream_engine_ros.engine.spec import ModelSpec
from dream_engine_ros.http.forms import BatchRequest, PredictRequest
from dream_engine_ros.http.mp4 import encode_mp4
from dream_engine_ros.http.worker import CancelCheck
from dream_engine_ros.planning.costs import get_cost, score_rollouts


@dataclass
class PredictOutcome:
    mp4: bytes
    frames: int
    seed: int
    num_steps: int
    guidance: float
    timings: dict[str, float] = field(default_factory=dict)


@dataclass
class BatchOutcome:
    seeds: list[int]
    frames: int
    num_steps: int
    guidance: float
    costs: list[float | None] | None
    best_index: int | None
    videos: dict[int, bytes]
    timings: dict[str, float] = field(default_factory=dict)


def predict_job(request: PredictRequest, spec: ModelSpec, tmp_dir: str | None,
                on_chunk: Callable[[ChunkEvent], None] | None = None) -> Callable[[Any, CancelCheck], PredictOutcome]:
    """engine.predict + the CLI's mp4 encoder, timed."""

    def run(engine: Any, should_cancel: CancelCheck) -> PredictOutcome:
        result = engine.predict(request.frame, request.actions, seed=request.seed, num_steps=request.num_steps,
                                guidance=request.guidance, on_chunk=on_chunk, should_cancel=should_cancel)
        tic = time.perf_counter()
        mp4 = encode_mp4(result.frames, spec.fps, tmp_dir)
        timings = dict(result.timings, mp4_s=round(time.perf_counter() - tic, 6))
        return PredictOutcome(mp4, int(result.frames.shape[0]), result.seed, result.num_steps, result.guidance,
                              timings)

    return run


def _finite(values: np.ndarray) -> list[float | None]:
    return [float(v) if math.isfinite(float(v)) else None for v in values]


def batch_job(request: BatchRequest, spec: ModelSpec, tmp_dir: str | None) -> Callable[[Any, CancelCheck],
                                                                                         BatchOutcome]:
    """engine.predict_batch (one fused pass), goal costs, and the requested candidates' mp4s; with a
    decode-free cost, the costs without drawing any candidate, then only the requested ones drawn."""

    def run(engine: Any, should_cancel: CancelCheck) -> BatchOutcome:
        if request.goal is not None and get_cost(request.cost or "").frameless:
            return _decode_free_batch(engine, request, spec, tmp_dir, should_cancel)
        result = engine.predict_batch(request.frame, request.actions, seeds=request.seeds,
                                      num_steps=request.num_steps, guidance=request.guidance,
                                      should_cancel=should_cancel, fused=request.fused)
        costs: list[float | None] | None = None
        best: int | None = None
        timings = dict(result.timings)
        if request.goal is not None:
            tic = time.perf_counter()
            raw = np.asarray(score_rollouts(engine, request.cost or "", result.frames, request.goal), dtype=np.float64)
            costs = _finite(raw)
            best = int(np.argmin(np.where(np.isfinite(raw), raw, np.inf)))
            timings["cost_s"] = round(time.perf_counter() - tic, 6)
        indices = [best] if request.videos_best and best is not None else request.videos
        tic = time.perf_counter()
        videos = {k: encode_mp4(result.frames[k], spec.fps, tmp_dir) for k in indices}
        timings["mp4_s"] = round(time.perf_counter() - tic, 6)
        return BatchOutcome(list(result.seeds), int(result.frames.shape[1]), result.num_steps, result.guidance,
                            costs, best, videos, timings)

    return run


def _decode_free_batch(engine: Any, request: BatchRequest, spec: ModelSpec, tmp_dir: str | None,
                       should_cancel: CancelCheck) -> BatchOutcome:
    """Costs from the decode-free rollout of every candidate; the candidates asked for (videos) are
    then drawn one by one with their own seeds, so each mp4 is that candidate's single prediction."""
    assert request.goal is not None
    tic = time.perf_counter()
    raw = np.asarray(get_cost(request.cost or "").score_frameless(engine, request.frame, request.actions,
                                                                  request.goal), dtype=np.float64)
    costs = _finite(raw)
    best = int(np.argmin(np.where(np.isfinite(raw), raw, np.inf)))
    timings = {"cost_s": round(time.perf_counter() - tic, 6)}
    indices = [best] if request.videos_best else request.videos
    num_steps = request.num_steps if request.num_steps is not None else spec.num_steps
    guidance = request.guidance if request.guidance is not None else spec.guidance
    videos: dict[int, bytes] = {}
    if indices:
        drawn = engine.predict_batch(request.frame, request.actions[indices], seeds=[request.seeds[k] for k in indices],
                                     num_steps=request.num_steps, guidance=request.guidance,
                                     should_cancel=should_cancel, fused=False)
        num_steps, guidance = drawn.num_steps, drawn.guidance
        timings.update({key: round(value, 6) for key, value in drawn.timings.items()})
        tic = time.perf_counter()
        videos = {k: encode_mp4(drawn.frames[row], spec.fps, tmp_dir) for row, k in enumerate(indices)}
        timings["mp4_s"] = round(time.perf_counter() - tic, 6)
    return BatchOutcome(list(request.seeds), int(request.actions.shape[1]) + 1, num_steps, guidance, costs, best,
                        videos, timings)


def predict_headers(spec: ModelSpec, device: str, outcome: PredictOutcome, request_id: str,
                    queue_s: float) -> dict[str, str]:
    """The X-DreamEngine-* metadata of a `/v1/predict` mp4."""
    headers = {
        "X-DreamEngine-Request-Id": request_id,
        "X-DreamEngine-Spec": spec.name,
        "X-DreamEngine-Arch": spec.family,
        "X-DreamEngine-Seed": str(outcome.seed),
        "X-DreamEngine-Frames": str(outcome.frames),
        "X-DreamEngine-Height": str(spec.height),
        "X-DreamEngine-Width": str(spec.width),
        "X-DreamEngine-Fps": f"{spec.fps:g}",
        "X-DreamEngine-Chunk-Size": str(spec.chunk_size),
        "X-DreamEngine-Num-Steps": str(outcome.num_steps),
        "X-DreamEngine-Guidance": f"{outcome.guidance:g}",
        "X-DreamEngine-Device": device,
        "X-DreamEngine-Queue-S": f"{queue_s:.6f}",
        "X-DreamEngine-Mp4-Sha256": hashlib.sha256(outcome.mp4).hexdigest(),
    }
    for key in ("encode_s", "denoise_s", "decode_s", "mp4_s", "total_s"):
        if key in outcome.timings:
            headers[f"X-DreamEngine-{key[:-2].capitalize()}-S"] = f"{outcome.timings[key]:.6f}"
    return headers
