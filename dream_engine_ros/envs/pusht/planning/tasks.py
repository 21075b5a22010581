"""PushT goal-reaching tasks for MPC, on DINO-WM's protocol.

A task starts from a state of a held-out trajectory; its goal is the state that trajectory
reaches 25 control steps later. Only segments where the block really moves (>= 20 units or
>= pi/9) count, otherwise "do nothing" would already succeed. The trajectories come from the
scripted pusher of the training-data generator (it walks around the T to get behind it, then
pushes along a random direction with a lateral offset, which turns the T), run from the env's
own random resets with a seed the training set never uses: a goal is often not on the straight
line from the agent (walking around the block first is part of the task).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from dream_engine_ros.envs.pusht.training.pusht_data import generate_episodes_full

SEGMENT = 25  # control steps from start to goal (DINO-WM)
MIN_MOVE = 20.0
MIN_TURN = np.pi / 9


@dataclass(frozen=True)
class ReachTask:
    start: np.ndarray  # (5,) [agent x, agent y, block x, block y, block angle]
    goal: np.ndarray  # (5,)
    source: str  # which trajectory and step it came from


def moves_enough(start: np.ndarray, goal: np.ndarray) -> bool:
    return bool(np.hypot(*(goal[2:4] - start[2:4])) >= MIN_MOVE or abs(goal[4] - start[4]) >= MIN_TURN)


def reach_tasks(count: int, seed: int, trajectory_steps: int = 120) -> list[ReachTask]:
    """`count` tasks, one per held-out trajectory whose block moves somewhere (deterministic)."""
    if count < 1:
        raise ValueError(f"count must be >= 1, got {count}")
    tasks: list[ReachTask] = []
    rng = np.random.default_rng(seed)
    batch_index = 0
    while len(tasks) < count:
        batch = generate_episodes_full(count, trajectory_steps, seed * 1000 + batch_index, policies=["pusher"],
                                       image_size=16)
        batch_index += 1
        for e, states in enumerate(batch.states.astype(np.float64)):
            valid = [i for i in range(trajectory_steps + 1 - SEGMENT) if moves_enough(states[i], states[i + SEGMENT])]
            if valid and len(tasks) < count:
                i = int(rng.choice(valid))
                tasks.append(ReachTask(states[i].copy(), states[i + SEGMENT].copy(),
                                       f"pusher trajectory {batch_index - 1}/{e}, steps {i}..{i + SEGMENT}"))
    return tasks
