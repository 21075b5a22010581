"""`dream-engine train`: a world model of your own robot from its recordings, into a model folder.

The folder (`--out DIR`) is a spec: pass it to every surface as `--spec DIR` / `spec:=DIR`.
Exit codes: 0 ok, 1 a failure, 2 bad input (one line naming file and topic), 4 I/O error.
Data-parallel: run the same command under `torchrun --nproc_per_node N -m dream_engine_ros.cli train ...`
(docs/training.md).
"""

from __future__ import annotations

import argparse
import math
import sys
from pathlib import Path
from typing import Any

from dream_engine_ros.cli.exit_codes import EXIT_BAD_INPUT, CliError


def _train_command(args: argparse.Namespace) -> dict[str, Any]:
    from dream_engine_ros.augment.errors import AugmentInputError
    from dream_engine_ros.augment.recording import RecordingOptions
    from dream_engine_ros.engine.runner import resolve_device
    from dream_engine_ros.training.block_diffusion import TrainSettings, train_block_diffusion
    from dream_engine_ros.training.loop import join_process_group, leave_process_group

    out = Path(args.out).expanduser()
    if (out / "spec.json").exists() and not args.resume:
        raise CliError(f"--out: {out} already holds a model (spec.json); choose another folder", EXIT_BAD_INPUT)
    if (out / "train").is_dir() and not args.resume:
        raise CliError(f"--out: {out} holds an unfinished run; add --resume to continue it", EXIT_BAD_INPUT)
    for name in ("resolution", "chunk_size", "batch", "tokenizer_steps", "dynamics_steps", "num_steps"):
        if getattr(args, name) < 1:
            raise CliError(f"--{name.replace('_', '-')}: {getattr(args, name)} must be >= 1", EXIT_BAD_INPUT)
    if not args.fps > 0 or not args.time_budget_min > 0:
        raise CliError("--fps and --time-budget-min must be positive", EXIT_BAD_INPUT)
    recipe = {name: getattr(args, name) for name in ("change_weight", "context_noise", "ema")
              if getattr(args, name) is not None}  # what is not given keeps TrainSettings' default
    for name, value in recipe.items():
        if not (value >= 0 and (name != "ema" or value < 1)):
            raise CliError(f"--{name.replace('_', '-')}: {value} must be >= 0" + (" and < 1" if name == "ema" else ""),
                           EXIT_BAD_INPUT)
    settings = TrainSettings(
        inputs=tuple(args.input), out=out,
        options=RecordingOptions(args.camera_topic, args.action_topic, args.action_fields, args.stamps),
        resolution=args.resolution, fps=args.fps, chunk_size=args.chunk_size, num_steps=args.num_steps,
        time_budget_s=args.time_budget_min * 60.0 if math.isfinite(args.time_budget_min) else math.inf,
        tokenizer_steps=args.tokenizer_steps, dynamics_steps=args.dynamics_steps, batch=args.batch,
        held_out=args.held_out, seed=args.seed, resume=args.resume, log_every=args.log_every,
        eval_every=args.eval_every, **recipe)
    device = resolve_device(args.device)
    process = join_process_group(device)
    try:
        outcome = train_block_diffusion(settings, device, process, log=lambda line: print(line, file=sys.stderr))
    except AugmentInputError as exc:  # the reader's and the data's errors name file and topic
        raise CliError(str(exc), EXIT_BAD_INPUT) from exc
    except (FileNotFoundError, ValueError) as exc:  # --resume without a readable checkpoint
        raise CliError(str(exc), EXIT_BAD_INPUT) from exc
    leave_process_group()
    return {"model": str(outcome.folder), "spec": outcome.spec.name, "seconds": round(outcome.seconds, 1),
            "stages": {name: {"steps": r.steps_done, "stopped_by": r.stopped_by, "best_step": r.best_step,
                              "held_out_loss": r.evals[-1][1].get("loss") if r.evals else None}
                       for name, r in outcome.stages.items()}}


def add_train_subcommands(subparsers: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    """Register `train` on the `dream-engine` parser."""
    p = subparsers.add_parser(
        "train", help="train a world model (block-diffusion) from recordings into a model folder",
        description="Read recordings (rosbag2 MCAP / sqlite3, LeRobotDataset v3 folders, npz episodes), match "
                    "frames and actions on the fps grid, split episodes into training and held-out, and train "
                    "the block-diffusion family (tokenizer, then dynamics) within the time budget. OUT becomes a "
                    "model folder: spec.json (written last), weights, action statistics, split, report.json, "
                    "loss_curve.png. Resumable (--resume) from the last checkpoint of each stage.")
    p.add_argument("--input", nargs="+", required=True, metavar="REC",
                   help="rosbag2 directories or .mcap / .db3 files, LeRobot v3 folders, npz episode files")
    p.add_argument("--camera-topic", default=None,
                   help="sensor_msgs/Image or CompressedImage topic (bags); a video feature key (LeRobot)")
    p.add_argument("--action-topic", default=None, help="action topic (bags) or feature key (LeRobot)")
    p.add_argument("--action-fields", default=None,
                   help="comma-separated field paths onto the action vector, e.g. 'linear.x,linear.y' of a Twist, "
                        "'data' of a Float32MultiArray, 'position' of a JointState (default: by message type)")
    p.add_argument("--stamps", choices=("header", "log"), default="header",
                   help="match on header stamps where messages have them (default) or on bag log times")
    p.add_argument("--resolution", type=int, default=96, help="square frame size the model works at (default 96)")
    p.add_argument("--fps", type=float, default=10.0, help="the grid frames and actions are matched on (default 10)")
    p.add_argument("--chunk-size", type=int, default=4, help="frames predicted per chunk (default 4)")
    p.add_argument("--num-steps", type=int, default=2, help="denoising steps per chunk at inference (default 2)")
    p.add_argument("--time-budget-min", type=float, default=45.0,
                   help="stop both stages within this many minutes, keeping the best weights (default 45)")
    p.add_argument("--tokenizer-steps", type=int, default=4000, help="at most this many tokenizer steps")
    p.add_argument("--dynamics-steps", type=int, default=20000, help="at most this many dynamics steps")
    p.add_argument("--batch", type=int, default=16, help="global batch (split across processes under torchrun)")
    p.add_argument("--held-out", type=float, default=0.1, help="share of episodes held out (default 0.1)")
    p.add_argument("--seed", type=int, default=0, help="split, batches and initial weights (default 0)")
    p.add_argument("--log-every", type=int, default=50, help="a log line every N steps (default 50)")
    p.add_argument("--eval-every", type=int, default=500,
                   help="held-out figures and a checkpoint every N steps (default 500)")
    p.add_argument("--resume", action="store_true", help="continue the run in --out from its last checkpoints")
    p.add_argument("--device", default="auto", help="auto | cpu | cuda (bf16 autocast on CUDA)")
    p.add_argument("--change-weight", type=float, default=None,
                   help="dynamics loss: a latent cell that changed from the chunk's reference weighs 1 + this "
                        "(default: the recipe's, TrainSettings; 0 = unweighted)")
    p.add_argument("--context-noise", type=float, default=None,
                   help="dynamics: Gaussian noise of std up to this on the latents it conditions on (default: the "
                        "recipe's)")
    p.add_argument("--ema", type=float, default=None,
                   help="decay of the weights' moving average that is judged and saved (default: the recipe's; "
                        "0 = the live weights)")
    p.add_argument("--out", required=True, help="the model folder to create")
    p.set_defaults(handler=_train_command)
