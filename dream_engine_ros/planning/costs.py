"""Goal costs: how predicted rollouts are scored against a goal image, registered by name.

Why a registry: the ROS node, the HTTP app and the planners must not know which costs exist or
which environment they read. They look a cost up by name and ask it what it needs:

- `frameless`: the cost scores the model's decode-free rollout (`DreamEngine.rollout_frameless`),
  no candidate frame is drawn; it needs a model that can roll out that way;
- `check_goal`: the goal image's own rules (size, what must be in sight), checked before any work.

Generic costs live here ("last-frame"); an environment registers its own (e.g. a PushT pose cost
read from the frames by its reader) from its plug-in.
"""

from __future__ import annotations

from typing import Any, Protocol

import numpy as np

from dream_engine_ros.engine.errors import InputError
from dream_engine_ros.engine.registry import Registry
from dream_engine_ros.engine.spec import ModelSpec

DEFAULT_COST = "last-frame"


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
    """'' means the default ('last-frame'); anything unknown is a named input error."""
    resolved = name or DEFAULT_COST
    if resolved not in GOAL_COSTS:
        raise InputError("cost", name, f"cost {name!r} is not one of {', '.join(GOAL_COSTS.names())} "
                         f"('' = {DEFAULT_COST})")
    return GOAL_COSTS.get(resolved)


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


def score_rollouts(engine: Any, name: str, frames: np.ndarray, goal: np.ndarray) -> np.ndarray:
    """(K, T + 1, H, W, 3) predicted frames -> (K,) costs of the named cost, lower = closer to `goal`."""
    cost = get_cost(name)
    if cost.frameless:
        raise InputError("cost", name, f"cost {name!r} scores decode-free rollouts, not frames (score_frameless)")
    return cost.score_frames(engine, frames, goal)


GOAL_COSTS.register(DEFAULT_COST, LastFrameCost())
