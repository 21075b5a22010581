"""Episodes of the pushing scene: frames, the commands that led between them, and the ground truth.

Two rules (`policies`): "training" makes the recordings a model learns from, "held_out" the episodes
it is judged on. Their seeds never meet: a held-out episode's seed is HELD_OUT_SEEDS above any seed the
training rule can use for a run seed below 2**20, so a reset never repeats a training episode's start.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass

import numpy as np

from dream_engine_ros.envs.panda_push import policies
from dream_engine_ros.envs.panda_push.scene import CUBE_RANGE, HAND_HIGH, HAND_LOW, PandaPushScene

RULES: tuple[str, ...] = ("training", "held_out")
SEED_STRIDE = 1_000_003
HELD_OUT_SEEDS = 1 << 41
START_DISTANCE = (0.08, 0.16)
"""m between hand and cube at the start: close enough that most of an episode is pushing, not walking."""
Policy = Callable[[np.ndarray, np.ndarray], np.ndarray]


@dataclass(frozen=True)
class Episode:
    """frames (T+1, H, W, 3) uint8; actions (T, 2) float32 hand velocities in m/s (action k leads from
    frame k to k + 1); cubes and hands (T+1, 3) m, the simulator's truth at each frame."""

    rule: str
    seed: int
    frames: np.ndarray
    actions: np.ndarray
    cubes: np.ndarray
    hands: np.ndarray


def episode_seed(rule: str, seed: int, index: int) -> int:
    if rule not in RULES:
        raise ValueError(f"unknown rule {rule!r}; known: {', '.join(RULES)}")
    return (HELD_OUT_SEEDS if rule == "held_out" else 0) + seed * SEED_STRIDE + index


def make_policy(rule: str, rng: np.random.Generator) -> Policy:
    if rule == "training":
        return policies.PushThrough(rng)
    if rule == "held_out":
        return policies.AxisTaps(rng)
    raise ValueError(f"unknown rule {rule!r}; known: {', '.join(RULES)}")


def start_positions(seed: int) -> tuple[np.ndarray, np.ndarray]:
    """The cube's and the hand's start (x, y) of an episode: the hand START_DISTANCE from the cube in a
    random direction, inside the hand's area."""
    rng = np.random.default_rng([seed, 0])
    cube = rng.uniform(-CUBE_RANGE, CUBE_RANGE, 2)
    while True:
        angle = rng.uniform(0, 2 * np.pi)
        hand = cube + rng.uniform(*START_DISTANCE) * np.array([np.cos(angle), np.sin(angle)])
        if np.all(hand >= HAND_LOW) and np.all(hand <= HAND_HIGH):
            return cube, hand


def run_episode(scene: PandaPushScene, rule: str, seed: int, steps: int) -> Episode:
    """One episode of `steps` commands from a reset with `seed` (the same seed gives the same episode)."""
    cube, hand = start_positions(seed)
    frames = [scene.reset(seed, cube_xy=cube, hand_xy=hand)]
    cubes, hands = [scene.cube_position()], [scene.hand_position()]
    policy = make_policy(rule, np.random.default_rng([seed, 1]))
    actions = []
    for _ in range(steps):
        action = policy(hands[-1][:2], cubes[-1][:2])
        scene.step(action)
        actions.append(action)
        frames.append(scene.render())
        cubes.append(scene.cube_position())
        hands.append(scene.hand_position())
    return Episode(rule, seed, np.stack(frames), np.asarray(actions, np.float32).reshape(steps, 2),
                   np.stack(cubes), np.stack(hands))


def iter_episodes(rule: str, count: int, steps: int, seed: int, first: int = 0,
                  scene: PandaPushScene | None = None) -> Iterator[Episode]:
    """Episodes first .. first + count - 1 of a run seed, one at a time (one scene for all of them)."""
    own = scene is None
    world = PandaPushScene() if scene is None else scene
    try:
        for index in range(first, first + count):
            yield run_episode(world, rule, episode_seed(rule, seed, index), steps)
    finally:
        if own:
            world.close()


def generate(rule: str, count: int, steps: int, seed: int) -> list[Episode]:
    return list(iter_episodes(rule, count, steps, seed))


def cube_travel(episode: Episode) -> float:
    """How far (m, in the table's plane) the cube ends up from where it started."""
    return float(np.linalg.norm(episode.cubes[-1, :2] - episode.cubes[0, :2]))
