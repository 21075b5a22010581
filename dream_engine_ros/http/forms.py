"""The two request forms (`/v1/predict`, `/v1/predict_batch`) -> validated, typed requests.

Everything a request can get wrong is found here, before it takes a place in the queue:
unknown or missing fields (400), sizes over the server's limits (413), non-PNG frames (415),
and whatever the engine's own validator refuses (422, in the validator's words).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from dream_engine_ros.engine.errors import InputError
from dream_engine_ros.engine.validation import RequestValidator
from dream_engine_ros.http.config import ServerConfig
from dream_engine_ros.http.decode import decode_npy, decode_png, parse_int, sampling_overrides, text_field
from dream_engine_ros.http.errors import ApiError
from dream_engine_ros.http.multipart import Part
from dream_engine_ros.planning.costs import resolve_cost

PREDICT_FIELDS = ("frame", "actions", "seed", "num_steps", "guidance")
BATCH_FIELDS = (*PREDICT_FIELDS, "seeds", "goal", "cost", "videos", "fused")
VIDEO_CHOICES = ("none", "best", "all")


@dataclass(frozen=True)
class PredictRequest:
    frame: np.ndarray
    actions: np.ndarray  # (T, D) float32, validated
    seed: int
    num_steps: int | None
    guidance: float | None


@dataclass(frozen=True)
class BatchRequest:
    frame: np.ndarray
    actions: np.ndarray  # (K, T, D) float32, validated
    seeds: list[int]
    num_steps: int | None
    guidance: float | None
    goal: np.ndarray | None
    cost: str | None
    videos: list[int]  # candidate indices whose mp4 is returned; "best" is resolved after scoring
    videos_best: bool
    fused: bool


def _check_fields(parts: dict[str, Part], allowed: tuple[str, ...]) -> None:
    for name in parts:
        if name not in allowed:
            raise ApiError(400, name, "unknown field", f"unknown form field {name!r}; allowed: {', '.join(allowed)}")
    for name in ("frame", "actions"):
        if name not in parts:
            raise ApiError(400, name, "missing", f"form field {name!r} is required")


def _text(parts: dict[str, Part], name: str) -> str | None:
    return text_field(bytes(parts[name].data), name) if name in parts else None


def _common(parts: dict[str, Part], config: ServerConfig, ndim: int) -> tuple[np.ndarray, np.ndarray, int,
                                                                              int | None, float | None]:
    frame = decode_png(bytes(parts["frame"].data), "frame", config.max_pixels)
    actions = decode_npy(bytes(parts["actions"].data), "actions", ndim, config.max_horizon,
                         config.max_candidates if ndim == 3 else None)
    seed_text = _text(parts, "seed")
    seed = parse_int(seed_text, "seed") if seed_text else 0
    num_steps, guidance = sampling_overrides(_text(parts, "num_steps"), _text(parts, "guidance"))
    return frame, actions, seed, num_steps, guidance


def parse_predict(parts: dict[str, Part], config: ServerConfig, validator: RequestValidator) -> PredictRequest:
    """multipart parts of `/v1/predict` -> a request the engine will accept."""
    _check_fields(parts, PREDICT_FIELDS)
    frame, actions, seed, num_steps, guidance = _common(parts, config, 2)
    try:
        valid = validator.request(frame, actions, num_steps, guidance, [seed])
    except InputError as exc:
        raise ApiError.from_input_error(exc) from None
    return PredictRequest(frame, valid, seed, num_steps, guidance)


def _seed_list(parts: dict[str, Part], seed: int, count: int) -> list[int]:
    text = _text(parts, "seeds")
    if not text:
        return [seed + k for k in range(count)]
    if "seed" in parts:
        raise ApiError(400, "seeds", text, "send either seed (candidate k uses seed + k) or seeds, not both")
    return [parse_int(item.strip(), "seeds") for item in text.split(",")]


def _videos(text: str | None, has_goal: bool, count: int, decode_free: bool) -> tuple[list[int], bool]:
    """The candidates whose mp4 is returned. Default: all without a goal; the best with a goal
    scored on drawn frames; none with a decode-free cost (nothing is drawn unless asked)."""
    choice = text or ("all" if not has_goal else "none" if decode_free else "best")
    if choice == "none":
        return [], False
    if choice == "all":
        return list(range(count)), False
    if choice == "best":
        if not has_goal:
            raise ApiError(422, "videos", choice, "'best' needs a goal image to rank candidates")
        return [], True
    indices = [parse_int(item.strip(), "videos") for item in choice.split(",")]
    for index in indices:
        if not 0 <= index < count:
            raise ApiError(422, "videos", index, f"candidate index {index} is not in [0, {count})")
    return sorted(set(indices)), False


def parse_batch(parts: dict[str, Part], config: ServerConfig, validator: RequestValidator) -> BatchRequest:
    """multipart parts of `/v1/predict_batch` -> a request the engine will accept."""
    _check_fields(parts, BATCH_FIELDS)
    frame, actions, seed, num_steps, guidance = _common(parts, config, 3)
    count = int(actions.shape[0])
    seeds = _seed_list(parts, seed, count)
    goal = decode_png(bytes(parts["goal"].data), "goal", config.max_pixels) if "goal" in parts else None
    cost_text = _text(parts, "cost")
    fused_text = _text(parts, "fused") or "false"
    if fused_text not in ("true", "false", "1", "0"):
        raise ApiError(400, "fused", fused_text, "fused must be true/false (or 1/0)")
    try:
        valid = validator.request(frame, actions, num_steps, guidance, seeds, batched=True)
        cost = None
        decode_free = False
        if goal is not None:
            validator.frame(goal, "goal")
            chosen = resolve_cost(cost_text or "", validator.decode_free, needs_frames=False)
            if chosen.frameless and not validator.decode_free:
                raise InputError("cost", chosen.name, f"cost {chosen.name!r} needs a model that rolls out "
                                 f"decode-free; {validator.spec.name!r} cannot (cost 'last-frame' scores frames)")
            chosen.check_goal(goal, validator.spec)
            cost, decode_free = chosen.name, chosen.frameless
        elif cost_text:
            raise InputError("cost", cost_text, "a cost needs a goal image (form field 'goal')")
    except InputError as exc:
        raise ApiError.from_input_error(exc) from None
    videos, best = _videos(_text(parts, "videos"), goal is not None, count, decode_free)
    return BatchRequest(frame, valid, seeds, num_steps, guidance, goal, cost, videos, best, fused_text in ("true", "1"))
