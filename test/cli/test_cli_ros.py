"""`dream-engine node | demo | demo-mpc` (cli/ros.py): the same options as the nodes' own entry points,
and help that names what runs. No ROS graph is started here (test/ros/test_ros_cli.py runs them)."""

from __future__ import annotations

import argparse
import inspect

from dream_engine_ros.cli.ros import add_ros_subcommands
from dream_engine_ros.defaults import DEFAULT_SPEC


def _ros_parser() -> tuple[argparse.ArgumentParser, dict[str, argparse.ArgumentParser]]:
    parser = argparse.ArgumentParser()
    sub = parser.add_subparsers(dest="command")
    add_ros_subcommands(sub)
    return parser, dict(sub.choices)


def test_node_entry_point_parses_the_same_options_as_the_cli() -> None:
    parser, _ = _ros_parser()
    args = parser.parse_args(
        ["node", "--params-file", "p.yaml", "--camera-topic", "/cam", "--ros-args", "-p", "busy_policy:=queue"]
    )
    assert (args.params_file, args.camera_topic, args.ros_args) == ("p.yaml", "/cam", ["-p", "busy_policy:=queue"])
    from dream_engine_ros.ros.node_main import node_cli_args

    built = node_cli_args(None, "/cam", args.ros_args)
    assert built == [
        "--ros-args",
        "-r",
        "image:=/cam",
        "-r",
        "image/compressed:=/cam/compressed",
        "-p",
        "busy_policy:=queue",
    ]


def test_node_entry_point_parses_like_the_cli() -> None:
    from dream_engine_ros.ros.node_main import node_parser

    argv = ["--params-file", "p.yaml", "--spec", "pusht-tiny", "--camera-topic", "/cam", "--name", "n",
            "--ros-args", "-r", "__ns:=/robot", "-p", "busy_policy:=queue"]
    parser, _ = _ros_parser()
    from_cli = vars(parser.parse_args(["node", *argv]))
    del from_cli["command"], from_cli["handler"]
    from_entry_point = vars(node_parser().parse_args(argv))
    assert from_entry_point == from_cli
    assert from_entry_point["ros_args"] == ["-r", "__ns:=/robot", "-p", "busy_policy:=queue"]


def test_demo_help_names_the_spec_the_demo_runs() -> None:
    """`demo` once said pusht-tiny while it ran the default spec."""
    from dream_engine_ros.envs.pusht.ros.mpc_demo import DEMO_TASK, run_mpc_demo
    from dream_engine_ros.ros.demo import run_demo

    parser, commands = _ros_parser()
    for command, runner in (("demo", run_demo), ("demo-mpc", run_mpc_demo)):
        args = parser.parse_args([command])
        assert args.spec == DEFAULT_SPEC == inspect.signature(runner).parameters["spec"].default
        assert f"default {DEFAULT_SPEC}" in commands[command].format_help()
    listed = " ".join(parser.format_help().split())  # the line `dream-engine --help` shows for demo
    assert f"demo start the engine node (spec {DEFAULT_SPEC} unless --spec)" in listed
    demo = parser.parse_args(["demo"])
    signature = inspect.signature(run_demo).parameters
    assert (demo.horizon, demo.seed, demo.output_dir) == tuple(
        signature[name].default for name in ("horizon", "seed", "output_dir"))
    mpc = parser.parse_args(["demo-mpc"])
    signature = inspect.signature(run_mpc_demo).parameters
    assert (mpc.task_seed, mpc.task, mpc.budget) == (signature["task_seed"].default, DEMO_TASK,
                                                     signature["budget"].default)
