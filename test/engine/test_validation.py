"""Request validation names the field, the value and the rule, before any model work."""

from __future__ import annotations

import numpy as np
import pytest

from dream_engine_ros.engine.errors import InputError
from dream_engine_ros.engine.validation import RequestValidator
from dream_engine_ros.envs.pusht.specs import PUSHT_TINY

FRAME = np.zeros((96, 96, 3), dtype=np.uint8)


def good_actions(horizon: int = 24) -> np.ndarray:
    return np.full((horizon, 2), 256.0, dtype=np.float32)


@pytest.fixture()
def validator() -> RequestValidator:
    return RequestValidator(PUSHT_TINY)


def _error(fn, *args, **kwargs) -> InputError:  # type: ignore[no-untyped-def]
    with pytest.raises(InputError) as info:
        fn(*args, **kwargs)
    return info.value


def test_good_request_passes_and_returns_float32(validator: RequestValidator) -> None:
    actions = validator.request(FRAME, good_actions().astype(np.float64), 4, 0.0, [7])
    assert actions.dtype == np.float32 and actions.shape == (24, 2)


def test_horizon_not_multiple_of_chunk(validator: RequestValidator) -> None:
    err = _error(validator.actions, good_actions(50))
    assert (err.field, err.value) == ("actions", 50)
    assert str(err) == "actions: horizon 50 is not a multiple of chunk_size 12"


def test_wrong_action_dim(validator: RequestValidator) -> None:
    err = _error(validator.actions, np.zeros((24, 3), dtype=np.float32))
    assert err.value == 3 and "action_dim 3 does not match the spec's action_dim 2" in str(err)


@pytest.mark.parametrize("bad", [np.nan, np.inf, -np.inf])
def test_non_finite_actions(validator: RequestValidator, bad: float) -> None:
    actions = good_actions()
    actions[5, 1] = bad
    err = _error(validator.actions, actions)
    assert "finite" in err.rule and "(5, 1)" in err.rule


def test_actions_outside_workspace(validator: RequestValidator) -> None:
    actions = good_actions()
    actions[3, 0] = 600.0
    err = _error(validator.actions, actions)
    assert err.value == 600.0 and "[[0.0, 0.0], [512.0, 512.0]]" in err.rule


@pytest.mark.parametrize(
    ("frame", "rule"),
    [
        (np.zeros((96, 96, 3), dtype=np.float32), "dtype must be uint8"),
        (np.zeros((96, 96), dtype=np.uint8), "shape must be (H, W, 3)"),
        (np.zeros((96, 96, 4), dtype=np.uint8), "shape must be (H, W, 3)"),
        ([[0, 0, 0]], "must be a numpy array"),
    ],
)
def test_bad_frames(validator: RequestValidator, frame: object, rule: str) -> None:
    assert rule in _error(validator.frame, frame).rule


def test_steps_guidance_seed_ranges(validator: RequestValidator) -> None:
    assert _error(validator.num_steps, 0).field == "num_steps"
    assert _error(validator.num_steps, 2.5).field == "num_steps"
    assert _error(validator.guidance, float("nan")).field == "guidance"
    assert _error(validator.guidance, -1.0).field == "guidance"
    assert _error(validator.seeds, [-1]).field == "seed"
    assert _error(validator.seeds, [2**32]).field == "seed"
    assert _error(validator.seeds, [1, 2], 3).field == "seeds"


def test_batched_shape(validator: RequestValidator) -> None:
    assert validator.actions(np.stack([good_actions()] * 3), batched=True).shape == (3, 24, 2)
    assert "(K, T, D)" in _error(validator.actions, good_actions(), batched=True).rule


def test_batch_seed_rule_is_seed_plus_k_minus_1_below_2_pow_32(validator: RequestValidator) -> None:
    """Candidate k uses seed + k: the error must name that rule, not the per-seed range."""
    top = 2**32 - 2
    err = _error(validator.seeds, [top + k for k in range(4)], 4)
    assert err.field == "seed" and err.value == top
    assert str(err) == ("seed: seed 4294967294 + num_candidates 4 - 1 = 4294967297 must be < 2**32 "
                        "(candidate k uses seed + k)")
    assert validator.seeds([top, top + 1], 2) == [top, top + 1]  # last seed 2**32 - 1 is fine
    assert validator.seed_range(top, 2) == top
    assert "seed + num_candidates" not in str(_error(validator.seed_range, 2**32))
    assert str(_error(validator.seed_range, -1)) == "seed: seed -1 must be an integer in [0, 2**32)"


def test_errors_print_plain_values_not_numpy_reprs(validator: RequestValidator) -> None:
    guidance = _error(validator.guidance, np.float32("nan"))
    assert str(guidance) == "guidance: guidance nan must be a finite number in [0, 30]"
    assert str(_error(validator.num_steps, np.int64(0))) == "num_steps: num_steps 0 must be an integer in [1, 200]"
    actions = good_actions()
    actions[5, 1] = np.nan
    message = str(_error(validator.actions, actions))
    assert message == "actions: actions has nan at index (5, 1) (the first bad entry): all values must be finite"
    actions[5, 1] = 600.0
    assert "actions has 600.0 at index (5, 1) (the first bad entry): values must lie in" in str(
        _error(validator.actions, actions))
