"""The agent model: a least-squares fit recovers PushT's agent motion from simulator transitions."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from dream_engine_ros.engine.errors import WeightsError
from dream_engine_ros.engine.loading import weight_paths
from dream_engine_ros.engine.spec import get_spec
from dream_engine_ros.engine.weights import read_state_file
from dream_engine_ros.envs.pusht.agent_model import AgentModel


def _pd_trajectories(count: int, steps: int, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """A damped second-order system stepped between random targets (1-D per axis, both axes)."""
    rng = np.random.default_rng(seed)
    targets = rng.uniform(0, 96, (count, steps, 2))
    pos, vel = rng.uniform(0, 96, (count, 2)), np.zeros((count, 2))
    out = [pos.copy()]
    for t in range(steps):
        for _ in range(10):
            vel += (100 * (targets[:, t] - pos) - 20 * vel) * 0.01
            pos = pos + vel * 0.01
        out.append(pos.copy())
    return np.stack(out, axis=1), targets


def test_fit_recovers_a_linear_pd_system_and_rolls_it_out() -> None:
    agent, targets = _pd_trajectories(20, 30, seed=0)
    model = AgentModel.fit(agent, targets)
    held, held_targets = _pd_trajectories(5, 30, seed=1)
    rolled = model.rollout(held[:, 0], held[:, 1], held_targets[:, 0], held_targets[:, 1:])
    assert np.abs(rolled - held[:, 2:]).max() < 1e-6
    assert abs(model.coefficients.sum() - 1.0) < 1e-9  # a target where the agent rests keeps it there


def test_shipped_agent_model_follows_the_simulator() -> None:
    from dream_engine_ros.envs.pusht.training.train_agent import agent_pixels, held_out_report
    from dream_engine_ros.envs.pusht.training.train_contact import simulate_transitions

    path = weight_paths(get_spec("pusht-structured"))["agent"]
    model = AgentModel.from_state(read_state_file(path), source=str(path))
    report = held_out_report(model, *agent_pixels(*simulate_transitions(6, 48, seed=8080)))
    assert report["open_loop_px_max"] < 0.01, report


def test_bad_agent_weights_are_named() -> None:
    with pytest.raises(WeightsError, match="coefficients"):
        AgentModel.from_state({"coefficients": torch.zeros(3)})
    with pytest.raises(WeightsError, match="not finite"):
        AgentModel.from_state({"coefficients": torch.tensor([0.0, float("nan"), 0.0, 1.0])})
