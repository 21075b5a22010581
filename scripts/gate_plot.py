#!/usr/bin/env python3
"""The recorded quality gate on held-out PushT rollouts, with the plot for the docs.

    .venv/bin/python scripts/gate_plot.py --out out/gate --plot docs/gate_curves.png

Rolls the model out on the gate's held-out set (`gate_pusht.HELD_OUT`), writes the predictions
and the simulator's frames as two folders of videos, runs `dream-engine gate` on them with the
recorded thresholds (`gate_pusht.DEFAULT_THRESHOLDS`, or --min-psnr/--min-ssim/--max-lpips),
prints a markdown table per video, and exits with the gate's code (0 pass, 1 regression).
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from dream_engine_ros.cli import main as cli_main  # noqa: E402
from dream_engine_ros.envs.pusht.evaluation import gate_set as gate_pusht  # noqa: E402


def markdown(report: dict) -> str:
    lines = ["| video | PSNR (dB) | SSIM | LPIPS |", "| --- | --- | --- | --- |"]
    for row in report["per_video"]:
        lines.append(f"| {row['name']} | {row['psnr_mean_pred']:.2f} | {row['ssim_mean_pred']:.4f} "
                     f"| {row['lpips_mean_pred']:.4f} |")
    m = report["means"]
    lines.append(f"| **pooled** | **{m['psnr']:.2f}** | **{m['ssim']:.4f}** | **{m['lpips']:.4f}** |")
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    t = gate_pusht.DEFAULT_THRESHOLDS
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--spec", default=None, help="engine spec (default: the catalog default)")
    parser.add_argument("--weights", default=None)
    parser.add_argument("--out", default="out/gate", help="folder for pred/, truth/ and report.json")
    parser.add_argument("--format", choices=("npy", "mp4"), default="npy",
                        help="npy: lossless, what the recorded thresholds were measured on")
    parser.add_argument("--plot", default="docs/gate_curves.png")
    parser.add_argument("--min-psnr", type=float, default=t.min_psnr)
    parser.add_argument("--min-ssim", type=float, default=t.min_ssim)
    parser.add_argument("--max-lpips", type=float, default=t.max_lpips)
    args = parser.parse_args(argv)

    from dream_engine_ros.defaults import DEFAULT_SPEC
    from dream_engine_ros.engine.runner import DreamEngine

    spec = args.spec or DEFAULT_SPEC
    engine = DreamEngine.load(spec, weights=args.weights, device="cpu")
    out = Path(args.out)
    videos = gate_pusht.rollouts(engine)
    gate_pusht.write_folders(videos, out / "pred", out / "truth", suffix=f".{args.format}", fps=engine.spec.fps)
    (out / "report.json").unlink(missing_ok=True)  # never print a stale report
    held = gate_pusht.HELD_OUT
    title = f"{spec} on held-out PushT ({held.per_kind} per kind, {held.steps} steps, seed {held.seed})"
    code = cli_main(["gate", "--pred", str(out / "pred"), "--truth", str(out / "truth"),
                     "--min-psnr", str(args.min_psnr), "--min-ssim", str(args.min_ssim),
                     "--max-lpips", str(args.max_lpips), "--report", str(out / "report.json"),
                     "--plot", args.plot, "--title", title])
    if (out / "report.json").is_file():
        print(markdown(json.loads((out / "report.json").read_text())))
    return code


if __name__ == "__main__":
    raise SystemExit(main())
