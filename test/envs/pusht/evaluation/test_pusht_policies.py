"""The shipped PushT policies: image in, a chunk of valid targets out, deterministic, and of
clearly different quality in the simulator."""

from __future__ import annotations

import numpy as np
import pytest

from dream_engine_ros.envs.pusht.evaluation import policies as pol
from dream_engine_ros.envs.pusht.evaluation import policy_eval as pe


@pytest.fixture(scope="module")
def frames() -> np.ndarray:
    return pe.render_starts(pe.start_states(3, seed=21))


def test_there_are_at_least_eight_policies_and_names_resolve() -> None:
    assert len(pol.POLICIES) >= 8
    assert pol.get_policy("pusher") is pol.pusher
    with pytest.raises(KeyError, match="unknown PushT policy"):
        pol.get_policy("teleport")


@pytest.mark.parametrize("name", list(pol.POLICIES))
def test_every_policy_returns_a_chunk_of_targets_deterministically(name: str, frames: np.ndarray) -> None:
    policy = pol.get_policy(name)
    a = policy(frames, 12, np.random.default_rng(4))
    b = policy(frames, 12, np.random.default_rng(4))
    assert a.shape == (12, 2) and a.dtype == np.float32
    assert np.isfinite(a).all() and (a >= 0).all() and (a <= 512).all()
    np.testing.assert_array_equal(a, b)


def test_a_frame_without_objects_holds_instead_of_failing() -> None:
    blank = np.full((1, 96, 96, 3), 255, np.uint8)
    for name in ("pusher", "still", "drive-to-goal"):
        out = pol.get_policy(name)(blank, 12, np.random.default_rng(0))
        assert out.shape == (12, 2) and np.isfinite(out).all()


def test_the_chosen_push_is_predicted_to_reduce_the_pose_error() -> None:
    origin, angle = pol.GOAL_POSE[:2] + np.array([30.0, -20.0]), float(pol.GOAL_POSE[2] + 0.4)

    def error(o: np.ndarray, a: float) -> float:
        cog = o + pol._rotation(a) @ pol.T_COG_LOCAL
        return float(np.hypot(*(cog - pol.GOAL_COG)) / 20 + abs(pol.wrap(pol.GOAL_POSE[2] - a)) / (np.pi / 9))

    push = pol.choose_push(origin, angle)
    assert error(*pol.predict_push(origin, angle, push, push.length)) < error(origin, angle)
    away = pol.choose_push(origin, angle, toward_goal=False)
    assert error(*pol.predict_push(origin, angle, away, away.length)) > error(origin, angle)


def test_in_the_simulator_the_pusher_beats_doing_nothing_and_the_wrong_side_is_worse() -> None:
    starts = pe.start_states(4, seed=21)
    score = {name: pe.run_real(pol.get_policy(name), starts, 21, 12, 6).sim_coverage
             for name in ("pusher", "still", "pusher-wrong-side")}
    final = {name: curve[:, -1].mean() for name, curve in score.items() if curve is not None}
    assert final["pusher"] > final["still"] + 0.2
    assert final["pusher-wrong-side"] < final["still"]
