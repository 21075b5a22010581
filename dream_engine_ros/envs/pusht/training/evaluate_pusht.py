"""Held-out evaluation of a PushT world model against the simulator.

Two questions, both on episodes generated fresh (seeds the training set never used):
  quality      does the model beat copy-last-frame (the start frame held for the whole
               horizon) on PSNR and SSIM over the predicted frames?
  sensitivity  from one start frame, do two different plans give different futures, and
               does each prediction resemble its own simulated future more than the other's?
"""

from __future__ import annotations

import argparse
import json
import time
from typing import Any

import numpy as np

from dream_engine_ros.engine.runner import DreamEngine
from dream_engine_ros.envs.pusht.training.pusht_data import generate_episodes_full, simulate
from dream_engine_ros.metrics import psnr, ssim


def _mean_metrics(pred: np.ndarray, truth: np.ndarray) -> tuple[float, float]:
    """Mean PSNR (from the pooled MSE, robust to perfect frames) and mean SSIM over frames."""
    mse = float(np.mean((pred.astype(np.float64) - truth.astype(np.float64)) ** 2))
    pooled_psnr = float(10 * np.log10(255.0**2 / max(mse, 1e-10)))
    return pooled_psnr, float(np.mean([ssim(p, t) for p, t in zip(pred, truth, strict=True)]))


def evaluate_quality(engine: DreamEngine, episodes: int, horizon: int, seed: int,
                     num_steps: int | None = None) -> dict[str, Any]:
    batch = generate_episodes_full(episodes, horizon, seed)
    model_psnr: list[float] = []
    model_ssim: list[float] = []
    base_psnr: list[float] = []
    base_ssim: list[float] = []
    for i in range(episodes):
        truth = batch.frames[i, 1:]
        pred = engine.predict(batch.frames[i, 0], batch.actions[i], seed=i, num_steps=num_steps).frames[1:]
        copy = np.broadcast_to(batch.frames[i, 0], truth.shape)
        p, s = _mean_metrics(pred, truth)
        bp, bs = _mean_metrics(copy, truth)
        model_psnr.append(p)
        model_ssim.append(s)
        base_psnr.append(bp)
        base_ssim.append(bs)
    return {
        "episodes": episodes,
        "horizon": horizon,
        "seed": seed,
        "model": {"psnr": float(np.mean(model_psnr)), "ssim": float(np.mean(model_ssim))},
        "copy_last_frame": {"psnr": float(np.mean(base_psnr)), "ssim": float(np.mean(base_ssim))},
        "episodes_model_better_psnr": int(np.sum(np.array(model_psnr) > np.array(base_psnr))),
        "policies": batch.policies,
    }


def evaluate_sensitivity(engine: DreamEngine, starts: int, horizon: int, seed: int,
                         num_steps: int | None = None) -> dict[str, Any]:
    """Plan A = a scripted push, plan B = another episode's plan, both from the same start."""
    pushes = generate_episodes_full(starts, horizon, seed, policies=["pusher"])
    others = generate_episodes_full(starts, horizon, seed + 1, policies=["smooth", "jumps"])
    own, cross, apart = [], [], []
    for i in range(starts):
        plans = (pushes.actions[i], others.actions[i])
        truths = [simulate(int(pushes.reset_seeds[i]), plan)[1:] for plan in plans]
        preds = [engine.predict(pushes.frames[i, 0], plan, seed=i, num_steps=num_steps).frames[1:] for plan in plans]
        for a in range(2):
            own.append(psnr(preds[a], truths[a]))
            cross.append(psnr(preds[a], truths[1 - a]))
        apart.append(float(np.abs(preds[0].astype(np.int16) - preds[1]).mean()))
    return {
        "starts": starts,
        "horizon": horizon,
        "psnr_to_own_future": float(np.mean(own)),
        "psnr_to_other_future": float(np.mean(cross)),
        "own_beats_other": int(np.sum(np.array(own) > np.array(cross))),
        "pairs": len(own),
        "mean_abs_pixel_difference_between_plans": float(np.mean(apart)),
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--spec", default="pusht-tiny")
    parser.add_argument("--weights", default=None)
    parser.add_argument("--episodes", type=int, default=32)
    parser.add_argument("--horizon", type=int, default=48)
    parser.add_argument("--seed", type=int, default=424242)
    parser.add_argument("--num-steps", type=int, default=None)
    args = parser.parse_args(argv)
    engine = DreamEngine.load(args.spec, weights=args.weights, device="cpu")
    start = time.perf_counter()
    report: dict[str, Any] = {
        "quality": evaluate_quality(engine, args.episodes, args.horizon, args.seed, args.num_steps),
        "sensitivity": evaluate_sensitivity(engine, max(2, args.episodes // 4), args.horizon, args.seed + 7,
                                            args.num_steps),
        "elapsed_s": round(time.perf_counter() - start, 1),
    }
    report["quality"].pop("policies")
    print(json.dumps(report, indent=2))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
