"""PushT dataset generator: shapes, determinism, frame/action alignment, policy choice."""

from __future__ import annotations

import gym_pusht  # noqa: F401  (a required test dependency: fail, never skip)
import numpy as np
import pytest

from dream_engine_ros.envs.pusht.training import pusht_data
from dream_engine_ros.envs.pusht.training.pusht_data import generate_episodes, generate_episodes_full


def test_shapes_dtypes_and_ranges() -> None:
    frames, actions = generate_episodes(3, 8, seed=11)
    assert frames.shape == (3, 9, 96, 96, 3) and frames.dtype == np.uint8
    assert actions.shape == (3, 8, 2) and actions.dtype == np.float32
    assert actions.min() >= 0.0 and actions.max() <= 512.0


def test_deterministic_for_a_seed_and_different_across_seeds() -> None:
    a = generate_episodes(2, 6, seed=3)
    b = generate_episodes(2, 6, seed=3)
    c = generate_episodes(2, 6, seed=4)
    assert np.array_equal(a[0], b[0]) and np.array_equal(a[1], b[1])
    assert not np.array_equal(a[1], c[1])


def test_frames_follow_the_env_contract() -> None:
    """Replaying the stored actions in a fresh env reproduces every stored frame."""
    b = generate_episodes_full(2, 10, seed=5)
    env = pusht_data.make_env()
    try:
        for ep in range(2):
            obs, _ = env.reset(seed=int(b.reset_seeds[ep]))
            assert np.array_equal(obs["pixels"], b.frames[ep, 0])  # frame 0 = after reset
            for k in range(10):
                obs, *_ = env.step(b.actions[ep, k].copy())
                assert np.array_equal(obs["pixels"], b.frames[ep, k + 1])  # after actions[k]
    finally:
        env.close()


@pytest.mark.parametrize("policy", pusht_data.POLICIES)
def test_each_policy_runs(policy: str) -> None:
    b = generate_episodes_full(1, 30, seed=2, policies=[policy])
    assert b.policies == [policy]
    assert np.isfinite(b.actions).all()


def test_pusher_moves_the_block() -> None:
    b = generate_episodes_full(4, 96, seed=0, policies=["pusher"])
    assert (pusht_data.block_displacement(b.states) > 16.0).mean() >= 0.75


def test_bad_arguments() -> None:
    with pytest.raises(ValueError, match="unknown policies"):
        generate_episodes(1, 2, seed=0, policies=["teleport"])
    with pytest.raises(ValueError, match="num_episodes must be >= 1"):
        generate_episodes(0, 2, seed=0)
    with pytest.raises(ValueError, match="steps must be >= 1"):
        generate_episodes(1, 0, seed=0)
