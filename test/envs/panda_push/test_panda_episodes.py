"""The two scripted rules make reproducible episodes on disjoint seeds, and the cube moves in them."""

from __future__ import annotations

import numpy as np
import pytest

from dream_engine_ros.envs.panda_push.episodes import (
    RULES,
    cube_travel,
    episode_seed,
    iter_episodes,
    run_episode,
)
from dream_engine_ros.envs.panda_push.scene import MAX_SPEED, PandaPushScene

STEPS = 40


@pytest.mark.parametrize("rule", RULES)
def test_an_episode_has_frames_commands_and_truth_of_matching_lengths(panda_scene: PandaPushScene, rule: str) -> None:
    episode = run_episode(panda_scene, rule, episode_seed(rule, 0, 0), STEPS)
    assert episode.frames.shape == (STEPS + 1, 96, 96, 3) and episode.frames.dtype == np.uint8
    assert episode.actions.shape == (STEPS, 2) and episode.actions.dtype == np.float32
    assert episode.cubes.shape == episode.hands.shape == (STEPS + 1, 3)
    assert np.all(np.linalg.norm(episode.actions, axis=1) <= MAX_SPEED + 1e-6)  # recorded = executed
    assert cube_travel(episode) > 0.02  # the cube was pushed, not just approached
    assert np.all(np.abs(episode.cubes[:, 2] - episode.cubes[0, 2]) < 0.005)  # slid, never tipped or lifted


def test_the_same_seed_gives_the_same_episode_whatever_ran_before(panda_scene: PandaPushScene) -> None:
    seed = episode_seed("held_out", 3, 1)
    first = run_episode(panda_scene, "held_out", seed, 12)
    run_episode(panda_scene, "training", episode_seed("training", 0, 7), 12)
    again = run_episode(panda_scene, "held_out", seed, 12)
    assert np.array_equal(first.frames, again.frames) and np.array_equal(first.actions, again.actions)


def test_the_rules_differ_and_their_seeds_never_meet(panda_scene: PandaPushScene) -> None:
    training = {episode_seed("training", seed, i) for seed in range(50) for i in range(300)}
    held_out = {episode_seed("held_out", seed, i) for seed in range(50) for i in range(300)}
    assert not training & held_out
    a, b = (next(iter_episodes(rule, 1, 12, 0, scene=panda_scene)) for rule in RULES)
    assert not np.array_equal(a.frames[0], b.frames[0])
    with pytest.raises(ValueError, match="unknown rule"):
        episode_seed("sideways", 0, 0)
