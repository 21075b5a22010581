"""Action perturbation models, a small spec grammar for them, and the per-sample seed.

Grammar (`--perturb`): terms separated by `;`, each `name` or `name:key=value,key=value`:

    warp:max=M          time warping: the recorded sequence replayed at a constant speed factor
                        r ~ U(1 - M, 1 + M) (linear interpolation between recorded actions; past the end
                        of the recording the last action is held). 0 <= M < 1.
    offset:sigma=S      a constant offset per action dimension, N(0, S^2), for the whole sample.
    ou:sigma=S,tau=T    temporally correlated Gaussian noise (a discretised Ornstein-Uhlenbeck process,
                        AR(1) with phi = exp(-1 / T), T in steps, stationary std S) per dimension.
    clip[:low=L,high=H] clip to [L, H] intersected with the spec's bounds (default: the spec's bounds).
    none                the recorded actions unchanged (a baseline sample).

Models apply in this fixed order whatever the order written: warp -> offset -> ou -> clip, and the result
is always clipped to the spec's action bounds last (the engine refuses actions outside them). Sigmas are in
the action's units (PushT: env units of the 512 x 512 workspace). A name may appear once.

Seed: sample_seed(content hash, start index, sample index) is the first 4 bytes of a sha256 of the three,
so a sample's perturbation and its rollout noise depend on nothing else (not worker, order or machine).
"""

from __future__ import annotations

import hashlib
import math
from dataclasses import dataclass, field

import numpy as np

ORDER = ("warp", "offset", "ou", "clip")
_KEYS: dict[str, dict[str, tuple[float, float]]] = {  # allowed keys and their [low, high) ranges
    "warp": {"max": (0.0, 1.0)},
    "offset": {"sigma": (0.0, math.inf)},
    "ou": {"sigma": (0.0, math.inf), "tau": (1e-9, math.inf)},
    "clip": {"low": (-math.inf, math.inf), "high": (-math.inf, math.inf)},
    "none": {},
}
_REQUIRED = {"warp": ("max",), "offset": ("sigma",), "ou": ("sigma", "tau")}


def sample_seed(content_hash: str, start_index: int, sample_index: int) -> int:
    """The one seed of a sample, in [0, 2**32): perturbation generator and rollout noise both use it."""
    digest = hashlib.sha256(f"{content_hash}:{int(start_index)}:{int(sample_index)}".encode()).digest()
    return int.from_bytes(digest[:4], "big")


