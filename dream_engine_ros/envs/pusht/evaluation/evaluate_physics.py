"""Physics evaluation of a PushT world model: per kind and horizon, against copy-first-frame.

    python -m dream_engine_ros.envs.pusht.evaluation.evaluate_physics --episodes 10 --seed 777 [--json out.json]

1. generate held-out episodes of each kind (`pusht_episodes`, seeds chosen here, never training's);
2. roll the model out from each start frame with the episode's actions, open loop;
3. read agent and T back from the predicted and the true pixels (`pusht_reader`);
4. print a markdown table per horizon (12, 24, 48): the model's row above copy-first-frame's.
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import sys
import time
from collections.abc import Sequence
from pathlib import Path

import numpy as np

from dream_engine_ros.envs.pusht.evaluation import episodes as pusht_episodes
from dream_engine_ros.envs.pusht.evaluation import physics as pusht_physics
from dream_engine_ros.evaluation.predictors import Predictor, copy_first_frame, engine_predictor

HORIZONS: tuple[int, ...] = (12, 24, 48)
COLUMNS: tuple[tuple[str, str, str], ...] = (
    ("agent_error", "agent err px", "{:.2f}"),
    ("agent_once", "agent once", "{:.0%}"),
    ("block_iou_end", "T IoU @h", "{:.3f}"),
    ("block_iou_mean", "T IoU mean", "{:.3f}"),
    ("block_centre_end", "T centre err @h (median px)", "{:.2f}"),
    ("block_angle_end", "T angle err @h (median deg)", "{:.1f}"),
    ("block_pose_ok_end", "T pose ok @h", "{:.0%}"),
    ("block_count_ok", "T pixels +-15 %", "{:.0%}"),
    ("conserved", "conserved", "{:.0%}"),
    ("psnr", "PSNR", "{:.2f}"),
    ("ssim", "SSIM", "{:.3f}"),
)


def evaluate(predictors: dict[str, Predictor], episodes: dict[str, list[pusht_episodes.Episode]],
             horizons: Sequence[int] = HORIZONS) -> dict[str, dict[str, dict[int, dict[str, float]]]]:
    """report[predictor][kind][horizon] = aggregated figures (see `pusht_physics.summarise`)."""
    report: dict[str, dict[str, dict[int, dict[str, float]]]] = {}
    for name, predict in predictors.items():
        report[name] = {}
        for kind, eps in episodes.items():
            per_horizon: dict[int, list[dict[str, float]]] = {h: [] for h in horizons}
            for i, ep in enumerate(eps):
                pred = predict(ep.frames[0], ep.actions, i)
                per_frame = pusht_physics.rollout_metrics(pred, ep.frames, ep.states)
                for h in horizons:
                    per_horizon[h].append(pusht_physics.summarise(per_frame, h))
            report[name][kind] = {h: pusht_physics.aggregate(rows) for h, rows in per_horizon.items()}
    return report


def _cell(key: str, fmt: str, value: float) -> str:
    if not np.isfinite(value):
        return "lost"
    if key == "block_angle_end":
        value = float(np.degrees(value))
    return fmt.format(value)


def markdown(report: dict[str, dict[str, dict[int, dict[str, float]]]], horizons: Sequence[int] = HORIZONS) -> str:
    lines = []
    header = "| kind | model | " + " | ".join(label for _, label, _ in COLUMNS) + " |"
    rule = "| --- | --- | " + " | ".join("---" for _ in COLUMNS) + " |"
    kinds = list(next(iter(report.values())).keys())
    for h in horizons:
        lines += [f"Horizon {h} (frames 1..{h}; '@h' = frame {h}):", "", header, rule]
        for kind in kinds:
            for name in report:
                row = report[name][kind][h]
                cells = " | ".join(_cell(key, fmt, row[key]) for key, _, fmt in COLUMNS)
                lines.append(f"| {kind} | {name} | {cells} |")
        lines.append("")
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--spec", default=None, help="engine spec (default: the catalog default)")
    parser.add_argument("--weights", default=None)
    parser.add_argument("--episodes", type=int, default=10, help="episodes per kind")
    parser.add_argument("--steps", type=int, default=48)
    parser.add_argument("--seed", type=int, default=777)
    parser.add_argument("--num-steps", type=int, default=None)
    parser.add_argument("--kinds", default=",".join(pusht_episodes.KINDS))
    parser.add_argument("--json", default=None, help="also write the report here")
    parser.add_argument("--draw-moved-t", action="store_true",
                        help="the spec with the layer option 'draw-moved-t' (a moved T drawn as gym-pusht draws it)")
    args = parser.parse_args(argv)
    from dream_engine_ros.defaults import DEFAULT_SPEC
    from dream_engine_ros.engine.runner import DreamEngine
    from dream_engine_ros.engine.spec import get_spec
    from dream_engine_ros.envs.pusht.layers_plugin import DRAW_MOVED_T

    spec = args.spec or DEFAULT_SPEC
    resolved = get_spec(spec)
    if args.draw_moved_t:
        if resolved.frame_model is None:
            parser.error(f"--draw-moved-t: {spec} has no frame model")
        options = (*resolved.frame_model.layer_options, DRAW_MOVED_T)
        resolved = dataclasses.replace(resolved, frame_model=dataclasses.replace(resolved.frame_model,
                                                                                 layer_options=options))
        spec = f"{spec} (T drawn)"
    engine = DreamEngine.load(resolved, weights=args.weights, device="cpu")
    tic = time.perf_counter()
    episodes = {k: pusht_episodes.generate(k, args.episodes, args.steps, args.seed) for k in args.kinds.split(",")}
    horizons = [h for h in HORIZONS if h <= args.steps]
    report = evaluate({spec: engine_predictor(engine, args.num_steps), "copy-first-frame": copy_first_frame},
                      episodes, horizons)
    print(markdown(report, horizons))
    print(f"{args.episodes} episodes per kind, seed {args.seed}, {time.perf_counter() - tic:.0f} s", file=sys.stderr)
    if args.json:
        Path(args.json).parent.mkdir(parents=True, exist_ok=True)
        with open(args.json, "w") as f:
            json.dump({"spec": spec, "episodes": args.episodes, "seed": args.seed, "report": report}, f, indent=1)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
