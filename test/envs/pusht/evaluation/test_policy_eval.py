"""Policy evaluation in the dream: the chunked closed loop is one continuous rollout, per-row
starts are exact, and an evaluation end to end is deterministic in its seed."""

from __future__ import annotations

from collections.abc import Iterator

import numpy as np
import pytest
import torch
from scipy import stats

from dream_engine_ros.engine.runner import DreamEngine
from dream_engine_ros.envs.pusht.evaluation import policy_eval as pe
from dream_engine_ros.envs.pusht.evaluation.coverage import SUCCESS_COVERAGE, coverage
from dream_engine_ros.envs.pusht.evaluation.policies import POLICIES


@pytest.fixture(scope="module")
def engine() -> Iterator[DreamEngine]:
    threads = torch.get_num_threads()
    torch.set_num_threads(1)  # the test machine's cores are shared; one thread is fastest there
    yield DreamEngine.load("pusht-structured", device="cpu")
    torch.set_num_threads(threads)


@pytest.fixture(scope="module")
def starts() -> tuple[np.ndarray, np.ndarray]:
    states = pe.start_states(3, seed=5)
    return states, pe.render_starts(states)


class Scripted:
    """An open-loop 'policy': hands out a fixed plan chunk by chunk, whatever it sees."""

    def __init__(self, plans: np.ndarray) -> None:
        self.plans, self.calls = plans, [0] * len(plans)

    def __call__(self, frames: np.ndarray, chunk: int, rng: np.random.Generator) -> np.ndarray:
        row = int(np.argmin(self.calls))  # rows are asked in order, chunk by chunk
        c = self.calls[row]
        self.calls[row] += 1
        return self.plans[row, c * chunk:(c + 1) * chunk]


def test_chunked_closed_loop_equals_one_long_rollout(engine: DreamEngine, starts) -> None:
    """History handed across chunks + continued noise = the single 24-step prediction, bit for bit."""
    _, frames = starts
    plans = np.random.default_rng(0).uniform(60, 450, (3, 24, 2)).astype(np.float32)
    dream = pe.run_dream(engine, Scripted(plans), frames, seed=7, chunks=2, fused=False, keep_frames=True)
    assert dream.frames is not None
    for e in range(3):
        single = engine.predict_batch(frames[e], plans[e][None], seeds=[7 * 1000 + e]).frames[0]
        np.testing.assert_array_equal(dream.frames[e], single)
    np.testing.assert_allclose(dream.pixel_coverage, coverage(dream.frames))


def test_any_other_family_dreams_chunk_by_chunk_through_predict(block_model_folder, starts) -> None:
    """A model without the causal-video frame rollout (a trained block-diffusion folder): each chunk
    is the engine's own prediction from the last dreamed frame with the chunk's seed, and the
    policy sees the dreamed frames."""
    _, frames = starts
    model = DreamEngine.load(str(block_model_folder()), device="cpu")
    plans = np.random.default_rng(1).uniform(0.0, 10.0, (3, 4, 2)).astype(np.float32)
    chunks = iter(plans.reshape(6, 2, 2))  # episodes run one after the other here, chunk by chunk

    def scripted(frames: np.ndarray, chunk: int, rng: np.random.Generator) -> np.ndarray:
        return next(chunks)

    dream = pe.run_dream(model, scripted, frames, seed=7, chunks=2, keep_frames=True)
    assert dream.frames is not None and dream.frames.shape == (3, 5, 32, 32, 3) and dream.sim_coverage is None
    for e in range(3):
        first = model.predict_batch(dream.frames[e, 0], plans[e, :2][None], seeds=[7000 + e]).frames[0]
        second = model.predict_batch(first[-1], plans[e, 2:][None], seeds=[7000 + e + 2]).frames[0]
        np.testing.assert_array_equal(dream.frames[e], np.concatenate([first, second[1:]]))
    np.testing.assert_allclose(dream.pixel_coverage, coverage(dream.frames))


def test_per_row_starts_equal_separate_calls_and_the_shared_path(engine: DreamEngine, starts) -> None:
    _, frames = starts
    rollout = engine.pipeline.sampler()
    acts = engine.spec.normalise_actions(np.random.default_rng(1).uniform(60, 450, (3, 6, 2)))
    past = np.stack([frames[(i + 1) % 3][None].repeat(2, axis=0) for i in range(3)])  # (3, 2, H, W, 3)
    past_acts = acts[:, :2].copy()
    rows, _ = rollout.run(frames, acts, [3, 4, 5], 1, None, None, False, (past, past_acts))
    for i in range(3):
        alone, _ = rollout.run(frames[i], acts[i:i + 1], [3 + i], 1, None, None, False, (past[i], past_acts[i]))
        np.testing.assert_array_equal(rows[i], alone[0])
    same = np.repeat(frames[:1], 3, axis=0)
    per_row, _ = rollout.run(same, acts, [3, 4, 5], 1, None, None, False)
    shared, _ = rollout.run(frames[0], acts, [3, 4, 5], 1, None, None, False)
    np.testing.assert_array_equal(per_row, shared)


def test_evaluation_end_to_end_is_deterministic(engine: DreamEngine) -> None:
    policies = {name: POLICIES[name] for name in ("pusher-noisy", "still")}
    first = pe.evaluate(engine, policies, episodes=2, seed=3, chunks=1)
    second = pe.evaluate(engine, policies, episodes=2, seed=3, chunks=1)
    for a, b in zip(first.policies, second.policies, strict=True):
        assert a.per_episode == b.per_episode
        assert (a.real_success, a.dream_success, a.real_coverage, a.dream_coverage) == \
            (b.real_success, b.dream_success, b.real_coverage, b.dream_coverage)
    still = first.policies[1]
    # doing nothing leaves the T where it started: the dream must not move it either
    assert still.per_episode["dream"] == pytest.approx(still.per_episode["real_read"], abs=0.02)
    report = first.to_dict()
    assert set(report["correlations"]) >= {"success", "coverage"} and "| still |" in first.table()
    assert 0 < report["dream_episodes_per_minute"] and 0 < report["real_episodes_per_minute"]


def test_starts_are_seeded_per_index_near_the_goal_and_not_yet_solved() -> None:
    a, b = pe.start_states(6, seed=11), pe.start_states(9, seed=11)
    np.testing.assert_array_equal(a, b[:6])
    assert not np.array_equal(a, pe.start_states(6, seed=12))
    real = pe.run_real(POLICIES["still"], a, seed=11, chunk=12, chunks=1)
    assert real.sim_coverage is not None
    assert (real.sim_coverage[:, 0] < SUCCESS_COVERAGE).all() and (real.sim_coverage[:, 0] > 0).all()


def test_correlations_match_scipy_and_ranking_violations_need_a_margin() -> None:
    x = [0.9, 0.5, 0.5, 0.1, 0.0, 0.3]
    y = [0.7, 0.6, 0.2, 0.2, 0.1, 0.25]
    assert pe.pearson(x, y) == pytest.approx(stats.pearsonr(x, y)[0], abs=1e-12)
    assert pe.spearman(x, y) == pytest.approx(stats.spearmanr(x, y)[0], abs=1e-12)
    assert np.isnan(pe.pearson([0.0, 0.0, 0.0], y[:3]))
    assert pe.ranking_violations([0.5, 0.45, 0.1], [0.2, 0.3, 0.1]) == []  # 5 points apart: not counted
    assert pe.ranking_violations([0.5, 0.1], [0.2, 0.2]) == [(0, 1)]  # a tie where reality differs
