"""A dynamics training batch (training/block_diffusion.py `_clip`): drawn from the step's generator
only, and with `context_noise` a corrupted copy of the latents to condition on."""

from __future__ import annotations

import numpy as np

from dream_engine_ros.engine.spec import get_spec
from dream_engine_ros.training.block_diffusion import _clip


def test_context_noise_adds_a_corrupted_copy_drawn_from_the_same_generator() -> None:
    spec = get_spec("pusht-structured")  # any spec with action bounds normalises the actions
    latents = np.random.default_rng(0).normal(size=(3, 9, 4, 6, 6)).astype(np.float32)
    actions = np.full((3, 8, spec.action_dim), 256.0, np.float32)
    plain = _clip(latents, actions, spec, 2, np.random.default_rng(5))
    assert "context" not in plain and plain["noise"].shape == (3, 8, 4, 6, 6)
    noisy = _clip(latents, actions, spec, 2, np.random.default_rng(5), context_noise=0.2)
    again = _clip(latents, actions, spec, 2, np.random.default_rng(5), context_noise=0.2)
    assert np.array_equal(noisy["context"], again["context"])
    assert np.array_equal(noisy["noise"], plain["noise"]) and np.array_equal(noisy["latents"], latents)
    per_row = (noisy["context"] - latents).reshape(3, -1).std(axis=1)
    assert np.all(per_row > 0) and np.all(per_row < 0.25)  # each row's own std, below the maximum
