"""``dream-engine node``: run the lifecycle node without ``ros2 launch``.

Same parameter file as the launch file; ``--spec/--weights/--device`` override it and
``--camera-topic`` remaps ``image`` (and ``image/compressed``). With ``autostart`` true
(the default) the node configures and activates itself; otherwise drive it with the
lifecycle services (``ros2 lifecycle set /dream_engine configure``). SIGINT (once or twice,
as ``ros2 launch`` forwards Ctrl-C) and SIGTERM end it with exit code 0.
"""

from __future__ import annotations

import argparse
import os
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Protocol, cast

from rclpy.node import Node
from rclpy.parameter import Parameter

from dream_engine_ros.ros.node_args import NODE_DESCRIPTION, add_node_arguments
from dream_engine_ros.ros.shutdown import (
    init_with_shutdown_signals,
    main_thread_executor,
    spin_until,
    spin_until_signal,
)


def node_cli_args(params_file: str | None, camera_topic: str | None, extra_ros_args: list[str]) -> list[str]:
    """rcl command-line arguments for the node: params file, camera remaps, user extras."""
    args: list[str] = ["--ros-args"]
    if params_file:
        path = Path(params_file).expanduser()
        if not path.is_file():
            raise FileNotFoundError(f"--params-file {params_file}: no such file")
        args += ["--params-file", str(path.resolve())]
    if camera_topic:
        args += ["-r", f"image:={camera_topic}", "-r", f"image/compressed:={camera_topic.rstrip('/')}/compressed"]
    extras = list(extra_ros_args)
    if extras and extras[0] == "--ros-args":
        extras = extras[1:]
    return args + extras


def parameter_overrides(spec: str | None, weights: str | None, device: str | None) -> list[Parameter[str]]:
    chosen = {"spec": spec, "weights": weights, "device": device}
    return [Parameter(name, Parameter.Type.STRING, value) for name, value in chosen.items() if value is not None]


DRAIN_TIMEOUT_S = 5.0  # a running goal stops within ~1 s of the request (see GoalFlow._should_stop in goal_flow.py)
FLUSH_S = 0.2  # spin a little longer so DDS hands out the last results before the context goes


def run_node(
    params_file: str | None = None,
    spec: str | None = None,
    weights: str | None = None,
    device: str | None = None,
    camera_topic: str | None = None,
    name: str = "dream_engine",
    namespace: str = "",
    extra_ros_args: list[str] | None = None,
) -> int:
    """Create, (auto)start and spin the node until SIGINT/SIGTERM; returns a process exit code.

    Shutdown order: the signal only sets a flag; the node then refuses goals and stops the
    running one while the executor still spins (so its result reaches the client), and only
    when no worker is left are the executor, the node and the context torn down.
    """
    from dream_engine_ros.ros.engine_node import DreamEngineNode

    try:
        cli_args = node_cli_args(params_file, camera_topic, extra_ros_args or [])
    except FileNotFoundError as error:
        print(f"dream-engine node: {error}", file=sys.stderr)
        return 2
    signals = init_with_shutdown_signals()
    node = DreamEngineNode(
        name,
        namespace=namespace or None,
        cli_args=cli_args,
        parameter_overrides=parameter_overrides(spec, weights, device),
    )
    code = 0
    with main_thread_executor(node) as executor:
        if bool(node.get_parameter("autostart").value) and not node.autostart_if_requested():
            node.get_logger().error("autostart failed; the node stays up for lifecycle commands")
            code = 1
        spin_until_signal(executor, node, signals)
        node.begin_shutdown()
        if not spin_until(executor, node.is_idle, DRAIN_TIMEOUT_S):
            node.get_logger().warning(f"a goal was still running {DRAIN_TIMEOUT_S:g} s after the shutdown request")
        spin_until(executor, lambda: False, FLUSH_S)  # the ended goals' results and statuses leave
    if node.workers_alive() > 0:
        # A worker stuck inside the model must not meet interpreter teardown (that aborts with
        # "terminate called without an active exception"); its goal already has no context.
        sys.stdout.flush()
        sys.stderr.flush()
        os._exit(code)
    return code


def run_node_with_args(args: argparse.Namespace) -> int:
    """``run_node`` with the options of ``ros/node_args.py`` as parsed."""
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


class StoppableNode(Protocol):
    """A node whose running work `shutdown` stops (True once it has)."""

    def shutdown(self, timeout_s: float = 10.0) -> bool: ...


def run_until_signal(args: argparse.Namespace, build: Callable[[list[str]], Node], prog: str) -> int:
    """Spin the node `build(cli_args)` makes until SIGINT/SIGTERM, then stop its running work
    (a goal in flight ends) before it goes. Exit 0 after a signal; 2 for a missing params file or
    a node that refuses its parameters (ValueError), with the reason on stderr."""
    import rclpy

    try:
        cli_args = node_cli_args(args.params_file, None, args.ros_args or [])
    except FileNotFoundError as error:
        print(f"{prog}: {error}", file=sys.stderr)
        return 2
    signals = init_with_shutdown_signals()
    try:
        node = build(cli_args)
    except ValueError as error:
        print(f"{prog}: {error}", file=sys.stderr)
        rclpy.try_shutdown()
        return 2
    stoppable = cast(StoppableNode, node)
    with main_thread_executor(node) as executor:
        spin_until_signal(executor, node, signals)
        spin_until(executor, lambda: stoppable.shutdown(timeout_s=0.0), 10.0)  # the work stops; its result leaves
    return 0


def node_parser() -> argparse.ArgumentParser:
    """The parser of ``dream_engine_node``: the options of ``dream-engine node``."""
    parser = argparse.ArgumentParser(prog="dream_engine_node", description=NODE_DESCRIPTION)
    add_node_arguments(parser)
    return parser


def main(argv: list[str] | None = None) -> int:
    """Entry point ``dream_engine_node`` (what the launch file and ``ros2 run`` start)."""
    args = node_parser().parse_args(sys.argv[1:] if argv is None else argv)
    return run_node_with_args(args)
