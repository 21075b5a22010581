"""The generic goal costs: `latent-goal` scores any spec's decode-free rollout against a goal image's
state (min + mean shaping), with named errors for what it cannot score."""

from __future__ import annotations

import numpy as np
import pytest

from dream_engine_ros.engine.errors import InputError
from dream_engine_ros.engine.runner import DreamEngine
from dream_engine_ros.planning.costs import LATENT_GOAL, LatentGoalCost, get_cost, score_rollouts


def test_min_plus_mean_prefers_the_plan_that_reaches_the_goal_early() -> None:
    cost = LatentGoalCost()
    goal = np.zeros(4)
    early = np.array([[[2.0] * 4, [0.0] * 4, [0.0] * 4]])  # reaches the goal at step 2 and stays
    late = np.array([[[2.0] * 4, [2.0] * 4, [0.0] * 4]])  # reaches it at the last step
    never = np.array([[[1.0] * 4, [1.0] * 4, [1.0] * 4]])
    assert cost.per_step(early, goal).tolist() == [[4.0, 0.0, 0.0]]

    def shaped(states: np.ndarray) -> float:
        d = cost.per_step(states, goal)
        return float(d.min(axis=1)[0] + d.mean(axis=1)[0])

    assert shaped(early) < shaped(late) and shaped(early) < shaped(never)


def test_a_candidate_that_reaches_the_goal_state_scores_lowest(block_model_folder,
                                                               monkeypatch: pytest.MonkeyPatch) -> None:
    """On a model's decode-free rollout: when the goal image's state is candidate 1's own last
    predicted state, candidate 1 costs least. (A random tokenizer does not re-encode its own
    decoded frames to the same latents, so the goal's encoding is pinned to that state here; how
    well a trained tokenizer does is measured in docs/planning.md.)"""
    engine = DreamEngine.load(str(block_model_folder()), device="cpu")
    rng = np.random.default_rng(4)
    frame = rng.integers(0, 256, size=(32, 32, 3), dtype=np.uint8)
    candidates = rng.uniform(0.0, 10.0, size=(3, 4, 2)).astype(np.float32)
    goal_state = engine.rollout_frameless(frame, candidates)[1, -1]
    monkeypatch.setattr(engine, "encode_frameless", lambda images: goal_state[None])
    costs = get_cost(LATENT_GOAL).score_frameless(engine, frame, candidates, np.zeros((32, 32, 3), np.uint8))
    assert costs.shape == (3,) and int(np.argmin(costs)) == 1


def test_bad_goals_and_specs_get_named_errors(block_model_folder, engine: DreamEngine) -> None:
    cost = get_cost(LATENT_GOAL)
    assert cost.frameless
    model = DreamEngine.load(str(block_model_folder()), device="cpu")
    frame = np.zeros((32, 32, 3), np.uint8)
    actions = np.ones((2, 2, 2), np.float32)
    with pytest.raises(InputError, match="goal image"):
        cost.score_frameless(model, frame, actions, np.zeros((32, 32), np.uint8))
    with pytest.raises(InputError, match="goal image"):
        cost.score_frameless(model, frame, actions, np.zeros((32, 32, 3), np.float32))
    with pytest.raises(InputError, match="decode-free rollouts, not frames"):
        score_rollouts(model, LATENT_GOAL, np.zeros((1, 3, 32, 32, 3), np.uint8), frame)
    assert not engine.can_roll_out_frameless  # the session's pusht-tiny: a named error, not a crash
    with pytest.raises(InputError, match="cannot roll out decode-free"):
        cost.score_frameless(engine, np.zeros((96, 96, 3), np.uint8), np.full((1, 4, 2), 100.0, np.float32),
                             np.zeros((96, 96, 3), np.uint8))


def test_a_request_without_a_cost_gets_the_models_default() -> None:
    """'' is decode-free 'latent-goal' where the model can and no frames are asked for, else 'last-frame'."""
    from dream_engine_ros.planning.costs import DEFAULT_COST, default_cost_name, resolve_cost

    assert default_cost_name(decode_free=True, needs_frames=False) == LATENT_GOAL
    assert default_cost_name(decode_free=True, needs_frames=True) == DEFAULT_COST
    assert default_cost_name(decode_free=False, needs_frames=False) == DEFAULT_COST
    assert resolve_cost("", decode_free=True, needs_frames=False).name == LATENT_GOAL
    assert resolve_cost("last-frame", decode_free=True, needs_frames=False).name == DEFAULT_COST  # a name wins
    with pytest.raises(InputError, match="is not one of"):
        resolve_cost("psnr", decode_free=True, needs_frames=False)

