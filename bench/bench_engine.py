"""Engine benchmark: prints figures measured in this run (no timing asserts anywhere else).

  1. T=48 rollout on the embedded spec, split encode / denoise / decode / mp4, vs real time
  2. predict_batch K=8 vs 8 sequential predicts (throughput ratio), exact rows and fused=True
  3. model FLOP/s (FLOPs counted by torch's FlopCounterMode) vs a plain fp32 matmul, same run

Usage: python bench/bench_engine.py [--spec NAME (default: the catalog default)] [--device auto] [--repeats 3] [--json]
       [--no-mp4]
"""

from __future__ import annotations

import argparse
import json
import platform
import resource
import statistics
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch.utils.flop_counter import FlopCounterMode

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from dream_engine_ros.defaults import DEFAULT_SPEC  # noqa: E402
from dream_engine_ros.engine.runner import DreamEngine  # noqa: E402


def _median_time(fn: Callable[[], Any], repeats: int) -> tuple[float, Any]:
    times, result = [], None
    for _ in range(repeats):
        start = time.perf_counter()
        result = fn()
        times.append(time.perf_counter() - start)
    return statistics.median(times), result


def _sync(device: torch.device) -> None:
    if device.type == "cuda":
        torch.cuda.synchronize()


def matmul_flops_per_s(device: torch.device, dtype: torch.dtype, size: int = 1024, repeats: int = 20) -> float:
    a = torch.randn(size, size, device=device, dtype=dtype)
    b = torch.randn(size, size, device=device, dtype=dtype)
    for _ in range(3):
        a @ b
    _sync(device)
    start = time.perf_counter()
    for _ in range(repeats):
        a @ b
    _sync(device)
    return 2 * size**3 * repeats / (time.perf_counter() - start)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--spec", default=DEFAULT_SPEC)
    parser.add_argument("--device", default="auto")
    parser.add_argument("--horizon", type=int, default=48)
    parser.add_argument("--candidates", type=int, default=8)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--json", action="store_true", help="print one JSON object only")
    parser.add_argument("--no-mp4", action="store_true", help="leave the mp4 encode out (a machine without PyAV)")
    args = parser.parse_args()

    engine = DreamEngine.load(args.spec, device=args.device)
    spec = engine.spec
    rng = np.random.default_rng(0)
    frame = rng.integers(0, 256, (spec.height, spec.width, 3), dtype=np.uint8)
    low = np.asarray(spec.action_low or [-1.0] * spec.action_dim, dtype=np.float32)
    high = np.asarray(spec.action_high or [1.0] * spec.action_dim, dtype=np.float32)
    plans = rng.uniform(low, high, (args.candidates, args.horizon, spec.action_dim)).astype(np.float32)
    engine.predict(frame, plans[0], seed=0)  # warm-up (allocator, kernels)

    # 1. one rollout, split
    rollouts = [engine.predict(frame, plans[0], seed=0) for _ in range(args.repeats)]
    split = {key: statistics.median(r.timings[key] for r in rollouts) for key in rollouts[0].timings}
    mp4_s = 0.0
    if not args.no_mp4:
        from dream_engine_ros.video import write_mp4

        with tempfile.TemporaryDirectory() as tmp:
            mp4_s, _ = _median_time(lambda: write_mp4(Path(tmp) / "bench.mp4", rollouts[0].frames, spec.fps),
                                    args.repeats)
    rollout_s = split["total_s"] + mp4_s
    video_s = args.horizon / spec.fps

    # 2. fused batch vs sequential
    seeds = list(range(args.candidates))
    sequential_s, _ = _median_time(
        lambda: [engine.predict(frame, p, seed=s) for p, s in zip(plans, seeds, strict=True)], 1)
    batch_s, batch = _median_time(lambda: engine.predict_batch(frame, plans, seeds=seeds), 1)
    # planners' mode: candidates batched through the network too (rows equal to rounding only)
    planning_s, _ = _median_time(lambda: engine.predict_batch(frame, plans, seeds=seeds, fused=True), 1)

    # 3. achieved FLOP/s of a rollout vs a plain matmul in this process
    with FlopCounterMode(display=False) as counter:
        engine.predict(frame, plans[0], seed=0)
    rollout_flops = counter.get_total_flops()
    matmul = matmul_flops_per_s(engine.device, engine.dtype)
    achieved = rollout_flops / split["total_s"]

    report = {
        "spec": spec.name,
        "device": str(engine.device),
        "dtype": str(engine.dtype).replace("torch.", ""),
        "threads": torch.get_num_threads(),
        "cpu": platform.processor() or platform.machine(),
        "horizon": args.horizon,
        "num_steps": spec.num_steps,
        "rollout": {
            "encode_s": round(split["encode_s"], 4),
            "denoise_s": round(split["denoise_s"], 4),
            "decode_s": round(split["decode_s"], 4),
            "mp4_s": round(mp4_s, 4),
            "total_s": round(rollout_s, 4),
            "video_duration_s": video_s,
            "real_time_factor": round(video_s / rollout_s, 3),
        },
        "batch": {
            "candidates": args.candidates,
            "sequential_s": round(sequential_s, 3),
            "fused_s": round(batch_s, 3),
            "throughput_ratio": round(sequential_s / batch_s, 3),
            "planning_fused_s": round(planning_s, 3),
            "planning_throughput_ratio": round(sequential_s / planning_s, 3),
            "fused_denoise_s": round(batch.timings["denoise_s"], 3),
            "fused_decode_s": round(batch.timings["decode_s"], 3),
        },
        "flops": {
            "rollout_gflop": round(rollout_flops / 1e9, 3),
            "achieved_gflop_per_s": round(achieved / 1e9, 2),
            "plain_matmul_gflop_per_s": round(matmul / 1e9, 2),
            "fraction_of_matmul": round(achieved / matmul, 3),
        },
        "peak_rss_mib": round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, 1),
    }
    if engine.device.type == "cuda":
        report["peak_cuda_mib"] = round(torch.cuda.max_memory_allocated() / 2**20, 1)
    if args.json:
        print(json.dumps(report))
        return 0
    r, b, f = report["rollout"], report["batch"], report["flops"]
    print(f"spec {spec.name} on {report['device']} ({report['dtype']}, {report['threads']} threads), "
          f"T={args.horizon}, {spec.num_steps} steps")
    print(f"rollout: encode {r['encode_s']:.3f}s  denoise {r['denoise_s']:.3f}s  decode {r['decode_s']:.3f}s  "
          f"mp4 {r['mp4_s']:.3f}s  total {r['total_s']:.3f}s  for {video_s:.1f}s of video "
          f"-> {r['real_time_factor']:.2f}x real time (goal > 1)")
    print(f"batch K={b['candidates']}: sequential {b['sequential_s']:.2f}s  fused {b['fused_s']:.2f}s "
          f"-> throughput x{b['throughput_ratio']:.2f} (goal >= 4)  [fused denoise {b['fused_denoise_s']:.2f}s, "
          f"decode {b['fused_decode_s']:.2f}s]")
    print(f"batch K={b['candidates']} fused=True (planning, rows equal up to rounding): {b['planning_fused_s']:.2f}s "
          f"-> throughput x{b['planning_throughput_ratio']:.2f}")
    print(f"flops: rollout {f['rollout_gflop']:.1f} GFLOP at {f['achieved_gflop_per_s']:.1f} GFLOP/s = "
          f"{f['fraction_of_matmul']:.1%} of a plain fp32 matmul ({f['plain_matmul_gflop_per_s']:.1f} GFLOP/s)")
    print(f"peak RSS {report['peak_rss_mib']} MiB")
    print(json.dumps(report))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
