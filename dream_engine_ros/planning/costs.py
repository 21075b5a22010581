"""Goal costs: how predicted rollouts are scored against a goal image, registered by name.

Why a registry: the ROS node, the HTTP app and the planners must not know which costs exist or
which environment they read. They look a cost up by name and ask it what it needs:

- `frameless`: the cost scores the model's decode-free rollout (`DreamEngine.rollout_frameless`),
  no candidate frame is drawn; it needs a model that can roll out that way;
- `check_goal`: the goal image's own rules (size, what must be in sight), checked before any work.

Generic costs live here ("last-frame", "latent-goal"); an environment registers its own (e.g. a
PushT pose cost read from the frames by its reader) from its plug-in.

The default (a request's cost "") depends on the model and the request (`resolve_cost`): where the
model rolls out decode-free and nothing asks for the candidates' frames, "latent-goal" (no frame
drawn: what a planner that sends frame, candidates and goal image needs); otherwise "last-frame".
"""

from __future__ import annotations

from typing import Any, Protocol

import numpy as np

from dream_engine_ros.engine.errors import InputError
from dream_engine_ros.engine.registry import Registry
from dream_engine_ros.engine.spec import ModelSpec

DEFAULT_COST = "last-frame"
LATENT_GOAL = "latent-goal"


class GoalCost(Protocol):
    """A named cost of K candidates against a goal image (lower = closer)."""

    @property
    def name(self) -> str: ...

    @property
    def frameless(self) -> bool:
        """True: scores `rollout_frameless` states (`score_frameless`); False: drawn frames (`score_frames`)."""
        ...

    def check_goal(self, goal: np.ndarray, spec: ModelSpec) -> None:
        """A named InputError when the goal image cannot be scored by this cost for this spec."""
        ...

    def score_frames(self, engine: Any, frames: np.ndarray, goal: np.ndarray) -> np.ndarray:
        """(K, T + 1, H, W, 3) predicted frames -> (K,) costs."""
        ...

    def score_frameless(self, engine: Any, frame: np.ndarray, actions: np.ndarray, goal: np.ndarray,
                        history: tuple[np.ndarray, np.ndarray] | None = None) -> np.ndarray:
        """(K, T, D) candidates from `frame` (and its history) -> (K,) costs, no frame drawn."""
        ...


GOAL_COSTS: Registry[GoalCost] = Registry("goal cost")


def get_cost(name: str) -> GoalCost:
    """'' means 'last-frame' (see `resolve_cost` for a request's default); anything unknown is a named input error."""
    resolved = name or DEFAULT_COST
    if resolved not in GOAL_COSTS:
        raise InputError("cost", name, f"cost {name!r} is not one of {', '.join(GOAL_COSTS.names())} "
                         f"('' = the model's default: {LATENT_GOAL} where it rolls out decode-free, else "
                         f"{DEFAULT_COST})")
    return GOAL_COSTS.get(resolved)


def default_cost_name(decode_free: bool, needs_frames: bool) -> str:
    """The cost a request that names none gets: decode-free scoring where the model can and the
    request does not ask for the candidates' frames (videos), the last frame's distance otherwise."""
    return LATENT_GOAL if decode_free and not needs_frames else DEFAULT_COST


def resolve_cost(name: str, decode_free: bool, needs_frames: bool) -> GoalCost:
    """A request's cost: its name, or '' -> `default_cost_name`."""
    return get_cost(name or default_cost_name(decode_free, needs_frames))


def frame_cost_names() -> list[str]:
    """The registered costs that score drawn frames."""
    return [name for name in GOAL_COSTS.names() if not GOAL_COSTS.get(name).frameless]


def frameless_cost_names() -> list[str]:
    """The registered costs that score decode-free rollouts (a planner's search needs one)."""
    return [name for name in GOAL_COSTS.names() if GOAL_COSTS.get(name).frameless]


