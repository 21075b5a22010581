"""Rectified-flow sampling: schedule, multistep UniPC (bh2, x0-prediction) and Euler solvers.

Convention (rectified flow): x_sigma = sigma * noise + (1 - sigma) * x0 and the network predicts
the velocity v = noise - x0, so x0 = x_sigma - sigma * v. Sampling walks sigma from ~1 to 0.

The solvers know nothing about actions or conditioning: they call `velocity(x, step)`; the
runner builds that function (frame-0 conditioning, classifier-free guidance, batching).
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass
from typing import Protocol

import numpy as np
import torch
from torch import Tensor

from dream_engine_ros.engine.errors import check_cancel
from dream_engine_ros.engine.seeding import MAX_SEED

NUM_TRAIN_TIMESTEPS = 1000
SIGMA_MAX = 1.0 - 1.0 / NUM_TRAIN_TIMESTEPS


class VelocityFn(Protocol):
    def __call__(self, x: Tensor, step: int) -> Tensor: ...


@dataclass(frozen=True)
class FlowSchedule:
    """Shifted sigmas (N + 1 values ending in 0) and the int timesteps the network sees."""

    sigmas: tuple[float, ...]
    timesteps: tuple[int, ...]

    @property
    def num_steps(self) -> int:
        return len(self.timesteps)


def flow_schedule(num_steps: int, shift: float) -> FlowSchedule:
    """Linear sigmas from SIGMA_MAX towards 0, time-shifted by `shift` (higher = noisier longer)."""
    if num_steps < 1:
        raise ValueError(f"num_steps must be >= 1, got {num_steps}")
    base = np.linspace(SIGMA_MAX, 0.0, num_steps + 1)[:-1]
    shifted = shift * base / (1.0 + (shift - 1.0) * base)
    sigmas = np.concatenate([shifted, [0.0]]).astype(np.float32)
    timesteps = (shifted * NUM_TRAIN_TIMESTEPS).astype(np.int64)
    return FlowSchedule(tuple(float(s) for s in sigmas), tuple(int(t) for t in timesteps))




def seeded_noise(seed: int, shape: tuple[int, ...]) -> Tensor:
    """Gaussian noise from numpy's legacy generator: same numbers on every machine and device."""
    if not 0 <= seed < MAX_SEED:
        raise ValueError(f"seed {seed} must be in [0, 2**32)")
    return torch.from_numpy(np.random.RandomState(seed).standard_normal(shape).astype(np.float32))


def _lambda(sigma: float) -> float:
    """log-SNR of the flow path: log(alpha) - log(sigma) with alpha = 1 - sigma."""
    if sigma <= 0.0:
        return math.inf
    return math.log(1.0 - sigma) - math.log(sigma)


StepHook = Callable[[int, Tensor, Tensor, Tensor], None]  # (step, x_in, v, x_out)


def sample_euler(velocity: VelocityFn, x: Tensor, schedule: FlowSchedule,
                 should_cancel: Callable[[], bool] | None = None, on_step: StepHook | None = None) -> Tensor:
    """First-order flow ODE integration; the simplest baseline solver."""
    sig = schedule.sigmas
    for i in range(schedule.num_steps):
        check_cancel(should_cancel)
        v = velocity(x, i)
        x_next = x + (sig[i + 1] - sig[i]) * v
        if on_step is not None:
            on_step(i, x, v, x_next)
        x = x_next
    return x


def _phi_coefficients(hh: float, order: int) -> tuple[list[float], float]:
    """UniPC's b vector (bh2 variant) and B(h) for a step of size hh = -h."""
    h_phi_1 = math.expm1(hh)
    b_h = math.expm1(hh)
    h_phi_k = h_phi_1 / hh - 1.0 if math.isfinite(hh) else -1.0
    factorial = 1.0
    b: list[float] = []
    for i in range(1, order + 1):
        b.append(h_phi_k * factorial / b_h)
        factorial *= i + 1
        h_phi_k = (h_phi_k / hh if math.isfinite(hh) else 0.0) - 1.0 / factorial
    return b, b_h


