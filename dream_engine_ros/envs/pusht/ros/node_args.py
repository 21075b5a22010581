"""The options of the PushT nodes ``pusht_sim`` and ``pusht_mpc_planner``, defined once for their entry
points and the ``dream-engine pusht-sim`` / ``pusht-mpc-planner`` subcommands (no rclpy: the CLI starts fast)."""

from __future__ import annotations

import argparse

from dream_engine_ros.ros.node_args import add_common_node_arguments


def add_pusht_sim_arguments(parser: argparse.ArgumentParser) -> None:
    """The options of ``pusht_sim`` (for the ``dream-engine pusht-sim`` subcommand too)."""
    parser.add_argument("--image-size", type=int, default=None, help="override the image_size parameter")
    parser.add_argument("--rate-hz", type=float, default=None, help="override the rate_hz parameter")
    parser.add_argument("--start-seed", type=int, default=None, help="override the start_seed parameter")
    parser.add_argument("--timer", action="store_true", help="step at rate_hz instead of once per command")
    add_common_node_arguments(parser, "pusht_sim")


def add_planner_arguments(parser: argparse.ArgumentParser) -> None:
    """The options of ``dream-engine pusht-mpc-planner`` (its node keeps the name ``mpc_planner``:
    the topics of the demo, the docs and rviz/mpc.rviz stay as they were)."""
    add_common_node_arguments(parser, "mpc_planner")
