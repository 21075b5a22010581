"""gym-pusht as a robot a planner can drive, copy and restore.

Why not `env.step` everywhere: a planner that uses the simulator as its model (the upper bound
of the planner itself) steps thousands of candidate futures per replan, and `env.step` renders
a frame and computes the goal coverage with shapely on every call. `advance` runs exactly the
physics of `env.step` (the same PD control law and substeps) and nothing else; a test checks
that both give the same state. `snapshot`/`restore` carry velocities too: `reset_to_state`
would put a moving agent at rest.
"""

from __future__ import annotations

import os

os.environ.setdefault("SDL_VIDEODRIVER", "dummy")
os.environ.setdefault("PYGAME_HIDE_SUPPORT_PROMPT", "1")

from dataclasses import dataclass  # noqa: E402

import numpy as np  # noqa: E402

from dream_engine_ros.envs.pusht.training.pusht_data import IMAGE_SIZE, make_env  # noqa: E402

# DINO-WM's PushT success rule: agent and block within 20 units, block angle within pi/9.
POSITION_TOLERANCE = 20.0
ANGLE_TOLERANCE = np.pi / 9


@dataclass(frozen=True)
class Snapshot:
    """Everything that moves: positions, angles and velocities of the agent and the block."""

    agent_position: tuple[float, float]
    agent_velocity: tuple[float, float]
    block_position: tuple[float, float]
    block_angle: float
    block_velocity: tuple[float, float]
    block_angular_velocity: float


def wrap_angle(angle: np.ndarray | float) -> np.ndarray:
    """Angles wrapped to [-pi, pi)."""
    return (np.asarray(angle) + np.pi) % (2 * np.pi) - np.pi


def reached(state: np.ndarray, goal: np.ndarray) -> bool:
    """Benchmark success: agent and block positions within 20 units, angle within pi/9."""
    state, goal = np.asarray(state, dtype=np.float64), np.asarray(goal, dtype=np.float64)
    return bool(np.hypot(*(state[:2] - goal[:2])) <= POSITION_TOLERANCE
                and np.hypot(*(state[2:4] - goal[2:4])) <= POSITION_TOLERANCE
                and abs(wrap_angle(state[4] - goal[4])) <= ANGLE_TOLERANCE)


class PushTRobot:
    """One gym-pusht world: reset to a state, step with a target, render, copy, restore."""

    def __init__(self, image_size: int = IMAGE_SIZE) -> None:
        self.env = make_env(image_size)
        self.env.reset(options={"reset_to_state": np.array([256.0, 400.0, 256.0, 300.0, 0.0])})
        self._substeps = int(1 / (self.env.dt * self.env.control_hz))

    def close(self) -> None:
        self.env.close()

    def reset(self, state: np.ndarray) -> np.ndarray:
        """Put the world at rest exactly in `state` [agent x, agent y, block x, block y, block
        angle] (what `state` reads back); returns the rendered frame.

        gym-pusht's `reset_to_state` sets the block's position at angle 0 and then its angle,
        which turns the block about its centre of mass c (body frame), so the body origin lands
        on p + c - R(angle) c, not on p (up to ~90 units off). Handing it p - c + R(angle) c
        instead puts the origin on p: a state recorded from a trajectory is restored as it was.
        """
        target = np.asarray(state, dtype=np.float64)
        cog = self.env.block.center_of_gravity
        cos, sin = np.cos(target[4]), np.sin(target[4])
        legacy = target.copy()
        legacy[2] += cos * cog.x - sin * cog.y - cog.x
        legacy[3] += sin * cog.x + cos * cog.y - cog.y
        self.env.reset(options={"reset_to_state": legacy})
        return self.render()

    @property
    def state(self) -> np.ndarray:
        a, b = self.env.agent.position, self.env.block.position
        return np.array([a.x, a.y, b.x, b.y, self.env.block.angle], dtype=np.float64)

    def advance(self, action: np.ndarray) -> None:
        """One control step (`env.step`'s physics only): PD control of the agent towards the
        target, `substeps` physics steps."""
        env = self.env
        target = np.asarray(action, dtype=np.float64)
        for _ in range(self._substeps):
            position, velocity = env.agent.position, env.agent.velocity
            acceleration = (env.k_p * (target[0] - position.x) - env.k_v * velocity.x,
                            env.k_p * (target[1] - position.y) - env.k_v * velocity.y)
            env.agent.velocity = (velocity.x + acceleration[0] * env.dt, velocity.y + acceleration[1] * env.dt)
            env.space.step(env.dt)

    def step(self, action: np.ndarray) -> np.ndarray:
        """Advance one control step and return the new frame (what a camera sees)."""
        self.advance(action)
        return self.render()

    def render(self) -> np.ndarray:
        return np.asarray(self.env._render(), dtype=np.uint8)  # the env's own observation renderer

    def snapshot(self) -> Snapshot:
        agent, block = self.env.agent, self.env.block
        return Snapshot((agent.position.x, agent.position.y), (agent.velocity.x, agent.velocity.y),
                        (block.position.x, block.position.y), float(block.angle),
                        (block.velocity.x, block.velocity.y), float(block.angular_velocity))

    def restore(self, snap: Snapshot) -> None:
        """Rebuild the world in `snap`'s state. A fresh physics space, so no contact impulses
        cached by the solver carry over from whatever was simulated last: restoring the same
        snapshot twice and applying the same actions gives the same states. (The live robot
        keeps its cache, so a restored copy can drift from it by a few units in long contacts.)"""
        self.env._setup()
        agent, block = self.env.agent, self.env.block
        agent.position, agent.velocity = snap.agent_position, snap.agent_velocity
        block.angle, block.position = snap.block_angle, snap.block_position
        block.velocity, block.angular_velocity = snap.block_velocity, snap.block_angular_velocity
        self.env.space.reindex_shapes_for_body(agent)
        self.env.space.reindex_shapes_for_body(block)
