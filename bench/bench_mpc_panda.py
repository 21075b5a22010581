"""MPC benchmark on the Panda pushing scene with a world model of it: prints what this run measured.

    1. tasks: held-out episodes (`envs/panda_push/episodes`, the "held_out" rule, never training's
       seeds); start = the episode's start, goal image = its frame `--goal-steps` commands later,
       kept when the cube has moved at least `--min-travel` m by then (else nothing to push);
    2. each method runs closed loop in PyBullet for at most `--budget` commands, given the goal as
       an image only; success = the cube's centre within `--tolerance` m of where it was in the
       goal frame, at any step (the simulator's truth, read outside the model);
    3. methods: `cem-latent` (any model that rolls out decode-free: `planning/receding_horizon.py`
       over the spec's action box, scored by the generic `latent-goal` cost; nothing about the scene
       on the planner's path), `replay` (the episode's own commands, open loop: the protocol's
       check, it reaches every goal by construction) and `do-nothing`;
    4. a markdown table: success, steps to success, seconds per replan (median).

Usage: python bench/bench_mpc_panda.py --spec runs/panda-block [--tasks 10] [--seed 777] [--budget 24]
"""

from __future__ import annotations

import argparse
import platform
import sys
import time
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from dream_engine_ros.engine.runner import DreamEngine  # noqa: E402
from dream_engine_ros.envs.panda_push.episodes import Episode, iter_episodes, start_positions  # noqa: E402
from dream_engine_ros.envs.panda_push.scene import PandaPushScene  # noqa: E402
from dream_engine_ros.planning.goal_scorer import GoalImageScorer  # noqa: E402
from dream_engine_ros.planning.receding_horizon import RecedingHorizonController, cem_for_bounds  # noqa: E402

METHODS = ("cem-latent", "replay", "do-nothing")


@dataclass
class Seen:
    """The robot at a replan: its camera frame (the model reads no history here)."""

    frame: np.ndarray

    def history(self) -> tuple[np.ndarray | None, np.ndarray | None]:
        return None, None


@dataclass
class Outcome:
    success: bool
    steps: int
    plan_seconds: list[float]


@dataclass
class Task:
    episode: Episode
    goal_image: np.ndarray
    goal_cube: np.ndarray  # (x, y) m


def make_tasks(count: int, seed: int, goal_steps: int, min_travel: float, scene: PandaPushScene) -> list[Task]:
    """The first `count` held-out episodes whose cube travels at least `min_travel` by the goal frame."""
    tasks: list[Task] = []
    first = 0
    while len(tasks) < count:
        for episode in iter_episodes("held_out", 10, goal_steps, seed, first=first, scene=scene):
            if np.linalg.norm(episode.cubes[goal_steps, :2] - episode.cubes[0, :2]) >= min_travel:
                tasks.append(Task(episode, episode.frames[goal_steps], episode.cubes[goal_steps, :2].copy()))
            if len(tasks) == count:
                break
        first += 10
    return tasks


def run_task(scene: PandaPushScene, task: Task, method: str, engine: DreamEngine | None, args: argparse.Namespace,
             seed: int) -> Outcome:
    """One closed loop; success when the cube comes within the tolerance of the goal's position."""
    episode = task.episode
    cube, hand = start_positions(episode.seed)
    frame = scene.reset(episode.seed, cube_xy=cube, hand_xy=hand)
    controller = None
    if method == "cem-latent":
        assert engine is not None
        spec = engine.spec
        planner = cem_for_bounds(np.asarray(spec.action_low), np.asarray(spec.action_high), args.horizon, args.hold,
                                 args.samples, args.elites, args.iterations)
        controller = RecedingHorizonController(method, planner, GoalImageScorer(engine, task.goal_image),
                                               args.execute, seed)
    steps, success = 0, False
    plan_seconds: list[float] = []
    while steps < args.budget and not success:
        if controller is not None:
            tic = time.perf_counter()
            actions = controller.act(Seen(frame))
            plan_seconds.append(time.perf_counter() - tic)
        elif method == "replay":
            actions = episode.actions[steps:steps + args.execute] if steps < len(episode.actions) else np.zeros((1, 2))
        else:
            actions = np.zeros((args.execute, 2), np.float32)
        for action in actions[:args.budget - steps]:
            scene.step(action)
            frame = scene.render()
            steps += 1
            if np.linalg.norm(scene.cube_position()[:2] - task.goal_cube) <= args.tolerance:
                success = True
                break
    return Outcome(success, steps, plan_seconds)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--spec", required=True, help="a model folder trained on the Panda scene")
    parser.add_argument("--tasks", type=int, default=10)
    parser.add_argument("--seed", type=int, default=777)
    parser.add_argument("--methods", default=",".join(METHODS))
    parser.add_argument("--goal-steps", type=int, default=16)
    parser.add_argument("--min-travel", type=float, default=0.03)
    parser.add_argument("--tolerance", type=float, default=0.02)
    parser.add_argument("--budget", type=int, default=24)
    parser.add_argument("--horizon", type=int, default=8)
    parser.add_argument("--hold", type=int, default=2)
    parser.add_argument("--samples", type=int, default=32)
    parser.add_argument("--elites", type=int, default=4)
    parser.add_argument("--iterations", type=int, default=2)
    parser.add_argument("--execute", type=int, default=2)
    args = parser.parse_args()
    methods = [m for m in args.methods.split(",") if m]
    for method in methods:
        if method not in METHODS:
            parser.error(f"unknown method {method!r}; choose from {', '.join(METHODS)}")
    engine = DreamEngine.load(args.spec, device="cpu") if "cem-latent" in methods else None
    results: dict[str, list[Outcome]] = {m: [] for m in methods}
    with PandaPushScene() as scene:
        tasks = make_tasks(args.tasks, args.seed, args.goal_steps, args.min_travel, scene)
        for method in methods:
            for i, task in enumerate(tasks):
                row = run_task(scene, task, method, engine, args, seed=args.seed + i)
                results[method].append(row)
                print(f"{method:11s} task {i:2d}: {'success' if row.success else 'failure'} after {row.steps} steps",
                      flush=True)
    print(f"\nPanda pushing goal reaching, {args.tasks} held-out tasks (seed {args.seed}): goal = the frame "
          f"{args.goal_steps} commands later (cube moved >= {args.min_travel * 100:g} cm), success = cube within "
          f"{args.tolerance * 100:g} cm of it within {args.budget} commands; CEM {args.samples} samples x "
          f"{args.iterations} iterations, horizon {args.horizon} (knots held {args.hold}), {args.execute} commands "
          f"executed per replan; {platform.processor() or platform.machine()}, {torch.get_num_threads()} torch "
          f"threads\n")
    print("| method | model | success | mean steps to success | s per replan (median) |")
    print("| --- | --- | --- | --- | --- |")
    for method in methods:
        rows = results[method]
        wins = [r.steps for r in rows if r.success]
        seconds = [s for r in rows for s in r.plan_seconds]
        model = f"{args.spec} decode-free, latent-goal" if method == "cem-latent" else "none"
        print(f"| {method} | {model} | {len(wins) / len(rows):.2f} ({len(rows)} tasks) | "
              f"{np.mean(wins) if wins else float('nan'):.1f} | {np.median(seconds) if seconds else 0.0:.3f} |")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
