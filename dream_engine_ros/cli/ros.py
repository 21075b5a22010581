"""``dream-engine node | demo | demo-mpc | pusht-sim | mpc-planner | pusht-mpc-planner``: the ROS 2 adapter
from the console script (rclpy and the nodes are imported inside the commands, so the parser builds without them).

Each command returns the process exit code (0 ok, 1 a failure, 2 bad input: ``exit_codes.py``).
"""

from __future__ import annotations

import argparse

from dream_engine_ros.defaults import DEFAULT_SPEC
from dream_engine_ros.envs.pusht.ros.mpc_demo import DEMO_TASK
from dream_engine_ros.envs.pusht.ros.node_args import add_planner_arguments, add_pusht_sim_arguments
from dream_engine_ros.ros.node_args import (
    NODE_DESCRIPTION,
    NODE_HELP,
    add_mpc_planner_arguments,
    add_node_arguments,
)


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


def _demo_mpc_command(args: argparse.Namespace) -> int:
    from dream_engine_ros.envs.pusht.ros.mpc_demo import run_mpc_demo

    return run_mpc_demo(spec=args.spec, weights=args.weights, device=args.device, task_seed=args.task_seed,
                        task_index=args.task, budget=args.budget, output_dir=args.output_dir)


def _pusht_sim_command(args: argparse.Namespace) -> int:
    from dream_engine_ros.envs.pusht.ros.sim_node import run_pusht_sim_with_args

    return run_pusht_sim_with_args(args)


def _mpc_planner_command(args: argparse.Namespace) -> int:
    from dream_engine_ros.ros.mpc_planner import run_planner_with_args

    return run_planner_with_args(args)


def _pusht_mpc_planner_command(args: argparse.Namespace) -> int:
    from dream_engine_ros.envs.pusht.ros.mpc_planner_node import run_planner_with_args

    return run_planner_with_args(args)


def add_ros_subcommands(subparsers: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    """Register ``node``, ``demo``, ``demo-mpc``, ``pusht-sim``, ``mpc-planner`` and ``pusht-mpc-planner``."""
    node = subparsers.add_parser("node", help=NODE_HELP, description=NODE_DESCRIPTION)
    add_node_arguments(node)
    node.set_defaults(handler=_node_command)

    demo = subparsers.add_parser(
        "demo",
        help=f"start the engine node (spec {DEFAULT_SPEC} unless --spec), feed a PushT frame, run a goal, "
             "print the mp4 path",
        description="End-to-end ROS demo in this process: the engine node, a camera publishing a rendered PushT "
                    "start frame and a Rollout goal (an arc of agent targets for 2-d actions, zeros otherwise); "
                    "the last line printed is the mp4 path.",
    )
    demo.add_argument("--spec", default=DEFAULT_SPEC, help=f"model spec (default {DEFAULT_SPEC})")
    demo.add_argument("--weights", default=None, help="weights directory (default: the spec's)")
    demo.add_argument("--device", default="auto", help="auto | cpu | cuda | cuda:N")
    demo.add_argument("--horizon", type=int, default=0, help="actions (0 = 4 chunks)")
    demo.add_argument("--seed", type=int, default=0, help="start frame and sampling seed")
    demo.add_argument("--output-dir", default=None, help="where the mp4 goes (default ./out/demo)")
    demo.set_defaults(handler=_demo_command)

    demo_mpc = subparsers.add_parser(
        "demo-mpc",
        help="simulated PushT robot + engine + MPC planner: reach a held-out goal, write the mp4",
        description="Model-predictive control through the engine node; the last line printed is the mp4 "
                    "(real camera | dreamed plan).",
    )
    demo_mpc.add_argument("--spec", default=DEFAULT_SPEC, help=f"model spec (default {DEFAULT_SPEC})")
    demo_mpc.add_argument("--weights", default=None, help="weights directory (default: the spec's)")
    demo_mpc.add_argument("--device", default="auto", help="auto | cpu | cuda | cuda:N")
    demo_mpc.add_argument("--task-seed", type=int, default=4242, help="held-out task set (bench/bench_mpc.py's)")
    demo_mpc.add_argument("--task", type=int, default=DEMO_TASK,
                          help=f"which task of the set (default {DEMO_TASK}: one the benchmark's planner reached "
                               "with 3 of 3 seeds)")
    demo_mpc.add_argument("--budget", type=int, default=50, help="control steps allowed")
    demo_mpc.add_argument("--output-dir", default=None, help="where the mp4 goes (default ./out/demo_mpc)")
    demo_mpc.set_defaults(handler=_demo_mpc_command)

    text = "the gym-pusht simulator as a ROS robot (image, state, goal_image; cmd_target; ~/reset, ~/set_goal)"
    sim = subparsers.add_parser("pusht-sim", help=text, description=text)
    add_pusht_sim_arguments(sim)
    sim.set_defaults(handler=_pusht_sim_command)
    text = ("the generic MPC planner node (~/reach_goal) for any robot and model over the engine's rollout_batch "
            "(parameters: --params-file config/mpc_planner.yaml)")
    planner = subparsers.add_parser("mpc-planner", help=text, description=text)
    add_mpc_planner_arguments(planner)
    planner.set_defaults(handler=_mpc_planner_command)
    text = "the PushT MPC planner node (~/reach_goal: PushTState, cmd_target, PushT costs)"
    pusht_planner = subparsers.add_parser("pusht-mpc-planner", help=text, description=text)
    add_planner_arguments(pusht_planner)
    pusht_planner.set_defaults(handler=_pusht_mpc_planner_command)
