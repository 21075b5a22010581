"""``dream-engine node`` and ``dream-engine demo`` subcommands (ROS imports stay lazy).

The lead's cli.py calls ``add_ros_subcommands(subparsers)``; each subparser sets
``func(args) -> int``, the exit code.
"""

from __future__ import annotations

import argparse
from typing import Any

from dream_engine_ros.engine.spec import DEFAULT_SPEC
from dream_engine_ros.ros.node_args import NODE_DESCRIPTION, NODE_HELP, add_node_arguments


def _node_command(args: argparse.Namespace) -> int:
    from dream_engine_ros.ros.node_main import run_node_with_args

    return run_node_with_args(args)


def _demo_command(args: argparse.Namespace) -> int:
    from dream_engine_ros.ros.demo import run_demo

    return run_demo(
        spec=args.spec,
        weights=args.weights,
        device=args.device,
        horizon=args.horizon,
        seed=args.seed,
        output_dir=args.output_dir,
    )


def add_ros_subcommands(subparsers: Any) -> None:
    """Register ``node`` and ``demo`` on the console script's subparsers."""
    node = subparsers.add_parser("node", help=NODE_HELP, description=NODE_DESCRIPTION)
    add_node_arguments(node)
    node.set_defaults(func=_node_command)

    demo = subparsers.add_parser(
        "demo",
        help="start the node on pusht-tiny, feed a PushT frame, run a goal, print the mp4 path",
        description="End-to-end ROS demo; the last line printed is the mp4 path.",
    )
    demo.add_argument("--spec", default=DEFAULT_SPEC)
    demo.add_argument("--weights", default=None)
    demo.add_argument("--device", default="auto")
    demo.add_argument("--horizon", type=int, default=0, help="actions (0 = 4 chunks)")
    demo.add_argument("--seed", type=int, default=0)
    demo.add_argument("--output-dir", default=None, help="where the mp4 goes (default ./out/demo)")
    demo.set_defaults(func=_demo_command)
