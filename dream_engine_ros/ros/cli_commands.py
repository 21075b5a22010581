"""``dream-engine node`` and ``dream-engine demo`` subcommands (ROS imports stay lazy).

The lead's cli.py calls ``add_ros_subcommands(subparsers)``; each subparser sets
``func(args) -> int``, the exit code.
"""

from __future__ import annotations

import argparse
from typing import Any


def _node_command(args: argparse.Namespace) -> int:
    from dream_engine_ros.ros.node_main import run_node

    return run_node(
        params_file=args.params_file,
        spec=args.spec,
        weights=args.weights,
        device=args.device,
        camera_topic=args.camera_topic,
        name=args.name,
        namespace=args.namespace,
        extra_ros_args=args.ros_args,
    )


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
    node = subparsers.add_parser(
        "node",
        help="run the ROS 2 lifecycle node (same as the launch file)",
        description="Run the dream_engine lifecycle node. Parameters come from --params-file "
        "(e.g. config/engine.yaml); --spec/--weights/--device override it.",
    )
    node.add_argument("--params-file", default=None, help="ROS parameter YAML (/**: ros__parameters: ...)")
    node.add_argument("--spec", default=None, help="override the spec parameter")
    node.add_argument("--weights", default=None, help="override the weights parameter")
    node.add_argument("--device", default=None, help="override the device parameter")
    node.add_argument("--camera-topic", default=None, help="remap the image subscription to this topic")
    node.add_argument("--name", default="dream_engine", help="node name (default dream_engine)")
    node.add_argument("--namespace", default="", help="node namespace")
    node.add_argument(
        "--ros-args",
        dest="ros_args",
        nargs=argparse.REMAINDER,
        default=[],
        help="everything after it goes to the node as ROS arguments (-p name:=value, -r from:=to)",
    )
    node.set_defaults(func=_node_command)

    demo = subparsers.add_parser(
        "demo",
        help="start the node on pusht-tiny, feed a PushT frame, run a goal, print the mp4 path",
        description="End-to-end ROS demo; the last line printed is the mp4 path.",
    )
    demo.add_argument("--spec", default="pusht-tiny")
    demo.add_argument("--weights", default=None)
    demo.add_argument("--device", default="auto")
    demo.add_argument("--horizon", type=int, default=0, help="actions (0 = 4 chunks)")
    demo.add_argument("--seed", type=int, default=0)
    demo.add_argument("--output-dir", default=None, help="where the mp4 goes (default ./out/demo)")
    demo.set_defaults(func=_demo_command)
