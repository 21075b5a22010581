"""GR-1 joint targets -> DreamDojo 384-d actions, checked against deltas worked out by hand.

The hand values use simple statistics (spans of 2 and 4) so every expected number can be read
off the input arrays; one test then checks the released GR-1 statistics on a single joint.
"""

from __future__ import annotations

import numpy as np
import pytest

from dream_engine_ros.engine.validation import RequestValidator
from dream_engine_ros.envs.gr1.actions import (
    ACTION_DIM,
    GR1_NUM_JOINTS,
    GR1_STATS,
    Gr1Stats,
    gr1_joints_to_actions,
    gr1_slots,
)
from dream_engine_ros.envs.gr1.specs import DREAMDOJO_GR1_2B


def simple_stats() -> Gr1Stats:
    """Joint 0: action [0, 2] -> x - 1.  Joint 1: action [-1, 3] -> (x - 1) / 2.
    Joint 28: degenerate (min == max) -> always 0. Others: [0, 2]. State: [0, 4] -> x / 2 - 1."""
    action_min = [0.0] * GR1_NUM_JOINTS
    action_max = [2.0] * GR1_NUM_JOINTS
    action_min[1], action_max[1] = -1.0, 3.0
    action_min[28] = action_max[28] = 0.5
    return Gr1Stats(tuple(action_min), tuple(action_max), (0.0,) * GR1_NUM_JOINTS, (4.0,) * GR1_NUM_JOINTS)


def plan() -> np.ndarray:
    """9 rows (baseline + 8 targets); joint 0 ramps, joint 1 steps, joint 28 wiggles, rest 1."""
    joints = np.ones((9, GR1_NUM_JOINTS))
    joints[:, 0] = [0.0, 0.1, 0.3, 0.6, 1.0, 1.5, 2.0, 2.4, 2.7]
    joints[:, 1] = [1.0, 3.0, 3.0, 3.0, 3.0, 7.0, 7.0, 7.0, 7.0]
    joints[:, 28] = [0.0, 5.0, -3.0, 1.0, 2.0, 9.0, 0.0, 4.0, 1.0]
    return joints


# Row k = a[k+1] - a[4 * (k // 4)]: rows 0-3 against row 0, rows 4-7 against row 4.
JOINT0_DELTAS = [0.1, 0.3, 0.6, 1.0, 0.5, 1.0, 1.4, 1.7]  # raw differences (scale 1)
JOINT1_DELTAS = [1.0, 1.0, 1.0, 1.0, 2.0, 2.0, 2.0, 2.0]  # (3-1)/2 ... then (7-3)/2


def test_delta_mode_matches_hand_computed_deltas() -> None:
    out = gr1_joints_to_actions(plan(), first_row="delta", stats=simple_stats())
    assert out.shape == (8, ACTION_DIM) and out.dtype == np.float32
    np.testing.assert_allclose(out[:, 0], JOINT0_DELTAS, atol=1e-6)
    np.testing.assert_allclose(out[:, 1], JOINT1_DELTAS, atol=1e-6)
    np.testing.assert_array_equal(out[:, 2:28], 0.0)  # constant joints: no motion
    np.testing.assert_array_equal(out[:, 28], 0.0)  # min == max normalises to 0 (reference rule)
    np.testing.assert_array_equal(out[:, GR1_NUM_JOINTS:], 0.0)  # other embodiments' slots stay empty


def test_state_mode_puts_the_normalised_state_in_row_zero_only() -> None:
    stats = simple_stats()
    default = gr1_joints_to_actions(plan(), stats=stats)  # state = joints row 0
    # joints row 0 under the state scale x/2 - 1: joint 0 (0.0) -> -1, joints 1-27 (1.0) -> -0.5,
    # joint 28 (0.0) -> -1 (its degenerate *action* range does not apply to the state)
    assert default[0, 0] == pytest.approx(-1.0)
    np.testing.assert_allclose(default[0, 1:28], -0.5)
    assert default[0, 28] == pytest.approx(-1.0)
    np.testing.assert_allclose(default[1:, 0], JOINT0_DELTAS[1:], atol=1e-6)  # later rows untouched
    np.testing.assert_allclose(default[1:, 1], JOINT1_DELTAS[1:], atol=1e-6)

    state = np.full(GR1_NUM_JOINTS, 2.0)
    state[0] = 3.0
    given = gr1_joints_to_actions(plan(), state=state, stats=stats)
    assert given[0, 0] == pytest.approx(0.5)  # 3/2 - 1
    np.testing.assert_allclose(given[0, 1:GR1_NUM_JOINTS], 0.0)  # 2/2 - 1
    np.testing.assert_array_equal(given[1:], default[1:])


