"""`dream-engine`, the console script: one module per subcommand group, registered here.

- `engine`: predict, specs, eval
- `augment`: augment (the 'augment' extra)
- `gate`: gate
- `evaluate_policy`: evaluate-policy
- `serve`: serve (the 'http' extra)
- `train`: train (a world model from recordings into a model folder)
- `ros`: node, demo, demo-mpc, pusht-sim, mpc-planner, pusht-mpc-planner (when the ROS adapter imports)

Only this package imports these modules; they import the library (engine/, augment/, evaluation/,
http/, ros/ ...), never the other way round. Heavy modules (torch, rclpy, uvicorn ...) are imported
inside the command functions, so building the parser (`dream-engine --help`) stays fast.

Exit codes (`exit_codes.py`): 0 ok, 1 a failure, 2 bad input, 3 weights missing or unreadable, 4 I/O error.
"""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Sequence

from dream_engine_ros.cli.exit_codes import EXIT_BAD_INPUT, EXIT_IO, EXIT_OK, EXIT_WEIGHTS, CliError

__all__ = ["build_parser", "main"]


def build_parser() -> argparse.ArgumentParser:
    from dream_engine_ros.cli.augment import add_augment_subcommands
    from dream_engine_ros.cli.engine import add_engine_subcommands
    from dream_engine_ros.cli.evaluate_policy import add_policy_subcommands
    from dream_engine_ros.cli.gate import add_gate_subcommands
    from dream_engine_ros.cli.serve import add_http_subcommands
    from dream_engine_ros.cli.train import add_train_subcommands

    parser = argparse.ArgumentParser(prog="dream-engine", description="Action-conditioned video world models.")
    sub = parser.add_subparsers(dest="command", required=True)
    add_engine_subcommands(sub)
    add_gate_subcommands(sub)
    add_policy_subcommands(sub)
    add_http_subcommands(sub)
    add_augment_subcommands(sub)
    add_train_subcommands(sub)
    try:
        from dream_engine_ros.cli.ros import add_ros_subcommands
    except ImportError:
        pass  # the ROS adapter is optional for engine-only installs
    else:
        add_ros_subcommands(sub)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Run one subcommand; returns the process exit code (see `exit_codes.py`)."""
    from dream_engine_ros.engine.errors import InputError, WeightsError

    args = build_parser().parse_args(argv)
    try:
        result = args.handler(args)
    except CliError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return exc.code
    except InputError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return EXIT_BAD_INPUT
    except WeightsError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return EXIT_WEIGHTS
    except OSError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return EXIT_IO
    if isinstance(result, int):
        return result
    if result is not None:
        print(json.dumps(result, indent=None if args.command == "predict" else 2))
    return EXIT_OK
