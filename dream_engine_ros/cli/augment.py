"""`dream-engine augment`: perturbed-action rollouts from recordings, written as rosbag2 MCAP (the
'augment' extra: rosbags, ray). Exit codes: 0 ok, 1 missing extra or a failure, 2 bad input (one line
naming file and topic), 3 weights missing or unreadable, 4 I/O error."""

from __future__ import annotations

import argparse
import sys
from typing import Any

from dream_engine_ros.cli.exit_codes import EXIT_BAD_INPUT, EXIT_FAILURE, CliError
from dream_engine_ros.defaults import DEFAULT_SPEC

DEFAULT_PERTURB = "ou:sigma=15,tau=5;offset:sigma=10;clip"


def _missing_module(names: tuple[str, ...]) -> str | None:
    for name in names:
        try:
            __import__(name)
        except ImportError:
            return name
    return None


def _float_list(text: str) -> list[float]:
    try:
        return [float(v) for v in text.split(",") if v.strip()]
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a comma-separated list of seconds") from None


def _augment_command(args: argparse.Namespace) -> int | dict[str, Any]:
    needed = ("rosbags", "ray") if args.workers or args.ray_address else ("rosbags",)
    missing = _missing_module(needed)
    if missing is not None:
        print(f"error: `dream-engine augment` needs the 'augment' extra (module {missing!r} is missing): "
              "pip install 'dream_engine_ros[augment]'", file=sys.stderr)
        return EXIT_FAILURE
    from dream_engine_ros.augment.errors import AugmentInputError
    from dream_engine_ros.augment.execution import EngineSettings, LocalExecutor, RayExecutor
    from dream_engine_ros.augment.pipeline import AugmentSettings, run_augment
    from dream_engine_ros.augment.recording import RecordingOptions

    settings = AugmentSettings(
        spec=args.spec, perturb=args.perturb, per_start=args.per_start, horizon=args.horizon,
        start_every=args.start_every, start_times=args.start_times,
        recording=RecordingOptions(args.camera_topic, args.action_topic, args.action_fields, args.stamps),
        num_steps=args.num_steps, action_layout=args.action_layout)
    engine = EngineSettings(args.spec, args.weights, args.device, args.torch_threads, args.num_steps)
    executor: Any
    if args.workers < 0:
        print(f"error: --workers: {args.workers} must be 0 (in this process) or more", file=sys.stderr)
        return EXIT_BAD_INPUT
    if args.workers == 0 and not args.ray_address:
        executor = LocalExecutor(engine)
    else:
        executor = RayExecutor(engine, args.workers or None, args.ray_address)
    # `dream-engine`'s main maps the engine's InputError / WeightsError and OSError to exit codes and
    # prints the returned summary as JSON; only the errors it does not know are mapped here
    try:
        return run_augment(args.input, settings, args.out, executor, weights=args.weights,
                           progress_stream=sys.stderr)
    except AugmentInputError as exc:
        raise CliError(str(exc), EXIT_BAD_INPUT) from exc
    except KeyError as exc:  # unknown spec name
        raise CliError(f"--spec: {exc.args[0]}", EXIT_BAD_INPUT) from exc


def add_augment_subcommands(subparsers: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    """Register `augment` on the `dream-engine` parser."""
    p = subparsers.add_parser(
        "augment", help="perturbed-action rollouts from rosbag2 / npz recordings, written as rosbag2 MCAP",
        description="Read recordings (rosbag2 MCAP or sqlite3 directories/files, npz episodes), pick start frames, "
                    "perturb the recorded actions, roll them out with the world model and write one rosbag2 MCAP "
                    "per sample plus OUT/index.json. Reproducible (one seed per sample from the recording's "
                    "content, the start and the sample index) and resumable (finished samples are skipped).")
    p.add_argument("--input", nargs="+", required=True, metavar="REC",
                   help="rosbag2 directories, .mcap / .db3 files, or npz episode files")
    p.add_argument("--camera-topic", default=None, help="sensor_msgs/Image or CompressedImage topic (bags)")
    p.add_argument("--action-topic", default=None, help="action topic (bags); see --action-fields")
    p.add_argument("--action-fields", default=None,
                   help="comma-separated field paths onto the action vector, e.g. 'data', 'data[0:2]', "
                        "'point.x,point.y', 'position[joint_a],position[joint_b]' (default: by message type)")
    p.add_argument("--action-layout", choices=("raw", "gr1"), default="raw",
                   help="raw: the recorded vector is the spec's action (default); gr1: 29 GR-1 joint targets, "
                        "perturbed as joints and converted to DreamDojo's 384-d delta actions")
    p.add_argument("--stamps", choices=("header", "log"), default="header",
                   help="match on header stamps where messages have them (default) or on bag log times")
    p.add_argument("--perturb", default=DEFAULT_PERTURB,
                   help="perturbation spec, e.g. 'warp:max=0.2;offset:sigma=10;ou:sigma=15,tau=5;clip' "
                        f"(default {DEFAULT_PERTURB!r}; 'none' = recorded actions)")
    p.add_argument("--per-start", type=int, default=4, help="samples per start frame (default 4)")
    p.add_argument("--horizon", type=int, default=None, help="actions per sample (default: one chunk of the spec)")
    starts = p.add_mutually_exclusive_group()
    starts.add_argument("--start-every", type=int, default=None,
                        help="a start frame every K grid frames (default: the horizon)")
    starts.add_argument("--start-times", type=_float_list, default=None,
                        help="start frames at these seconds after a recording's first frame, e.g. 0,2.5")
    p.add_argument("--out", required=True, help="output folder (created; a rerun resumes it)")
    p.add_argument("--workers", type=int, default=0,
                   help="0: roll out in this process (default); N: N Ray actors (a local Ray cluster unless "
                        "--ray-address)")
    p.add_argument("--ray-address", default=None,
                   help="join a running Ray cluster (e.g. HEAD:6379 or 'auto'); actors default to one per GPU, "
                        "else one per CPU")
    p.add_argument("--spec", default=DEFAULT_SPEC, help=f"model spec (default {DEFAULT_SPEC})")
    p.add_argument("--weights", default=None, help="weights directory (default: the spec's)")
    p.add_argument("--device", default="auto", help="auto | cpu | cuda (per worker)")
    p.add_argument("--num-steps", type=int, default=None, help="denoising steps (default: the spec's)")
    p.add_argument("--torch-threads", type=int, default=1,
                   help="torch threads per worker (default 1; keep it equal across runs that must match bit for bit)")
    p.set_defaults(handler=_augment_command)
