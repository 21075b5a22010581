#!/usr/bin/env python3
"""Closed-loop MPC episodes as pictures: the real camera above what the plan in force dreamed.

    .venv/bin/python scripts/mpc_sheet.py --tasks 1,2 --out docs/mpc_episodes.png

Each task (bench/bench_mpc.py's task set) runs CEM over the Dream Engine on the simulated robot
(same settings as the benchmark). Per episode: top row the real frames every `--every` steps
and the goal image, bottom row the frame that the plan executed at that step had predicted
(the cheapest candidate of its replan).
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import numpy as np  # noqa: E402
from PIL import Image, ImageDraw  # noqa: E402

from dream_engine_ros.defaults import DEFAULT_SPEC  # noqa: E402
from dream_engine_ros.engine.runner import DreamEngine  # noqa: E402
from dream_engine_ros.envs.pusht.planning.goal import SceneGoal  # noqa: E402
from dream_engine_ros.envs.pusht.planning.mpc import PlanningController, run_episode  # noqa: E402
from dream_engine_ros.envs.pusht.planning.robot import PushTRobot  # noqa: E402
from dream_engine_ros.envs.pusht.planning.scorers import DreamScorer, Observation  # noqa: E402
from dream_engine_ros.envs.pusht.planning.tasks import reach_tasks  # noqa: E402
from dream_engine_ros.planning.cem import CEMConfig, CrossEntropyPlanner  # noqa: E402

SCALE, GAP, LABEL_W = 2, 4, 150


class Recording(PlanningController):
    """A PlanningController that keeps what its chosen plan dreamed for each executed step."""

    dreamed: list[np.ndarray]

    def act(self, observation: Observation) -> np.ndarray:
        actions = super().act(observation)
        frames = self.scorer.best_frames  # type: ignore[attr-defined]
        self.dreamed.extend(frames[1:1 + len(actions)])
        return actions


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--tasks", default="1,2")
    parser.add_argument("--seed", type=int, default=4242)
    parser.add_argument("--every", type=int, default=4)
    parser.add_argument("--out", type=Path, default=Path("docs/mpc_episodes.png"))
    args = parser.parse_args(argv)
    indices = [int(i) for i in args.tasks.split(",")]
    tasks = reach_tasks(max(indices) + 1, args.seed)
    engine = DreamEngine.load(DEFAULT_SPEC, device="cpu")
    robot = PushTRobot()
    blocks: list[tuple[str, np.ndarray, np.ndarray, np.ndarray]] = []
    for index in indices:
        task = tasks[index]
        scorer = DreamScorer(engine, SceneGoal.from_state(task.goal), seed=args.seed + index)
        planner = CrossEntropyPlanner(CEMConfig(samples=24, elites=5, iterations=3), np.zeros(2), np.full(2, 512.0))
        controller = Recording("cem-dream", planner, scorer, execute=4, seed=args.seed + index)
        controller.dreamed = []
        outcome = run_episode(robot, controller, task.start, task.goal)
        steps = list(range(args.every, outcome.steps + 1, args.every))
        if not steps or steps[-1] != outcome.steps:
            steps.append(outcome.steps)
        label = f"task {index}: {'reached' if outcome.success else 'not reached'} at step {outcome.steps}"
        print(label, flush=True)
        blocks.append((label, outcome.frames[steps], np.stack(controller.dreamed)[[s - 1 for s in steps]],
                       PushTRobot().reset(task.goal)))
    size = 96 * SCALE
    columns = max(len(b[1]) for b in blocks) + 1
    width = LABEL_W + columns * (size + GAP)
    height = len(blocks) * (2 * (size + GAP) + 24) + 8
    sheet = Image.new("RGB", (width, height), (40, 40, 40))
    draw = ImageDraw.Draw(sheet)
    y = 8
    for label, real, dreamed, goal in blocks:
        draw.text((4, y), label, fill=(230, 230, 230))
        y += 16
        for row, (name, frames) in enumerate((("real camera", real), ("dreamed by its plan", dreamed))):
            top = y + row * (size + GAP)
            draw.text((4, top + size // 2), name, fill=(230, 230, 230))
            for c, frame in enumerate(frames):
                tile = Image.fromarray(frame).resize((size, size), Image.NEAREST)
                sheet.paste(tile, (LABEL_W + c * (size + GAP), top))
        goal_x = LABEL_W + (columns - 1) * (size + GAP)
        sheet.paste(Image.fromarray(goal).resize((size, size), Image.NEAREST), (goal_x, y))
        draw.text((goal_x + 4, y + size + 2), "goal", fill=(230, 230, 230))
        y += 2 * (size + GAP) + 8
    args.out.parent.mkdir(parents=True, exist_ok=True)
    sheet.save(args.out)
    print(args.out)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
