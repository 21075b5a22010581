"""The options of ``dream-engine node`` and ``dream_engine_node``, defined once.

Both the console script's ``node`` subcommand (``ros/cli_commands.py``) and the node entry
point (``ros/node_main.py``) add these arguments; this module imports neither of them.
"""

from __future__ import annotations

import argparse

NODE_HELP = "run the ROS 2 lifecycle node (same as the launch file)"
NODE_DESCRIPTION = (
    "Run the dream_engine lifecycle node. Parameters come from --params-file "
    "(e.g. config/engine.yaml); --spec/--weights/--device override it."
)


def add_node_arguments(parser: argparse.ArgumentParser) -> None:
    """Add the node's options to ``parser`` (a subcommand's parser or a whole program's)."""
    parser.add_argument("--params-file", default=None, help="ROS parameter YAML (/**: ros__parameters: ...)")
    parser.add_argument("--spec", default=None, help="override the spec parameter")
    parser.add_argument("--weights", default=None, help="override the weights parameter")
    parser.add_argument("--device", default=None, help="override the device parameter")
    parser.add_argument("--camera-topic", default=None, help="remap the image subscription to this topic")
    parser.add_argument("--name", default="dream_engine", help="node name (default dream_engine)")
    parser.add_argument("--namespace", default="", help="node namespace")
    parser.add_argument(
        "--ros-args",
        dest="ros_args",
        nargs=argparse.REMAINDER,
        default=[],
        help="everything after it goes to the node as ROS arguments (-p name:=value, -r from:=to)",
    )
