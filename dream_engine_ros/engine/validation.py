"""Request validation against a spec, before (and without) any model work.

Every rule names the field, the value and the rule, so a ROS result, an HTTP body or a CLI
line can say exactly what was wrong. Needs only the spec: callers validate before loading
weights or queueing a goal.
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import numpy as np

from dream_engine_ros.engine.errors import InputError, plain_value
from dream_engine_ros.engine.family import family_of
from dream_engine_ros.engine.seeding import MAX_SEED
from dream_engine_ros.engine.spec import ModelSpec

MAX_HORIZON = 1200
MAX_STEPS = 200
MAX_GUIDANCE = 30.0


def _as_int(value: object) -> int | None:
    """Python or numpy integer (not bool) as int; None for anything else."""
    if isinstance(value, bool) or not isinstance(value, (int, np.integer)):
        return None
    return int(value)


class RequestValidator:
    """Checks frames, action arrays, steps, guidance and seeds for one spec."""

    def __init__(self, spec: ModelSpec, has_negative_context: bool = False, has_guidance: bool | None = None,
                 reads_history: bool | None = None, decode_free: bool = False) -> None:
        """`has_guidance` / `reads_history`: what the spec's family can do; None asks the family registry
        (a remote client passes what the server said, for a family it may not have installed).
        `decode_free`: the loaded model rolls out without drawing frames (a request's default cost
        depends on it)."""
        self.spec = spec
        self.has_negative_context = has_negative_context
        self.decode_free = decode_free
        self.has_guidance = family_of(spec).has_guidance if has_guidance is None else has_guidance
        self.reads_history = family_of(spec).reads_history if reads_history is None else reads_history
        if spec.action_low and spec.action_high:
            self.bounds: tuple[np.ndarray, np.ndarray] | None = (
                np.asarray(spec.action_low, dtype=np.float32),
                np.asarray(spec.action_high, dtype=np.float32),
            )
        else:
            self.bounds = None

    def frame(self, frame: object, field: str = "frame") -> np.ndarray:
        if not isinstance(frame, np.ndarray):
            raise InputError(field, type(frame).__name__, "must be a numpy array (H, W, 3) of uint8")
        if frame.dtype != np.uint8:
            raise InputError(field, str(frame.dtype), "dtype must be uint8 (RGB pixels 0..255)")
        if frame.ndim != 3 or frame.shape[2] != 3:
            raise InputError(field, tuple(frame.shape), "shape must be (H, W, 3) RGB")
        if frame.shape[0] < 2 or frame.shape[1] < 2:
            raise InputError(field, tuple(frame.shape), "must be at least 2x2 pixels")
        return frame

    def actions(self, actions: object, batched: bool = False, field: str = "actions") -> np.ndarray:
        """Validated float32 copy of (T, D), or (K, T, D) when `batched`."""
        spec = self.spec
        arr = np.asarray(actions)
        if not (np.issubdtype(arr.dtype, np.floating) or np.issubdtype(arr.dtype, np.integer)):
            raise InputError(field, str(arr.dtype), "must be a numeric array")
        ndim = 3 if batched else 2
        if arr.ndim != ndim:
            want = "(K, T, D)" if batched else "(T, D)"
            raise InputError(field, tuple(arr.shape), f"shape must be {want}")
        if batched and arr.shape[0] < 1:
            raise InputError(field, arr.shape[0], "need at least one candidate")
        horizon, dim = arr.shape[-2], arr.shape[-1]
        if dim != spec.action_dim:
            raise InputError(field, dim, f"action_dim {dim} does not match the spec's action_dim {spec.action_dim}")
        if horizon == 0:
            raise InputError(field, horizon, f"horizon must be at least one chunk of {spec.chunk_size} actions")
        if horizon % spec.chunk_size:
            raise InputError(field, horizon, f"horizon {horizon} is not a multiple of chunk_size {spec.chunk_size}")
        if horizon > MAX_HORIZON:
            raise InputError(field, horizon, f"horizon {horizon} exceeds the maximum {MAX_HORIZON}")
        arr = arr.astype(np.float32)
        finite = np.isfinite(arr)
        if not finite.all():
            index = tuple(int(i) for i in np.argwhere(~finite)[0])
            value = float(arr[index])
            raise InputError(field, value, f"{field} has {plain_value(value)} at index {index} (the first bad "
                             "entry): all values must be finite")
        if self.bounds is not None:
            low, high = self.bounds
            outside = (arr < low) | (arr > high)
            if outside.any():
                index = tuple(int(i) for i in np.argwhere(outside)[0])
                value = float(arr[index])
                raise InputError(field, value, f"{field} has {plain_value(value)} at index {index} (the first bad "
                                 f"entry): values must lie in [{low.tolist()}, {high.tolist()}] per dimension")
        return arr

    def num_steps(self, num_steps: object) -> None:
        if num_steps is None:
            return
        if (isinstance(num_steps, bool) or not isinstance(num_steps, (int, np.integer))
                or not 1 <= num_steps <= MAX_STEPS):
            raise InputError("num_steps", num_steps,
                             f"num_steps {plain_value(num_steps)} must be an integer in [1, {MAX_STEPS}]")

    def guidance(self, guidance: object) -> None:
        if guidance is None:
            return
        if not isinstance(guidance, (int, float, np.floating)) or not math.isfinite(guidance) \
                or not 0.0 <= guidance <= MAX_GUIDANCE:
            raise InputError("guidance", guidance,
                             f"guidance {plain_value(guidance)} must be a finite number in [0, {MAX_GUIDANCE:g}]")
        if guidance and not self.has_guidance:
            raise InputError("guidance", guidance, f"guidance {plain_value(guidance)}: spec {self.spec.name!r} "
                             f"({self.spec.family}) has no unconditional branch; use 0")
        if guidance and self.spec.uncond == "negative-prompt" and not self.has_negative_context:
            raise InputError("guidance", guidance, f"guidance {plain_value(guidance)}: this spec has no negative "
                             "prompt embedding installed; use 0")

    def seed_range(self, seed: object, num_candidates: int = 1) -> int:
        """Candidate k uses seed + k, so the rule is seed + num_candidates - 1 < 2**32.

        Why a rule of its own: a batch whose first seed is valid but whose last is not must
        be told the batch rule, not "seed must be in [0, 2**32)" about a seed it never sent.
        """
        value = _as_int(seed)
        if value is None or not 0 <= value < MAX_SEED:
            raise InputError("seed", seed, f"seed {plain_value(seed)} must be an integer in [0, 2**32)")
        last = value + int(num_candidates) - 1
        if last >= MAX_SEED:
            raise InputError("seed", seed, f"seed {value} + num_candidates {int(num_candidates)} - 1 = {last} "
                             "must be < 2**32 (candidate k uses seed + k)")
        return value

    def seeds(self, seeds: Sequence[object], count: int | None = None) -> list[int]:
        if count is not None and len(seeds) != count:
            raise InputError("seeds", len(seeds), f"need one seed per candidate ({count})")
        values = [_as_int(seed) for seed in seeds]
        first = values[0] if values else None
        if len(values) > 1 and first is not None and values == [first + k for k in range(len(values))]:
            self.seed_range(seeds[0], len(values))  # seed + k batches: name the batch rule
        return [self.seed_range(seed) for seed in seeds]

    def history(self, frames: object, actions: object) -> tuple[np.ndarray, np.ndarray]:
        """Frames seen before the start frame (n, H, W, 3) uint8, oldest first, and the n actions
        that led from each of them to the next (the last one into the start frame).

        Why: a causal-video model sees its recent history; a robot that is already moving when
        a planner asks (closed-loop control) is not a robot at rest, and one frame cannot show
        its velocity. Only families that say so (`Family.reads_history`) read a history.
        """
        if not self.reads_history:
            raise InputError("history", self.spec.family, f"spec {self.spec.name!r} ({self.spec.family}) "
                             "starts from one frame; its family reads no history")
        arr = np.asarray(frames)
        if arr.ndim != 4 or arr.shape[0] < 1:
            raise InputError("history_frames", tuple(arr.shape), "shape must be (n, H, W, 3) with n >= 1")
        for i, frame in enumerate(arr):
            self.frame(frame, f"history_frames[{i}]")
        acts = np.asarray(actions)
        if acts.ndim != 2 or acts.shape[0] != arr.shape[0]:
            raise InputError("history_actions", tuple(acts.shape),
                             f"shape must be ({arr.shape[0]}, {self.spec.action_dim}): one action per history frame")
        if acts.shape[1] != self.spec.action_dim:
            raise InputError("history_actions", acts.shape[1],
                             f"action_dim {acts.shape[1]} does not match the spec's action_dim {self.spec.action_dim}")
        if not np.issubdtype(acts.dtype, np.number) or not np.isfinite(acts).all():
            raise InputError("history_actions", str(acts.dtype), "all values must be finite numbers")
        return arr, acts.astype(np.float32)

    def request(self, frame: object, actions: object, num_steps: object = None, guidance: object = None,
                seeds: Sequence[object] = (0,), batched: bool = False) -> np.ndarray:
        """Validate a whole request; returns the float32 actions."""
        self.frame(frame)
        arr = self.actions(actions, batched=batched)
        self.num_steps(num_steps)
        self.guidance(guidance)
        self.seeds(seeds, arr.shape[0] if batched else None)
        return arr
