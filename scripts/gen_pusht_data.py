#!/usr/bin/env python3
"""Generate a PushT dataset (.npz) for training/evaluating the pusht-tiny world model.

Example:
    scripts/gen_pusht_data.py --episodes 400 --steps 96 --seed 0 --out data/pusht_train.npz

The .npz holds `frames` uint8 (N, steps+1, 96, 96, 3), `actions` float32 (N, steps, 2)
(raw env targets in [0, 512]), `states` float32 (N, steps+1, 5) [agent xy, block xy,
block angle], `policies` (N,) str, `reset_seeds` (N,) int64, `seed`, `steps`, `fps`.
Written atomically (temp file in the same directory, fsync, rename).
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import numpy as np  # noqa: E402

from dream_engine_ros.atomic_file import atomic_output  # noqa: E402
from dream_engine_ros.envs.pusht.training import pusht_data  # noqa: E402


def save_npz_atomic(path: Path, arrays: dict[str, np.ndarray], compress: bool) -> None:
    """Write an .npz so that readers never see a partial file."""
    path.parent.mkdir(parents=True, exist_ok=True)
    with atomic_output(path) as tmp, open(tmp, "wb") as f:
        (np.savez_compressed if compress else np.savez)(f, **arrays)


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--episodes", type=int, required=True)
    ap.add_argument("--steps", type=int, default=96)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--policies", default=None,
                    help=f"comma-separated subset of {','.join(pusht_data.POLICIES)}")
    ap.add_argument("--out", type=Path, required=True)
    ap.add_argument("--compress", action="store_true",
                    help="zip-deflate the arrays (smaller file, slower to load)")
    args = ap.parse_args(argv)
    policies = args.policies.split(",") if args.policies else None

    t0 = time.time()

    def progress(done: int, total: int) -> None:
        if done % 50 == 0 or done == total:
            print(f"  {done}/{total} episodes, {time.time() - t0:.1f}s", file=sys.stderr)

    try:
        b = pusht_data.generate_episodes_full(args.episodes, args.steps, args.seed, policies,
                                              progress=progress)
    except ValueError as e:
        print(f"error: {e}", file=sys.stderr)
        return 2
    arrays = {
        "frames": b.frames,
        "actions": b.actions,
        "states": b.states,
        "policies": np.array(b.policies),
        "reset_seeds": b.reset_seeds,
        "seed": np.array(b.seed, dtype=np.int64),
        "steps": np.array(args.steps, dtype=np.int64),
        "fps": np.array(10.0),
    }
    save_npz_atomic(args.out, arrays, args.compress)
    # Displacement in image pixels (96 px across 512 env units).
    moved = pusht_data.block_displacement(b.states) * b.frames.shape[2] / 512.0
    rot = pusht_data.block_rotation(b.states)
    names, counts = np.unique(np.array(b.policies), return_counts=True)
    summary = {
        "out": str(args.out),
        "frames": list(b.frames.shape),
        "actions": list(b.actions.shape),
        "policies": dict(zip(names.tolist(), counts.tolist(), strict=True)),
        "block_moved_gt_3px_frac": round(float(np.mean(moved > 3.0)), 3),
        "block_moved_gt_3px_or_rot_gt_0.1rad_frac": round(float(np.mean((moved > 3.0) | (rot > 0.1))), 3),
        "block_moved_median_px": round(float(np.median(moved)), 2),
        "seconds": round(time.time() - t0, 1),
    }
    print(json.dumps(summary))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
