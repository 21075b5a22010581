"""The options of ``dream-engine node`` (and what every node entry point takes), defined once.

Both the console script's subcommands (``cli/ros.py``) and the nodes' own entry points
add these arguments (an environment's nodes add theirs, e.g. ``envs/pusht/ros/node_args.py``);
this module imports neither of them (nor rclpy: the CLI starts fast).
"""

from __future__ import annotations

import argparse

NODE_HELP = "run the ROS 2 lifecycle node (same as the launch file)"
NODE_DESCRIPTION = (
    "Run the dream_engine lifecycle node. Parameters come from --params-file "
    "(e.g. config/engine.yaml); --spec/--weights/--device override it."
)


def add_common_node_arguments(parser: argparse.ArgumentParser, default_name: str) -> None:
    """--params-file, --name, --namespace, --ros-args: what every node entry point takes."""
    parser.add_argument("--params-file", default=None, help="ROS parameter YAML (/**: ros__parameters: ...)")
    parser.add_argument("--name", default=default_name, help=f"node name (default {default_name})")
    parser.add_argument("--namespace", default="", help="node namespace")
    parser.add_argument(
        "--ros-args",
        dest="ros_args",
        nargs=argparse.REMAINDER,
        default=[],
        help="everything after it goes to the node as ROS arguments (-p name:=value, -r from:=to)",
    )


def add_mpc_planner_arguments(parser: argparse.ArgumentParser) -> None:
    """The options of the generic ``mpc_planner`` (``dream-engine mpc-planner``): its parameters come
    from --params-file (e.g. config/mpc_planner.yaml) and -p overrides after --ros-args."""
    add_common_node_arguments(parser, "mpc_planner")


def add_node_arguments(parser: argparse.ArgumentParser) -> None:
    """Add the node's options to ``parser`` (a subcommand's parser or a whole program's)."""
    parser.add_argument("--spec", default=None, help="override the spec parameter")
    parser.add_argument("--weights", default=None, help="override the weights parameter")
    parser.add_argument("--device", default=None, help="override the device parameter")
    parser.add_argument("--camera-topic", default=None, help="remap the image subscription to this topic")
    add_common_node_arguments(parser, "dream_engine")
