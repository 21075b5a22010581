"""MPC benchmark on DINO-WM's PushT protocol: prints what this run measured.

    1. tasks: start from a held-out trajectory's state, goal = the state 25 control steps later
       (block moved >= 20 units or turned >= pi/9; `planning.pusht_tasks`);
    2. each method runs closed loop on the real simulator for at most 50 control steps, given
       the goal as an image (as over ROS: the goal read from the image is ~1 world unit off the
       state); success = agent and block within 20 units and block angle within pi/9 of the
       goal state at any step; a method whose model cannot read the scene any more (the T
       pushed out of the picture) fails its task;
    3. methods: CEM over any model's decode-free rollout scored by the generic `latent-goal` cost
       against the goal image (`cem-latent`: `planning/receding_horizon.py`, nothing about PushT on
       the planner's path; the scene-state settings, the spread 0.15 of the action box); CEM and
       random shooting over the Dream Engine's decode-free scene-state rollout (`-state`: what
       the shipped planner uses) and over its predicted frames with the objects read from the
       pixels (`-dream`), CEM with the simulator itself as the model (the
       scene-state planner's upper bound: same settings, budget and cost), driving the agent
       straight to the goal's agent position, and doing nothing;
    4. one JSON line per finished episode (resumable partial results), then a markdown table;
    5. batched scoring on its own: K=64 candidates x 24 steps, fused frames and decode-free scene
       states vs K single predicts.

Usage: python bench/bench_mpc.py [--tasks 50] [--seed 4242] [--methods cem-dream,rs-dream,...]
       [--samples 24] [--iterations 3] [--state-samples 32] [--execute 4] [--jsonl out/mpc.jsonl]
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import sys
import time
from pathlib import Path

import numpy as np
import torch

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
os.environ.setdefault("SDL_VIDEODRIVER", "dummy")

from dream_engine_ros.defaults import DEFAULT_SPEC  # noqa: E402
from dream_engine_ros.engine.errors import InputError  # noqa: E402
from dream_engine_ros.engine.runner import DreamEngine  # noqa: E402
from dream_engine_ros.engine.spec import get_spec  # noqa: E402
from dream_engine_ros.envs.pusht.planning.goal import SceneGoal, rollout_costs  # noqa: E402
from dream_engine_ros.envs.pusht.planning.mpc import (  # noqa: E402
    Controller,
    GoalAgentController,
    HoldController,
    PlanningController,
    run_episode,
)
from dream_engine_ros.envs.pusht.planning.robot import PushTRobot  # noqa: E402
from dream_engine_ros.envs.pusht.planning.scorers import (  # noqa: E402
    DreamScorer,
    Observation,
    SceneStateScorer,
    SimulatorScorer,
)
from dream_engine_ros.envs.pusht.planning.tasks import reach_tasks  # noqa: E402
from dream_engine_ros.planning.cem import CEMConfig, CrossEntropyPlanner  # noqa: E402
from dream_engine_ros.planning.goal_scorer import GoalImageScorer  # noqa: E402
from dream_engine_ros.planning.receding_horizon import RecedingHorizonController, cem_for_bounds  # noqa: E402

METHODS = ("cem-state", "rs-state", "cem-dream", "rs-dream", "cem-sim", "drive-to-goal", "do-nothing", "cem-latent")


def make_controller(method: str, goal: SceneGoal, engine: DreamEngine | None, args: argparse.Namespace,
                    seed: int, goal_image: np.ndarray | None = None) -> Controller:
    spec = get_spec(args.spec)
    low, high = np.asarray(spec.action_low), np.asarray(spec.action_high)
    cem = CEMConfig(horizon=args.horizon, hold=args.hold, samples=args.samples, elites=args.elites,
                    iterations=args.iterations)
    shooting = CEMConfig.random_shooting(args.samples * args.iterations, args.horizon, args.hold)
    state_cem = CEMConfig(horizon=args.state_horizon, hold=args.state_hold, samples=args.state_samples,
                          elites=args.state_elites, iterations=args.state_iterations, init_std=args.state_init_std)
    state_shooting = CEMConfig.random_shooting(args.state_samples * args.state_iterations, args.state_horizon,
                                               args.state_hold, args.state_init_std)
    if method in ("cem-state", "rs-state"):
        assert engine is not None
        config = state_cem if method == "cem-state" else state_shooting
        return PlanningController(method, CrossEntropyPlanner(config, low, high), SceneStateScorer(engine, goal),
                                  args.execute, seed)
    if method == "cem-latent":  # generic: any model that rolls out decode-free, the goal as an image only
        assert engine is not None and goal_image is not None
        planner = cem_for_bounds(low, high, args.state_horizon, args.state_hold, args.state_samples,
                                 args.state_elites, args.state_iterations)
        return RecedingHorizonController(method, planner, GoalImageScorer(engine, goal_image), args.execute, seed)
    if method == "cem-dream":
        assert engine is not None
        return PlanningController(method, CrossEntropyPlanner(cem, low, high), DreamScorer(engine, goal, seed=seed),
                                  args.execute, seed)
    if method == "rs-dream":
        assert engine is not None
        return PlanningController(method, CrossEntropyPlanner(shooting, low, high),
                                  DreamScorer(engine, goal, seed=seed), args.execute, seed)
    if method == "cem-sim":  # the shipped planner's own settings: its upper bound
        return PlanningController(method, CrossEntropyPlanner(state_cem, low, high), SimulatorScorer(goal),
                                  args.execute, seed)
    if method == "drive-to-goal":
        return GoalAgentController(goal.agent, args.execute)
    if method == "do-nothing":
        return HoldController(args.execute)
    raise ValueError(f"unknown method {method!r}; choose from {METHODS}")


def summarise(rows: list[dict]) -> dict:
    """Success rate, mean steps of the successes, median seconds per replan (the median: a replan
    that shared the CPU with another job must not move the figure)."""
    success = [r["success"] for r in rows]
    steps = [r["steps"] for r in rows if r["success"]]
    replan = [s for r in rows for s in r["plan_seconds"]]
    return {"episodes": len(rows), "success_rate": float(np.mean(success)) if rows else 0.0,
            "mean_steps_to_success": float(np.mean(steps)) if steps else None,
            "seconds_per_replan": float(np.median(replan)) if replan else 0.0,
            "replans": len(replan)}


def measure_scoring(engine: DreamEngine, candidates: int = 64, horizon: int = 24, repeats: int = 2) -> None:
    """K candidates x horizon steps: one fused call vs K single predicts (exact rows)."""
    task = reach_tasks(1, 4242)[0]
    frame = PushTRobot().reset(task.start)
    goal = SceneGoal.from_state(task.goal)
    rng = np.random.default_rng(0)
    actions = np.clip(task.start[:2] + rng.normal(0.0, 80.0, (candidates, horizon, 2)), 0, 512).astype(np.float32)
    observation = Observation(frame, np.zeros((0, *frame.shape), np.uint8), np.zeros((0, 2), np.float32))
    fused = DreamScorer(engine, goal, fused=True)
    fused.observe(observation)
    times = []
    for _ in range(repeats):
        tic = time.perf_counter()
        fused_costs = fused(actions)
        times.append(time.perf_counter() - tic)
    fused_s = min(times)
    tic = time.perf_counter()
    singles = np.stack([engine.predict(frame, actions[k], seed=k).frames for k in range(candidates)])
    single_s = time.perf_counter() - tic
    single_costs = rollout_costs(singles, goal)
    print(f"scoring {candidates} candidates x {horizon} steps: fused {fused_s:.2f} s (rollout + reading the "
          f"scene), {candidates} single predicts {single_s:.2f} s -> x{single_s / fused_s:.2f} throughput; "
          f"fused vs single costs: max |diff| {np.abs(fused_costs - single_costs).max():.3f} tolerance units, "
          f"same best candidate: {int(np.argmin(fused_costs)) == int(np.argmin(single_costs))}", flush=True)
    state = SceneStateScorer(engine, goal)
    state.observe(observation)
    times = []
    for _ in range(max(repeats, 5)):
        tic = time.perf_counter()
        state_costs = state(actions)
        times.append(time.perf_counter() - tic)
    state_s = min(times)
    alone = np.concatenate([state(actions[k:k + 1]) for k in range(candidates)])
    print(f"scoring {candidates} candidates x {horizon} steps decode-free (scene states, cost 'pusht-state'): "
          f"{state_s * 1000:.1f} ms -> x{single_s / state_s:.0f} the throughput of {candidates} single predicts; "
          f"batched vs alone: max |cost diff| {np.abs(state_costs - alone).max():.1e} tolerance units, same best "
          f"candidate: {int(np.argmin(state_costs)) == int(np.argmin(alone))}", flush=True)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--spec", default=DEFAULT_SPEC)
    parser.add_argument("--weights", default=None)
    parser.add_argument("--tasks", type=int, default=50)
    parser.add_argument("--seed", type=int, default=4242)
    parser.add_argument("--methods", default=",".join(METHODS))
    parser.add_argument("--budget", type=int, default=50)
    parser.add_argument("--horizon", type=int, default=12)
    parser.add_argument("--hold", type=int, default=3)
    parser.add_argument("--samples", type=int, default=24)
    parser.add_argument("--elites", type=int, default=5)
    parser.add_argument("--iterations", type=int, default=3)
    parser.add_argument("--execute", type=int, default=4)
    shipped = CEMConfig()  # the scene-state planner's defaults are the shipped planner's
    parser.add_argument("--state-samples", type=int, default=shipped.samples,
                        help="CEM samples of the scene-state planner")
    parser.add_argument("--state-elites", type=int, default=shipped.elites)
    parser.add_argument("--state-iterations", type=int, default=shipped.iterations)
    parser.add_argument("--state-horizon", type=int, default=shipped.horizon)
    parser.add_argument("--state-hold", type=int, default=shipped.hold,
                        help="steps each knot of the scene-state plans is held")
    parser.add_argument("--state-init-std", type=float, default=80.0, help="CEM's first spread (world units)")
    parser.add_argument("--planner-seed-offset", type=int, default=0,
                        help="task i's planner is seeded with seed + i + this: other random draws, same tasks")
    parser.add_argument("--jsonl", type=Path, default=Path("out/mpc.jsonl"))
    parser.add_argument("--no-scoring", action="store_true", help="skip the batched-scoring measurement")
    args = parser.parse_args()
    methods = [m for m in args.methods.split(",") if m]
    for method in methods:
        if method not in METHODS:
            parser.error(f"unknown method {method!r}; choose from {', '.join(METHODS)}")

    tasks = reach_tasks(args.tasks, args.seed)
    engine = None
    if any(m.endswith(("-dream", "-state", "-latent")) for m in methods):
        engine = DreamEngine.load(args.spec, weights=args.weights, device="cpu")
    args.jsonl.parent.mkdir(parents=True, exist_ok=True)
    settings = {key: getattr(args, key) for key in ("spec", "weights", "seed", "budget", "horizon", "hold", "samples",
                                                     "elites", "iterations", "execute", "state_samples",
                                                     "state_elites", "state_iterations", "state_horizon",
                                                     "state_hold", "state_init_std", "planner_seed_offset")}
    done: dict[tuple[str, int], dict] = {}
    if args.jsonl.exists():  # resume: keep the episodes already measured with these settings
        for line in args.jsonl.read_text().splitlines():
            row = json.loads(line)
            if row.get("settings", settings) == settings:
                done[(row["method"], row["task"])] = row
    robot = PushTRobot()
    results: dict[str, list[dict]] = {m: [] for m in methods}
    with args.jsonl.open("a") as log:
        for method in methods:
            for i, task in enumerate(tasks):
                if (method, i) in done:
                    results[method].append(done[(method, i)])
                    continue
                goal_image = robot.reset(task.goal)
                goal = SceneGoal.from_image(goal_image)
                controller = make_controller(method, goal, engine, args, seed=args.seed + i + args.planner_seed_offset,
                                             goal_image=goal_image)
                try:
                    outcome = run_episode(robot, controller, task.start, task.goal, budget=args.budget)
                    row = {"success": outcome.success, "steps": outcome.steps,
                           "plan_seconds": [round(s, 4) for s in outcome.plan_seconds]}
                except InputError as error:  # e.g. the T pushed out of the picture: nothing left to plan on
                    row = {"success": False, "steps": args.budget, "plan_seconds": [], "error": str(error)}
                row = {"method": method, "task": i, **row, "source": task.source, "settings": settings}
                log.write(json.dumps(row) + "\n")
                log.flush()
                results[method].append(row)
                seconds = float(np.mean(row["plan_seconds"])) if row["plan_seconds"] else 0.0
                print(f"{method:14s} task {i:3d}: {'success' if row['success'] else 'failure'} after "
                      f"{row['steps']} steps, {seconds:.2f} s/replan {row.get('error', '')}", flush=True)
    robot.close()
    if not args.no_scoring:
        measure_scoring(engine or DreamEngine.load(args.spec, weights=args.weights, device="cpu"))

    print(f"\nPushT goal reaching, {args.tasks} tasks (seed {args.seed}), budget {args.budget} control steps; "
          f"scene-state CEM (and the simulator's) {args.state_samples} samples x {args.state_iterations} "
          f"iterations, horizon {args.state_horizon} (knots held {args.state_hold} steps), first spread "
          f"{args.state_init_std:g} (random shooting "
          f"{args.state_samples * args.state_iterations}); "
          f"over predicted frames CEM {args.samples} samples x {args.iterations} iterations, horizon "
          f"{args.horizon} (knots held {args.hold} steps), random shooting {args.samples * args.iterations}; "
          f"{args.execute} actions executed per replan; {platform.processor() or platform.machine()}, "
          f"{torch.get_num_threads()} torch threads\n")
    print("| method | model | success | mean steps to success | s per replan (median) |")
    print("| --- | --- | --- | --- | --- |")
    model_of = {"cem-dream": args.spec, "rs-dream": args.spec, "cem-state": f"{args.spec} scene states",
                "rs-state": f"{args.spec} scene states", "cem-sim": "simulator (upper bound)",
                "cem-latent": f"{args.spec} decode-free, cost latent-goal"}
    for method in methods:
        s = summarise(results[method])
        steps = f"{s['mean_steps_to_success']:.1f}" if s["mean_steps_to_success"] is not None else "-"
        print(f"| {method} | {model_of.get(method, 'none')} | {s['success_rate']:.2f} ({s['episodes']} tasks) | "
              f"{steps} | {s['seconds_per_replan']:.3f} |")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
