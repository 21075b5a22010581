"""The perturbation grammar, its models and the per-sample seed."""

from __future__ import annotations

import math

import numpy as np
import pytest

from dream_engine_ros.augment.perturb import PerturbationSpec, correlated_noise, sample_seed, time_warp

LOW, HIGH = np.zeros(2), np.full(2, 512.0)


def ramp(n: int = 40) -> np.ndarray:
    return np.stack([np.linspace(100, 300, n), np.full(n, 250.0)], axis=1)


def test_grammar_parses_terms_in_canonical_order() -> None:
    spec = PerturbationSpec.parse(" ou:sigma=15,tau=5 ; warp:max=0.2;offset:sigma=10;clip:low=25,high=487")
    assert list(spec.describe()) == ["warp", "offset", "ou", "clip"]
    assert spec.terms["ou"] == {"sigma": 15.0, "tau": 5.0}
    assert spec.terms["clip"] == {"low": 25.0, "high": 487.0}


@pytest.mark.parametrize("text, words", [
    ("jitter:sigma=1", "unknown perturbation 'jitter'"),
    ("ou:sigma=1", "missing tau="),
    ("ou:sigma=1,tau=2;ou:sigma=3,tau=4", "appears twice"),
    ("offset:sigma=abc", "not a number"),
    ("offset:sigma=-1", "must be in"),
    ("warp:max=1.5", "must be in"),
    ("offset:scale=2", "is not one of sigma="),
    ("clip:low=10,high=5", "must be below"),
    ("none;clip", "cannot be combined"),
    ("  ", "empty"),
])
def test_grammar_errors_say_what_is_wrong(text: str, words: str) -> None:
    with pytest.raises(ValueError, match=words):
        PerturbationSpec.parse(text)


def test_same_seed_same_actions_other_seed_other_actions() -> None:
    spec = PerturbationSpec.parse("warp:max=0.3;offset:sigma=10;ou:sigma=15,tau=5;clip")
    a, drawn_a = spec.apply(ramp(), 12, 7, LOW, HIGH)
    b, drawn_b = spec.apply(ramp(), 12, 7, LOW, HIGH)
    c, _ = spec.apply(ramp(), 12, 8, LOW, HIGH)
    assert a.dtype == np.float32 and a.shape == (12, 2)
    assert np.array_equal(a, b) and drawn_a == drawn_b
    assert not np.array_equal(a, c)


def test_none_returns_the_recorded_actions() -> None:
    actions, _ = PerturbationSpec.parse("none").apply(ramp(), 12, 3, LOW, HIGH)
    assert np.array_equal(actions, ramp()[:12].astype(np.float32))


def test_offset_is_constant_over_the_sample() -> None:
    actions, drawn = PerturbationSpec.parse("offset:sigma=20").apply(ramp(), 12, 11, LOW, HIGH)
    delta = actions - ramp()[:12]
    assert np.allclose(delta, delta[0], atol=1e-4)
    assert np.allclose(delta[0], drawn["offset"], atol=1e-4)


def test_correlated_noise_has_the_asked_std_and_correlation() -> None:
    rng = np.random.default_rng(0)
    noise = np.concatenate([correlated_noise(rng, 50, 2, sigma=15.0, tau=5.0) for _ in range(400)])
    assert abs(noise.std() - 15.0) < 0.6
    paths = noise.reshape(400, 50, 2)
    lag1 = np.mean(paths[:, 1:] * paths[:, :-1]) / np.mean(paths**2)
    assert abs(lag1 - math.exp(-1 / 5.0)) < 0.03


def test_time_warp_replays_at_the_drawn_speed() -> None:
    recorded = ramp(40)
    assert np.allclose(time_warp(recorded, 12, 1.0), recorded[:12])
    half = time_warp(recorded, 12, 0.5)
    assert np.allclose(half[2], recorded[1]) and np.allclose(half[3], (recorded[1] + recorded[2]) / 2)
    held = time_warp(recorded[:5], 12, 1.0)
    assert np.allclose(held[5:], recorded[4])  # past the recording's end the last action is held
    spec = PerturbationSpec.parse("warp:max=0.4")
    actions, drawn = spec.apply(recorded, 12, 5, LOW, HIGH)
    assert 0.6 <= drawn["warp_rate"] <= 1.4
    assert np.allclose(actions, time_warp(recorded, 12, drawn["warp_rate"]), atol=1e-3)


def test_clip_keeps_actions_inside_the_box_and_the_spec_bounds() -> None:
    big = PerturbationSpec.parse("offset:sigma=400;clip:low=25,high=487")
    for seed in range(20):
        actions, _ = big.apply(ramp(), 12, seed, LOW, HIGH)
        assert actions.min() >= 25 and actions.max() <= 487
    unbounded = PerturbationSpec.parse("offset:sigma=400")  # no clip term: the spec's bounds still hold
    clipped = [unbounded.apply(ramp(), 12, seed, LOW, HIGH) for seed in range(20)]
    assert all(a.min() >= 0 and a.max() <= 512 for a, _ in clipped)
    assert sum(d["clipped_values"] for _, d in clipped) > 0


def test_sample_seed_depends_on_each_part_only() -> None:
    base = sample_seed("abc", 12, 1)
    assert base == sample_seed("abc", 12, 1)
    assert len({base, sample_seed("abd", 12, 1), sample_seed("abc", 13, 1), sample_seed("abc", 12, 2)}) == 4
    assert 0 <= base < 2**32
