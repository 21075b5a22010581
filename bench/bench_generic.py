"""Speed of a trained generic model folder (issue goals: T=48 rollout >= 4x real time; 64 candidates x 24
steps scored decode-free <= 0.5 s), measured in one run on this machine; prints a JSON line.

    .venv/bin/python bench/bench_generic.py --spec runs/pusht-block [--threads 2]

Figures (ratios) come from medians of `--repeats` runs after one warm-up; training throughput and peak RSS
are in the model folder's report.json (the training process measures its own).
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import sys
import time
from pathlib import Path

os.environ.setdefault("SDL_VIDEODRIVER", "dummy")
sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import numpy as np  # noqa: E402
import torch  # noqa: E402

from dream_engine_ros.engine.runner import DreamEngine  # noqa: E402


def _median_time(call, repeats: int) -> float:  # type: ignore[no-untyped-def]
    call()
    times = []
    for _ in range(repeats):
        tic = time.perf_counter()
        call()
        times.append(time.perf_counter() - tic)
    return statistics.median(times)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--spec", required=True)
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--repeats", type=int, default=3)
    args = parser.parse_args(argv)
    torch.set_num_threads(args.threads)
    engine = DreamEngine.load(args.spec, device="cpu")
    spec = engine.spec
    rng = np.random.default_rng(0)
    frame = rng.integers(0, 256, size=(spec.height, spec.width, 3), dtype=np.uint8)
    low = np.asarray(spec.action_low or [-1.0] * spec.action_dim)
    high = np.asarray(spec.action_high or [1.0] * spec.action_dim)
    horizon = 48
    actions = rng.uniform(low, high, size=(horizon, spec.action_dim)).astype(np.float32)
    rollout_s = _median_time(lambda: engine.predict(frame, actions, seed=0), args.repeats)
    out: dict[str, object] = {"spec": spec.name, "threads": args.threads,
                              "rollout_48_s": round(rollout_s, 3),
                              "real_time_ratio": round(horizon / spec.fps / rollout_s, 2)}
    if engine.can_roll_out_frameless:
        steps = 24 - 24 % spec.chunk_size
        candidates = rng.uniform(low, high, size=(64, steps, spec.action_dim)).astype(np.float32)
        out["frameless_64x24_s"] = round(_median_time(lambda: engine.rollout_frameless(frame, candidates), 1), 3)
        rollout = engine.pipeline.frameless
        try:  # a family may offer a fused variant for planners (block-diffusion does)
            fused = type(rollout)(engine.pipeline, fused=True)  # type: ignore[call-arg]
        except TypeError:
            fused = None
        if fused is not None:
            fitted = frame[None]
            past = np.zeros((0, spec.action_dim), np.float32)
            out["frameless_64x24_fused_s"] = round(_median_time(lambda: fused(fitted, past, candidates), 1), 3)
    print(json.dumps(out))
    return 0


if __name__ == "__main__":
    sys.exit(main())