def sample_unipc(velocity: VelocityFn, x: Tensor, schedule: FlowSchedule, order: int = 2,
                 should_cancel: Callable[[], bool] | None = None, on_step: StepHook | None = None) -> Tensor:
    """Multistep UniPC predictor-corrector (bh2, x0-prediction), warm-up and lower order last step.

    Each step: predict x0 at the current state, correct the current state with it (from the
    second step on), then predict the next state. The last step lands on sigma = 0 and returns
    the x0 prediction.
    """
    sig = schedule.sigmas
    n = schedule.num_steps
    lam = [_lambda(s) for s in sig]
    x0_hist: list[Tensor] = []
    last_x: Tensor | None = None
    prev_order = 1
    for i in range(n):
        check_cancel(should_cancel)
        x_in = x
        v = velocity(x, i)
        x0 = x - sig[i] * v
        if i > 0 and last_x is not None:
            x = _corrector(x0, x0_hist, last_x, i, prev_order, sig, lam)
        x0_hist = (x0_hist + [x0])[-order:]
        this_order = min(order, n - i, i + 1)
        last_x = x
        x = _predictor(x, x0_hist, i, this_order, sig, lam)
        prev_order = this_order
        if on_step is not None:
            on_step(i, x_in, v, x)
    return x


def _predictor(x: Tensor, x0_hist: list[Tensor], i: int, order: int, sig: tuple[float, ...],
               lam: list[float]) -> Tensor:
    m0 = x0_hist[-1]
    h = lam[i + 1] - lam[i]
    hh = -h
    alpha_t = 1.0 - sig[i + 1]
    h_phi_1 = math.expm1(hh)
    _, b_h = _phi_coefficients(hh, order)
    out = (sig[i + 1] / sig[i]) * x - (alpha_t * h_phi_1) * m0
    if order == 2:
        rk = (lam[i - 1] - lam[i]) / h
        d1 = (x0_hist[-2] - m0) / rk
        out = out - (alpha_t * b_h * 0.5) * d1
    return out


def _corrector(x0_new: Tensor, x0_hist: list[Tensor], last_x: Tensor, i: int, order: int,
               sig: tuple[float, ...], lam: list[float]) -> Tensor:
    m0 = x0_hist[-1]
    h = lam[i] - lam[i - 1]
    hh = -h
    alpha_t = 1.0 - sig[i]
    h_phi_1 = math.expm1(hh)
    b, b_h = _phi_coefficients(hh, order)
    rks: list[float] = []
    d1s: list[Tensor] = []
    for k in range(1, order):
        rk = (lam[i - 1 - k] - lam[i - 1]) / h
        rks.append(rk)
        d1s.append((x0_hist[-(k + 1)] - m0) / rk)
    rks.append(1.0)
    if order == 1:
        rhos = [0.5]
    else:
        r = np.array([[rk ** (j - 1) for rk in rks] for j in range(1, order + 1)], dtype=np.float64)
        rhos = [float(v) for v in np.linalg.solve(r, np.array(b, dtype=np.float64))]
    out = (sig[i] / sig[i - 1]) * last_x - (alpha_t * h_phi_1) * m0
    corr = (x0_new - m0) * rhos[-1]
    for rho, d1 in zip(rhos[:-1], d1s, strict=True):
        corr = corr + rho * d1
    return out - (alpha_t * b_h) * corr


def sample(velocity: VelocityFn, noise: Tensor, schedule: FlowSchedule, solver: str = "unipc",
           should_cancel: Callable[[], bool] | None = None, on_step: StepHook | None = None) -> Tensor:
    """Integrate from pure noise to a clean latent with the named solver."""
    if solver == "unipc":
        return sample_unipc(velocity, noise, schedule, should_cancel=should_cancel, on_step=on_step)
    if solver == "euler":
        return sample_euler(velocity, noise, schedule, should_cancel=should_cancel, on_step=on_step)
    raise ValueError(f"unknown solver {solver!r} (expected 'unipc' or 'euler')")


def guided(v_cond: Tensor, v_uncond: Tensor | None, guidance: float) -> Tensor:
    """Classifier-free guidance: v = v_cond + g * (v_cond - v_uncond)."""
    if guidance == 0.0 or v_uncond is None:
        return v_cond
    return v_cond + guidance * (v_cond - v_uncond)
