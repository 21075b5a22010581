"""Learned motion of PushT's agent: where it is one control step later, from where it was.

Why: a planner scoring hundreds of candidates cannot afford the frame network per candidate and
frame (~3 ms each on a 2-core CPU); in the scene-state rollout (`scene_states.py`) the agent moves
by this model and the T by the contact model. PushT's agent is a kinematic disk steered by a PD
controller towards the commanded target, so per axis its next position is linear in the last two
positions and the last two targets (the hidden velocity follows from them):

    x[t + 1] = c0 x[t - 1] + c1 x[t] + c2 u[t - 1] + c3 u[t]

The four coefficients are fitted by least squares to simulator transitions
(`envs/pusht/training/train_agent.py`), not copied from the simulator's gains.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

import numpy as np
from torch import Tensor

from dream_engine_ros.engine.errors import WeightsError

COEFFICIENTS = 4


@dataclass(frozen=True)
class AgentModel:
    coefficients: np.ndarray  # (4,) float64: x[t-1], x[t], u[t-1], u[t]

    @classmethod
    def from_state(cls, state: Mapping[str, Tensor], source: str = "agent weights") -> AgentModel:
        if set(state) != {"coefficients"} or tuple(state["coefficients"].shape) != (COEFFICIENTS,):
            raise WeightsError(f"{source}: expected one tensor 'coefficients' of shape ({COEFFICIENTS},), "
                               f"got {sorted(state)}")
        coefficients = state["coefficients"].detach().double().cpu().numpy()
        if not np.isfinite(coefficients).all():
            raise WeightsError(f"{source}: coefficients are not finite")
        return cls(coefficients)

    @classmethod
    def fit(cls, agent: np.ndarray, targets: np.ndarray) -> AgentModel:
        """Least squares over trajectories: agent (N, T + 1, 2) positions, targets (N, T, 2) the
        targets commanded between them (both axes share the coefficients)."""
        rows = np.stack([agent[:, :-2], agent[:, 1:-1], targets[:, :-1], targets[:, 1:]], axis=-1)
        design = rows.reshape(-1, COEFFICIENTS)
        coefficients, *_ = np.linalg.lstsq(design, agent[:, 2:].reshape(-1), rcond=None)
        return cls(coefficients)

    def step(self, agent_prev: np.ndarray, agent_now: np.ndarray, target_prev: np.ndarray,
             target_now: np.ndarray) -> np.ndarray:
        """(..., 2) positions and targets (any consistent unit) -> the agent's next position."""
        c = self.coefficients
        nxt: np.ndarray = c[0] * agent_prev + c[1] * agent_now + c[2] * target_prev + c[3] * target_now
        return nxt

    def rollout(self, agent_prev: np.ndarray, agent_now: np.ndarray, target_prev: np.ndarray,
                targets: np.ndarray) -> np.ndarray:
        """(K, 2) start and (K, T, 2) targets -> (K, T, 2) the agent after each step."""
        out = np.empty(targets.shape, dtype=np.float64)
        before, now, last_target = agent_prev, agent_now, target_prev
        for t in range(targets.shape[1]):
            out[:, t] = self.step(before, now, last_target, targets[:, t])
            before, now, last_target = now, out[:, t], targets[:, t]
        return out
