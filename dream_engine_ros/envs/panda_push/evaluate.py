"""Cube evaluation of a world model of the Panda pushing scene, against copy-first-frame.

    python -m dream_engine_ros.envs.panda_push.evaluate --spec MODEL_DIR --episodes 10 --seed 777 [--json F]

1. draw held-out episodes (`episodes`, the "held_out" rule and its own seeds, never training's);
2. roll the model out from each start frame with the episode's commands, open loop;
3. read the cube in the predicted and the true frames with the same pixel reader (`reader`);
4. print a markdown table per horizon (12, 24, 48, those within the episode): the model's row above
   copy-first-frame's (`cube_metrics` defines the columns).
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from collections.abc import Sequence
from pathlib import Path

import numpy as np

from dream_engine_ros.envs.panda_push import cube_metrics
from dream_engine_ros.envs.panda_push.episodes import Episode, generate
from dream_engine_ros.evaluation.predictors import Predictor, copy_first_frame, engine_predictor

Report = dict[str, dict[int, dict[str, float]]]  # report[predictor][horizon] = aggregated figures

HORIZONS: tuple[int, ...] = (12, 24, 48)
COLUMNS: tuple[tuple[str, str, str], ...] = (
    ("cube_error_end", "cube err @h (median px)", "{:.2f}"),
    ("cube_error_mean", "cube err mean (px)", "{:.2f}"),
    ("cube_ok_end", f"cube within {cube_metrics.OK_TOLERANCE_PX:g} px @h", "{:.0%}"),
    ("moved_ok_end", "moved correctly @h", "{:.0%}"),
    ("cube_found", "cube found", "{:.0%}"),
    ("psnr", "PSNR", "{:.2f}"),
    ("ssim", "SSIM", "{:.3f}"),
)


def evaluate(predictors: dict[str, Predictor], episodes: Sequence[Episode],
             horizons: Sequence[int] = HORIZONS) -> Report:
    report: Report = {}
    for name, predict in predictors.items():
        rows: dict[int, list[dict[str, float]]] = {h: [] for h in horizons}
        for i, episode in enumerate(episodes):
            pred = np.asarray(predict(episode.frames[0], episode.actions, i))
            per_frame = cube_metrics.rollout_metrics(pred, episode.frames, episode.cubes)
            for h in horizons:
                rows[h].append(cube_metrics.summarise(per_frame, h))
        report[name] = {h: cube_metrics.aggregate(r) for h, r in rows.items()}
    return report


def _cell(fmt: str, value: float) -> str:
    if np.isnan(value):
        return "n/a"
    return "lost" if np.isinf(value) else fmt.format(value)


def markdown(report: Report, episodes: int, horizons: Sequence[int] = HORIZONS) -> str:
    lines = []
    header = "| model | " + " | ".join(label for _, label, _ in COLUMNS) + " |"
    rule = "| --- | " + " | ".join("---" for _ in COLUMNS) + " |"
    for h in horizons:
        moved = int(next(iter(report.values()))[h]["moved_episodes"])
        lines += [f"Horizon {h} (frames 1..{h}; '@h' = frame {h}; the cube moved in {moved} of {episodes} "
                  "episodes):", "", header, rule]
        for name, rows in report.items():
            lines.append(f"| {name} | " + " | ".join(_cell(fmt, rows[h][key]) for key, _, fmt in COLUMNS) + " |")
        lines.append("")
    return "\n".join(lines)


def jsonable(report: Report) -> dict[str, dict[str, dict[str, float | str | None]]]:
    """The report with JSON's own values: NaN (nothing to score) -> null, inf (a lost cube) -> "lost"."""
    def value(v: float) -> float | str | None:
        return None if np.isnan(v) else "lost" if np.isinf(v) else v

    return {name: {str(h): {k: value(v) for k, v in row.items()} for h, row in rows.items()}
            for name, rows in report.items()}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--spec", required=True, help="a model folder (dream-engine train --out) or a spec name")
    parser.add_argument("--weights", default=None)
    parser.add_argument("--episodes", type=int, default=10)
    parser.add_argument("--steps", type=int, default=48, help="commands per episode (the longest horizon)")
    parser.add_argument("--seed", type=int, default=777)
    parser.add_argument("--num-steps", type=int, default=None, help="denoising steps (default: the spec's)")
    parser.add_argument("--json", default=None, help="also write the report here")
    args = parser.parse_args(argv)
    if args.episodes < 1 or args.steps < 1:
        parser.error("--episodes and --steps must be at least 1")
    from dream_engine_ros.engine.runner import DreamEngine
    from dream_engine_ros.engine.spec import get_spec

    engine = DreamEngine.load(get_spec(args.spec), weights=args.weights, device="cpu")
    tic = time.perf_counter()
    episodes = generate("held_out", args.episodes, args.steps, args.seed)
    horizons = [h for h in HORIZONS if h <= args.steps] or [args.steps]
    report = evaluate({args.spec: engine_predictor(engine, args.num_steps), "copy-first-frame": copy_first_frame},
                      episodes, horizons)
    print(markdown(report, args.episodes, horizons))
    print(f"{args.episodes} held-out episodes, seed {args.seed}, {time.perf_counter() - tic:.0f} s", file=sys.stderr)
    if args.json:
        Path(args.json).parent.mkdir(parents=True, exist_ok=True)
        with open(args.json, "w") as f:
            json.dump({"spec": args.spec, "episodes": args.episodes, "steps": args.steps, "seed": args.seed,
                       "report": jsonable(report)},
                      f, indent=1)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
