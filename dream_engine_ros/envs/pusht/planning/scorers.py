"""What a planner asks a model: "score these K action sequences from here".

Three answers with one interface (`Scorer`): the Dream Engine's predicted frames, read back with
the PushT reader (`DreamScorer`); the Dream Engine's decode-free scene-state rollout, the same
model's agent and contact dynamics without drawing a frame (`SceneStateScorer`, what the shipped
planner uses: hundreds of candidates per replan); and the simulator itself (the planner's upper
bound: perfect physics, same cost). All are told where the robot is by `observe` before a replan.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from typing import Protocol

import numpy as np

from dream_engine_ros.engine.runner import DreamEngine
from dream_engine_ros.envs.pusht.evaluation.reader import SceneReadings
from dream_engine_ros.envs.pusht.geometry import pixels_to_world
from dream_engine_ros.envs.pusht.planning.goal import GoalCost, SceneGoal, rollout_costs, states_to_scenes
from dream_engine_ros.envs.pusht.planning.robot import PushTRobot, Snapshot


@dataclass
class Observation:
    """What the robot offers a planner at a replan: the camera and what led to it. `snapshot`
    is the simulator's full state (only the simulator-as-model planner may read it)."""

    frame: np.ndarray  # (H, W, 3) uint8
    history_frames: np.ndarray  # (n, H, W, 3) uint8, oldest first (n may be 0)
    history_actions: np.ndarray  # (n, D) actions that led from each history frame to the next
    snapshot: Snapshot | None = None

    def history(self) -> tuple[np.ndarray | None, np.ndarray | None]:
        """(frames, actions) for the engine's history arguments; (None, None) at a robot's first step."""
        if len(self.history_frames) == 0:
            return None, None
        return self.history_frames, self.history_actions


class Scorer(Protocol):
    def observe(self, observation: Observation) -> None: ...

    def __call__(self, actions: np.ndarray) -> np.ndarray: ...


@dataclass
class DreamScorer:
    """Scores candidates by rolling them out in the Dream Engine in one fused batch and reading
    agent and T from every `read_every`-th predicted frame (and the last)."""

    engine: DreamEngine
    goal: SceneGoal
    cost: GoalCost = field(default_factory=GoalCost)
    seed: int = 0
    read_every: int = 3
    fused: bool = True
    observation: Observation | None = None
    last_frames: np.ndarray | None = None  # (K, T + 1, H, W, 3) of the last call
    best_frames: np.ndarray | None = None  # (T + 1, H, W, 3): the cheapest candidate since `observe`
    best_cost: float = float("inf")
    rollout_seconds: float = 0.0
    read_seconds: float = 0.0

    def observe(self, observation: Observation) -> None:
        self.observation = observation
        self.best_frames, self.best_cost = None, float("inf")

    def __call__(self, actions: np.ndarray) -> np.ndarray:
        if self.observation is None:
            raise RuntimeError("observe() the robot before scoring")
        history_frames, history_actions = self.observation.history()
        tic = time.perf_counter()
        result = self.engine.predict_batch(self.observation.frame, actions, seeds=self.seed, fused=self.fused,
                                           history_frames=history_frames, history_actions=history_actions)
        self.rollout_seconds += time.perf_counter() - tic
        self.last_frames = result.frames
        tic = time.perf_counter()
        costs = rollout_costs(result.frames, self.goal, self.cost, self.read_every)
        self.read_seconds += time.perf_counter() - tic
        best = int(np.argmin(costs))
        if costs[best] < self.best_cost:
            self.best_cost, self.best_frames = float(costs[best]), result.frames[best]
        return costs


def scene_state_readings(states: np.ndarray, pixels: int) -> SceneReadings:
    """Scene states (..., 5) in pixels (`engine.scene_states`) -> the readings the goal cost takes."""
    return SceneReadings(pixels_to_world(states[..., :2], pixels), pixels_to_world(states[..., 2:4], pixels),
                         np.asarray(states[..., 4], dtype=np.float64), np.full(states.shape[:-1], -1, dtype=np.int64))


@dataclass
class SceneStateScorer:
    """Scores candidates with the engine's decode-free scene-state rollout (every step scored)."""

    engine: DreamEngine
    goal: SceneGoal
    cost: GoalCost = field(default_factory=GoalCost)
    observation: Observation | None = None

    def observe(self, observation: Observation) -> None:
        self.observation = observation

    def __call__(self, actions: np.ndarray) -> np.ndarray:
        if self.observation is None:
            raise RuntimeError("observe() the robot before scoring")
        states = self.engine.rollout_frameless(self.observation.frame, actions, *self.observation.history())
        return self.cost(scene_state_readings(states, self.engine.spec.height), self.goal)


@dataclass
class SimulatorScorer:
    """Scores candidates in a private copy of the simulator, from the robot's exact snapshot."""

    goal: SceneGoal
    cost: GoalCost = field(default_factory=GoalCost)
    robot: PushTRobot = field(default_factory=PushTRobot)
    snapshot: Snapshot | None = None

    def observe(self, observation: Observation) -> None:
        if observation.snapshot is None:
            raise ValueError("the simulator-as-model planner needs the simulator's snapshot")
        self.snapshot = observation.snapshot

    def __call__(self, actions: np.ndarray) -> np.ndarray:
        if self.snapshot is None:
            raise RuntimeError("observe() the robot before scoring")
        states = np.empty((actions.shape[0], actions.shape[1], 5))
        for k, plan in enumerate(actions):
            self.robot.restore(self.snapshot)
            for t, action in enumerate(plan):
                self.robot.advance(action)
                states[k, t] = self.robot.state
        return self.cost(states_to_scenes(states), self.goal)