def test_released_statistics_on_one_joint_by_hand() -> None:
    """Left shoulder (joint 0): action range [-2.291214942932129, 1.046176552772522];
    waist joint 3 (index 28): state range [-0.10379424691200256, 0.08468786627054214]."""
    joints = np.zeros((5, GR1_NUM_JOINTS))
    joints[:, 0] = [0.2, 0.3, 0.0, 0.2, 0.7]
    out = gr1_joints_to_actions(joints, first_row="delta")
    span = 1.046176552772522 + 2.291214942932129
    np.testing.assert_allclose(out[:, 0], [2 * 0.1 / span, 2 * -0.2 / span, 0.0, 2 * 0.5 / span], rtol=1e-6)
    stated = gr1_joints_to_actions(joints)
    waist_state = 2 * (0.0 + 0.10379424691200256) / (0.08468786627054214 + 0.10379424691200256) - 1
    assert stated[0, 28] == pytest.approx(waist_state, rel=1e-6)
    left_arm_state = 2 * (0.2 + 1.7112884521484375) / (1.0017889738082886 + 1.7112884521484375) - 1
    assert stated[0, 0] == pytest.approx(left_arm_state, rel=1e-6)


def test_released_statistics_layout() -> None:
    """Concat order left arm, right arm, left hand, right hand, waist (first/last values)."""
    assert len(GR1_STATS.action_min) == GR1_NUM_JOINTS == 29
    assert GR1_STATS.action_min[0] == -2.291214942932129  # left_arm[0]
    assert GR1_STATS.action_min[7] == -2.0708367824554443  # right_arm[0]
    assert GR1_STATS.action_max[14] == 1.5707963705062866  # left_hand[0]
    assert GR1_STATS.action_max[20:26] == (1.5707963705062866, 1.7183797359466553, 3.979951858520508,
                                          3.9879753589630127, 0.9479697346687317, 1.7448405027389526)
    assert GR1_STATS.action_max[26:] == (0.7853971719741821, 0.523597776889801, 0.0)  # waist
    assert GR1_STATS.state_min[26:] == (-0.8075597882270813, -0.06663085520267487, -0.10379424691200256)
    assert all(hi > lo for lo, hi in zip(GR1_STATS.action_min, GR1_STATS.action_max, strict=True))


def test_batched_plans_equal_single_plans_and_pass_the_engine_validator() -> None:
    rng = np.random.default_rng(3)
    joints = rng.uniform(-1, 1, (3, 25, GR1_NUM_JOINTS))
    states = rng.uniform(-1, 1, (3, GR1_NUM_JOINTS))
    batch = gr1_joints_to_actions(joints, state=states)
    assert batch.shape == (3, 24, ACTION_DIM)
    for k in range(3):
        np.testing.assert_array_equal(batch[k], gr1_joints_to_actions(joints[k], state=states[k]))
    validator = RequestValidator(DREAMDOJO_GR1_2B)
    validator.actions(batch[0])
    validator.actions(batch, batched=True)


def test_gr1_slots_places_normalised_rows() -> None:
    rows = np.arange(2 * GR1_NUM_JOINTS, dtype=np.float32).reshape(2, GR1_NUM_JOINTS)
    out = gr1_slots(rows)
    assert out.shape == (2, ACTION_DIM)
    np.testing.assert_array_equal(out[:, :GR1_NUM_JOINTS], rows)
    np.testing.assert_array_equal(out[:, GR1_NUM_JOINTS:], 0.0)
    with pytest.raises(ValueError, match="29 joints"):
        gr1_slots(np.zeros((2, 30)))


@pytest.mark.parametrize(
    ("joints", "kwargs", "message"),
    [
        (np.zeros((13, 28)), {}, r"shape \(T \+ 1, 29\)"),
        (np.zeros(29), {}, r"shape \(T \+ 1, 29\)"),
        (np.zeros((2, 2, 13, 29)), {}, r"shape \(T \+ 1, 29\)"),
        (np.zeros((12, 29)), {}, "multiple of 4"),
        (np.zeros((1, 29)), {}, "multiple of 4"),
        (np.full((13, 29), np.nan), {}, r"finite; first bad entry at index \(0, 0\)"),
        (np.array([["a"] * 29] * 13), {}, "numeric"),
        (np.zeros((13, 29)), {"first_row": "latent"}, "first_row"),
        (np.zeros((13, 29)), {"state": np.zeros(28)}, r"state must have shape \(29,\)"),
        (np.zeros((2, 13, 29)), {"state": np.zeros(29)}, "does not match joints"),
        (np.zeros((13, 29)), {"state": [np.inf] + [0.0] * 28}, "state must be finite"),
    ],
)
def test_bad_inputs_raise_clear_value_errors(joints: np.ndarray, kwargs: dict, message: str) -> None:
    with pytest.raises(ValueError, match=message):
        gr1_joints_to_actions(joints, **kwargs)


def test_bad_statistics_are_rejected() -> None:
    with pytest.raises(ValueError, match="29 finite numbers"):
        Gr1Stats((0.0,) * 28, (1.0,) * 29, (0.0,) * 29, (1.0,) * 29)
    with pytest.raises(ValueError, match="action_max < action_min for joint 3"):
        Gr1Stats((0.0,) * 29, tuple(-1.0 if i == 3 else 1.0 for i in range(29)), (0.0,) * 29, (1.0,) * 29)