class FrameCost:
    """Base of costs that score drawn frames: `score_frameless` is refused with a named error."""

    name = ""
    frameless = False

    def check_goal(self, goal: np.ndarray, spec: ModelSpec) -> None:
        """No rule beyond the request's own frame checks."""

    def score_frames(self, engine: Any, frames: np.ndarray, goal: np.ndarray) -> np.ndarray:
        raise NotImplementedError

    def score_frameless(self, engine: Any, frame: np.ndarray, actions: np.ndarray, goal: np.ndarray,
                        history: tuple[np.ndarray, np.ndarray] | None = None) -> np.ndarray:
        raise InputError("cost", self.name, f"cost {self.name!r} scores drawn frames, not decode-free rollouts")


class LastFrameCost(FrameCost):
    """The spec's own frame distance of each candidate's last frame to the goal (latent distance for
    latent families, pooled pixels for pixel families): any spec."""

    name = DEFAULT_COST

    def score_frames(self, engine: Any, frames: np.ndarray, goal: np.ndarray) -> np.ndarray:
        return np.asarray(engine.frame_distance(frames[:, -1], goal), dtype=np.float64).reshape(-1)


class LatentGoalCost:
    """Any spec that rolls out decode-free: the distance of each predicted state to the goal image's
    state (`engine.encode_frameless`), d_t = mean squared difference per step, shaped as
    min_t d + mean_weight * mean_t d.

    Why this shaping: the minimum rewards a plan that passes through the goal at any step (the
    horizon need not end there), the mean rewards getting close early and staying; on PushT's
    structured planner the last step alone reached far fewer goals than min + mean
    (docs/planning.md). No frame is drawn and nothing about a scene is read: the state is
    whatever the model predicts in (a learned model's latents)."""

    name = LATENT_GOAL
    frameless = True

    def __init__(self, mean_weight: float = 1.0) -> None:
        self.mean_weight = mean_weight

    def check_goal(self, goal: np.ndarray, spec: ModelSpec) -> None:
        """The goal is an image (H, W, 3) uint8 of any size (fitted as start frames are)."""
        goal = np.asarray(goal)
        if goal.ndim != 3 or goal.shape[-1] != 3 or goal.dtype != np.uint8:
            raise InputError("goal", f"{goal.dtype} {goal.shape}", "goal image must be (H, W, 3) uint8")

    def per_step(self, states: np.ndarray, goal_state: np.ndarray) -> np.ndarray:
        """(K, T, S) predicted states and (S,) the goal's -> (K, T) mean squared distances."""
        diff = np.asarray(states, dtype=np.float64) - np.asarray(goal_state, dtype=np.float64).reshape(1, 1, -1)
        distances: np.ndarray = np.mean(diff * diff, axis=-1)
        return distances

    def score_frames(self, engine: Any, frames: np.ndarray, goal: np.ndarray) -> np.ndarray:
        raise InputError("cost", self.name, f"cost {self.name!r} scores decode-free rollouts, not frames")

    def score_frameless(self, engine: Any, frame: np.ndarray, actions: np.ndarray, goal: np.ndarray,
                        history: tuple[np.ndarray, np.ndarray] | None = None) -> np.ndarray:
        if not engine.can_roll_out_frameless:
            raise InputError("cost", self.name, f"spec {engine.spec.name!r} cannot roll out decode-free")
        self.check_goal(goal, engine.spec)
        goal_state = engine.encode_frameless(goal)[0]
        past_frames, past_actions = history if history is not None else (None, None)
        d = self.per_step(engine.rollout_frameless(frame, actions, past_frames, past_actions), goal_state)
        cost: np.ndarray = d.min(axis=1) + self.mean_weight * d.mean(axis=1)
        return cost


def score_rollouts(engine: Any, name: str, frames: np.ndarray, goal: np.ndarray) -> np.ndarray:
    """(K, T + 1, H, W, 3) predicted frames -> (K,) costs of the named cost, lower = closer to `goal`."""
    cost = get_cost(name)
    if cost.frameless:
        raise InputError("cost", name, f"cost {name!r} scores decode-free rollouts, not frames (score_frameless)")
    return cost.score_frames(engine, frames, goal)


GOAL_COSTS.register(DEFAULT_COST, LastFrameCost())
GOAL_COSTS.register(LATENT_GOAL, LatentGoalCost())