@dataclass(frozen=True)
class PerturbationSpec:
    """A parsed `--perturb` string: model name -> its parameters."""

    terms: dict[str, dict[str, float]] = field(default_factory=dict)
    text: str = ""

    @classmethod
    def parse(cls, text: str) -> PerturbationSpec:
        terms: dict[str, dict[str, float]] = {}
        for raw in text.split(";"):
            term = raw.strip()
            if not term:
                continue
            name, _, params = term.partition(":")
            name = name.strip()
            if name not in _KEYS:
                raise ValueError(f"unknown perturbation {name!r} in {text!r}; known: {', '.join(_KEYS)}")
            if name in terms:
                raise ValueError(f"perturbation {name!r} appears twice in {text!r}")
            values: dict[str, float] = {}
            for pair in filter(None, (p.strip() for p in params.split(","))):
                key, eq, value = pair.partition("=")
                key = key.strip()
                if not eq or key not in _KEYS[name]:
                    raise ValueError(f"{name}: {pair!r} is not one of {', '.join(f'{k}=<number>' for k in _KEYS[name])}"
                                     if _KEYS[name] else f"{name} takes no parameters, got {pair!r}")
                try:
                    number = float(value)
                except ValueError:
                    raise ValueError(f"{name}: {key}={value!r} is not a number") from None
                low, high = _KEYS[name][key]
                if not (math.isfinite(number) and low <= number < high):
                    raise ValueError(f"{name}: {key}={value} must be in [{low}, {high})")
                values[key] = number
            missing = [k for k in _REQUIRED.get(name, ()) if k not in values]
            if missing:
                raise ValueError(f"{name}: missing {', '.join(f'{k}=' for k in missing)} (e.g. "
                                 f"{'ou:sigma=10,tau=5' if name == 'ou' else name + ':' + missing[0] + '=0.2'})")
            if name == "clip" and values.get("low", -math.inf) >= values.get("high", math.inf):
                raise ValueError(f"clip: low {values['low']} must be below high {values['high']}")
            terms[name] = values
        if not terms:
            raise ValueError("--perturb is empty; use 'none' for the recorded actions unchanged")
        if "none" in terms and len(terms) > 1:
            raise ValueError("'none' cannot be combined with other perturbations")
        return cls(terms, text)

    def describe(self) -> dict[str, dict[str, float]]:
        """Canonical form for metadata (application order)."""
        return {name: dict(self.terms[name]) for name in (*ORDER, "none") if name in self.terms}

    def apply(self, recorded: np.ndarray, horizon: int, seed: int, low: np.ndarray | None,
              high: np.ndarray | None) -> tuple[np.ndarray, dict[str, object]]:
        """Perturb `horizon` actions of `recorded` (the recording's actions from the start frame on,
        (n >= horizon, D)); returns the (horizon, D) float32 actions and the drawn values."""
        rng = np.random.default_rng(seed)
        recorded = np.asarray(recorded, dtype=np.float64)
        dim = recorded.shape[1]
        drawn: dict[str, object] = {}
        actions = recorded[:horizon].copy()
        if "warp" in self.terms:
            limit = self.terms["warp"]["max"]
            rate = float(rng.uniform(1.0 - limit, 1.0 + limit))
            actions = time_warp(recorded, horizon, rate)
            drawn["warp_rate"] = rate
        if "offset" in self.terms:
            offset = np.asarray(rng.normal(0.0, self.terms["offset"]["sigma"], size=dim))
            actions = actions + offset
            drawn["offset"] = offset.tolist()
        if "ou" in self.terms:
            actions = actions + correlated_noise(rng, horizon, dim, self.terms["ou"]["sigma"], self.terms["ou"]["tau"])
        box_low = np.full(dim, -np.inf) if low is None else np.asarray(low, dtype=np.float64)
        box_high = np.full(dim, np.inf) if high is None else np.asarray(high, dtype=np.float64)
        if "clip" in self.terms:
            box_low = np.maximum(box_low, self.terms["clip"].get("low", -np.inf))
            box_high = np.minimum(box_high, self.terms["clip"].get("high", np.inf))
        clipped = np.clip(actions, box_low, box_high)
        drawn["clipped_values"] = int(np.sum(clipped != actions))
        return clipped.astype(np.float32), drawn


def time_warp(recorded: np.ndarray, horizon: int, rate: float) -> np.ndarray:
    """Action k of the warped sequence = the recording at step k * rate (linear interpolation, held at the end)."""
    positions = np.minimum(np.arange(horizon, dtype=np.float64) * rate, len(recorded) - 1)
    below = np.floor(positions).astype(np.int64)
    above = np.minimum(below + 1, len(recorded) - 1)
    weight = (positions - below)[:, None]
    return np.asarray((1.0 - weight) * recorded[below] + weight * recorded[above])


def correlated_noise(rng: np.random.Generator, steps: int, dim: int, sigma: float, tau: float) -> np.ndarray:
    """AR(1) noise with stationary std `sigma` and correlation time `tau` steps, started stationary."""
    phi = math.exp(-1.0 / tau)
    innovations = rng.normal(0.0, 1.0, size=(steps, dim))
    noise = np.empty((steps, dim))
    noise[0] = sigma * innovations[0]
    scale = sigma * math.sqrt(1.0 - phi * phi)
    for k in range(1, steps):
        noise[k] = phi * noise[k - 1] + scale * innovations[k]
    return noise
