"""``dream-engine demo-mpc``: the robot reaches a goal by dreaming, in one process.

Three nodes on one executor thread each, talking over real DDS in an isolated namespace:

    pusht_sim (the robot: camera, state, goal image)  <─cmd_target─  mpc_planner
    dream_engine (pusht-structured)  <─rollout_batch (K fused candidates, scored)─  mpc_planner

    1. start the engine (loads the default spec), the simulator and the planner;
    2. pick a held-out PushT task (start state, goal = the state 25 steps later on a held-out
       trajectory), reset the simulator to its start and set its goal;
    3. send one ReachGoal goal, print feedback per replan, then success, seconds per replan
       and the ROS share of them; the mp4 (real camera | dreamed plan) path is the last line.
"""

from __future__ import annotations

import sys
import time
from pathlib import Path
from typing import Any

from dream_engine_ros.defaults import DEFAULT_SPEC
from dream_engine_ros.ros.demo import isolate_ros_traffic

NAMESPACE = "/dream_mpc"
DEMO_TASK = 17  # of the benchmark's set (seed 4242): the shipped planner reached it with 3 of 3 seeds there


def run_mpc_demo(spec: str = DEFAULT_SPEC, weights: str | None = None, device: str = "auto", task_seed: int = 4242,
                 task_index: int = DEMO_TASK, budget: int = 50, output_dir: str | None = None) -> int:
    isolate_ros_traffic()
    import rclpy
    from rclpy.action import ActionClient
    from rclpy.parameter import Parameter

    from dream_engine_msgs.action import ReachGoal
    from dream_engine_msgs.srv import ResetPushT, SetPushTGoal
    from dream_engine_ros.envs.pusht.planning.tasks import reach_tasks
    from dream_engine_ros.envs.pusht.ros.mpc_planner_node import MpcPlannerNode
    from dream_engine_ros.envs.pusht.ros.sim_node import PushTSimNode
    from dream_engine_ros.ros.engine_node import DreamEngineNode
    from dream_engine_ros.ros.spinning import SpinningExecutor, wait_for_future

    out_dir = Path(output_dir or Path.cwd() / "out" / "demo_mpc").expanduser().resolve()
    task = reach_tasks(task_index + 1, task_seed)[task_index]
    rclpy.init()
    engine = DreamEngineNode("dream_engine", namespace=NAMESPACE, parameter_overrides=[
        Parameter("spec", Parameter.Type.STRING, spec), Parameter("weights", Parameter.Type.STRING, weights or ""),
        Parameter("device", Parameter.Type.STRING, device),
        Parameter("output_dir", Parameter.Type.STRING, str(out_dir))])
    sim = PushTSimNode("pusht_sim", namespace=NAMESPACE)
    planner = MpcPlannerNode("mpc_planner", namespace=NAMESPACE, parameter_overrides=[
        Parameter("output_dir", Parameter.Type.STRING, str(out_dir)),
        Parameter("budget_steps", Parameter.Type.INTEGER, budget)])
    client = rclpy.create_node("demo_mpc_client", namespace=NAMESPACE)
    spinners = [SpinningExecutor(node, name=f"{node.get_name()}-spin") for node in (engine, sim, planner, client)]
    try:
        print(f"[demo-mpc] loading spec {spec} ...", flush=True)
        if not engine.autostart_if_requested():
            print("[demo-mpc] the engine node failed to configure/activate", file=sys.stderr)
            return 1
        reset: Any = client.create_client(ResetPushT, f"{NAMESPACE}/pusht_sim/reset")
        set_goal: Any = client.create_client(SetPushTGoal, f"{NAMESPACE}/pusht_sim/set_goal")
        reach: Any = ActionClient(client, ReachGoal, f"{NAMESPACE}/mpc_planner/reach_goal")
        if not (reset.wait_for_service(10.0) and set_goal.wait_for_service(10.0) and reach.wait_for_server(10.0)):
            print("[demo-mpc] simulator or planner did not come up", file=sys.stderr)
            return 1
        goal_set = wait_for_future(set_goal.call_async(SetPushTGoal.Request(state=[float(v) for v in task.goal])),
                                   10.0, "set_goal")
        was_reset = wait_for_future(reset.call_async(ResetPushT.Request(state=[float(v) for v in task.start])),
                                    10.0, "reset")
        if goal_set is None or not goal_set.success or was_reset is None or not was_reset.success:
            print("[demo-mpc] the simulator refused the task's goal or start", file=sys.stderr)
            return 1
        time.sleep(0.5)  # the planner has the goal image, the first frame and state
        print(f"[demo-mpc] task {task_index} ({task.source}): start {task.start.round(1).tolist()}, "
              f"goal {task.goal.round(1).tolist()}; budget {budget} steps", flush=True)

        def on_feedback(message: ReachGoal.Impl.FeedbackMessage) -> None:
            f = message.feedback
            print(f"[demo-mpc] replan {f.replan}: step {f.step}, best cost {f.best_cost:.2f}, "
                  f"{f.seconds_per_replan:.2f} s per replan", flush=True)

        seed = task_seed + task_index  # the benchmark seeds task i with seed + i
        handle = wait_for_future(reach.send_goal_async(ReachGoal.Goal(seed=seed), feedback_callback=on_feedback),
                                 30.0, "reach_goal")
        if handle is None or not handle.accepted:
            print("[demo-mpc] the planner rejected the goal", file=sys.stderr)
            return 1
        response = wait_for_future(handle.get_result_async(), 600.0, "reach_goal result")
        result = response.result if response is not None else None
        if result is None or result.error_code != 0:
            print(f"[demo-mpc] failed: {result.error_msg if result else 'no result'}", file=sys.stderr)
            return 1
        print(f"[demo-mpc] {'SUCCESS' if result.success else 'not reached'} after {result.steps} steps, "
              f"{result.replans} replans, {result.seconds_per_replan:.2f} s per replan (engine "
              f"{result.engine_s_per_replan:.2f} s, ROS + planner overhead {100 * result.ros_overhead_fraction:.1f} %)",
              flush=True)
        print(result.mp4_path, flush=True)
        return 0 if result.mp4_path else 1
    finally:
        planner.shutdown()
        for spinner in reversed(spinners):
            spinner.shutdown()
        for node in (client, planner, sim, engine):
            node.destroy_node()
        rclpy.try_shutdown()
