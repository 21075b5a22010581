"""Held-out PushT episodes of four kinds, with the simulator's state at every frame.

Why four kinds: a planner asks a world model about very different futures, and averaging them
hides the hard one. `push` starts the agent just behind the T and drives it through (contact
within a few frames, long pushes, rotations from the lateral offset; only episodes whose block
moves at least 20 units or turns at least pi/9 are kept); `walk` is a smooth random
walk of the target (mostly free motion); `sweep` moves the target back and forth along a line
(reversals: the agent's hidden velocity matters); `still` holds the target at one point (the
agent settles and nothing else moves).

Each episode depends only on (seed, kind, index) through one `SeedSequence`, so a held-out set
is reproducible anywhere and never overlaps the training generator's seeds by construction of
the callers (tests and the evaluation script pick their own seeds).
"""

from __future__ import annotations

import os

os.environ.setdefault("SDL_VIDEODRIVER", "dummy")
os.environ.setdefault("PYGAME_HIDE_SUPPORT_PROMPT", "1")

from collections.abc import Callable, Sequence  # noqa: E402
from dataclasses import dataclass  # noqa: E402
from typing import Any  # noqa: E402

import numpy as np  # noqa: E402

from dream_engine_ros.envs.pusht.contact_model import gap_to_block  # noqa: E402
from dream_engine_ros.envs.pusht.geometry import T_CENTROID_LOCAL, WORLD_SIZE  # noqa: E402
from dream_engine_ros.envs.pusht.training.pusht_data import (  # noqa: E402
    HIGH,
    IMAGE_SIZE,
    LOW,
    Policy,
    make_env,
    policy_smooth,
    sim_of,
    state_of,
)

KINDS: tuple[str, ...] = ("push", "walk", "sweep", "still")

# The T's centre of gravity in its body frame (gym-pusht: mean of the bar's and the stem's).
_T_COG_LOCAL = np.array([0.0, 45.0])


@dataclass(frozen=True)
class Episode:
    """One held-out episode: frames (T+1, H, W, 3) uint8, actions (T, 2) float32 in env units,
    states (T+1, 5) float64 [agent x, agent y, block x, block y, block angle (unwrapped)]."""

    kind: str
    frames: np.ndarray
    actions: np.ndarray
    states: np.ndarray
    start_state: np.ndarray  # what `reset_to_state` was given


Plan = Callable[[int, np.ndarray], np.ndarray]  # (step, agent position) -> target


def _rot(angle: float) -> np.ndarray:
    c, s = np.cos(angle), np.sin(angle)
    return np.array([[c, -s], [s, c]])


def realised_start(start: np.ndarray) -> np.ndarray:
    """The state gym-pusht's `reset_to_state` really puts the world in: it sets the block's position
    at angle 0 and then its angle, which turns the block about its centre of gravity c, so the body
    lands on p + c - R(angle) c (`envs/pusht/planning/robot.py` hands it the inverse instead)."""
    out = np.array(start, dtype=np.float64)
    out[2:4] += _T_COG_LOCAL - _rot(float(out[4])) @ _T_COG_LOCAL
    return out


def agent_gap_to_t(state: np.ndarray) -> float:
    """World units between the agent's rim and the T's outline in a state [agent x, y, block x, y,
    angle] (as the simulator holds it); negative when they overlap."""
    angle = float(state[4])
    centroid = state[2:4] + _rot(angle) @ T_CENTROID_LOCAL
    return float(gap_to_block(state[:2], centroid, np.array(angle), int(WORLD_SIZE)))


def push_start(rng: np.random.Generator, clear_of_t: bool = True) -> tuple[np.ndarray, Plan]:
    """Agent just behind the T along a random direction, target driven through the block.

    `clear_of_t`: the agent's disk must not overlap the T. Drawn without that rule, about one push
    in five started with the agent inside the T, and gym-pusht's solver then threw the block out
    in the first frames: no robot's camera ever shows such a state. Draws that pass the rule are
    the same either way; training data generators that made the shipped weights pass False."""
    while True:
        block = rng.uniform(170.0, 342.0, size=2)
        angle = float(rng.uniform(-np.pi, np.pi))
        cog = block + _rot(angle) @ _T_COG_LOCAL
        direction_angle = rng.uniform(-np.pi, np.pi)
        d = np.array([np.cos(direction_angle), np.sin(direction_angle)])
        perp = np.array([-d[1], d[0]])
        agent = cog - d * rng.uniform(80.0, 100.0) + perp * rng.uniform(-30.0, 30.0)
        start = np.array([*agent, *block, angle])
        inside = np.all(agent > LOW) and np.all(agent < HIGH)
        if inside and (not clear_of_t or agent_gap_to_t(realised_start(start)) >= 0.0):
            break
    speed = float(rng.uniform(6.0, 12.0))
    length = float(rng.uniform(150.0, 300.0))
    origin = agent.copy()

    def plan(step: int, _: np.ndarray) -> np.ndarray:
        target: np.ndarray = np.clip(origin + d * min(speed * (step + 1), length), LOW, HIGH)
        return target

    return start, plan


def random_start(rng: np.random.Generator, clear_of_t: bool = True) -> np.ndarray:
    """gym-pusht's own reset ranges, minus starts where the agent sits inside the T (the solver
    then throws the block away in the first step, which is no test of a world model).

    The first rule (agent more than 95 units from the T's centre of gravity) missed the block's
    turn in `reset_to_state` and let about one start in 30 overlap; `clear_of_t` checks the
    realised start as well (training data generators that made the shipped weights pass False)."""
    while True:
        state = np.array([rng.uniform(50, 450), rng.uniform(50, 450), rng.uniform(100, 400),
                          rng.uniform(100, 400), rng.uniform(-np.pi, np.pi)])
        cog = state[2:4] + _rot(float(state[4])) @ _T_COG_LOCAL
        clear = not clear_of_t or agent_gap_to_t(realised_start(state)) >= 0.0
        if np.hypot(*(state[:2] - cog)) > 95.0 and clear:
            return state


def sweep_plan(rng: np.random.Generator, state: np.ndarray) -> Plan:
    centre = state[:2] + rng.normal(0.0, 40.0, size=2)
    heading = rng.uniform(-np.pi, np.pi)
    half = rng.uniform(50.0, 120.0)
    period = float(rng.uniform(8.0, 20.0))
    a = np.clip(centre - half * np.array([np.cos(heading), np.sin(heading)]), LOW, HIGH)
    b = np.clip(centre + half * np.array([np.cos(heading), np.sin(heading)]), LOW, HIGH)

    def plan(step: int, _: np.ndarray) -> np.ndarray:
        w = 0.5 - 0.5 * np.cos(2.0 * np.pi * (step + 1) / period)
        target: np.ndarray = a + (b - a) * w
        return target

    return plan


def _still_plan(rng: np.random.Generator, state: np.ndarray) -> Plan:
    target = np.clip(state[:2] + rng.uniform(-40.0, 40.0, size=2), LOW, HIGH)
    return lambda step, _: target


# `env` below: a gym-pusht PushTEnv (from `make_env`); gym-pusht is untyped, so it is Any here.
def _simulate(env: Any, start_state: np.ndarray, steps: int, plan: Plan) -> tuple[np.ndarray, ...]:
    obs, _ = env.reset(options={"reset_to_state": start_state})
    frames, states, actions = [obs["pixels"]], [state_of(env)], []
    for k in range(steps):
        action = np.asarray(plan(k, np.array(env.agent.position)), dtype=np.float32)
        obs, *_ = env.step(action.copy())
        actions.append(action)
        frames.append(obs["pixels"])
        states.append(state_of(env))
    states_arr = np.stack(states)
    states_arr[:, 4] = np.unwrap(states_arr[:, 4])
    return np.stack(frames), np.stack(actions), states_arr


def generate(kind: str, count: int, steps: int, seed: int, image_size: int = IMAGE_SIZE,
             clear_starts: bool = True) -> list[Episode]:
    """`count` episodes of one kind with `steps` actions each; deterministic in (seed, kind).
    `clear_starts=False`: episodes may start with the agent overlapping the T (`push_start`,
    `random_start`), as in the frame network's shipped training data."""
    if kind not in KINDS:
        raise ValueError(f"kind {kind!r} is not one of {KINDS}")
    if count < 1 or steps < 1:
        raise ValueError(f"count and steps must be >= 1, got {count} and {steps}")
    entropy = [int(seed), KINDS.index(kind)]
    env = make_env(image_size)
    episodes = []
    try:
        for child in np.random.SeedSequence(entropy).spawn(count):
            rng = np.random.default_rng(child)
            if kind == "push":
                episodes.append(_pushing_episode(env, rng, steps, clear_starts))
                continue
            else:
                start = random_start(rng, clear_starts)
                if kind == "sweep":
                    plan = sweep_plan(rng, start)
                elif kind == "still":
                    plan = _still_plan(rng, start)
                else:
                    env.reset(options={"reset_to_state": start})
                    policy = policy_smooth(rng, sim_of(env))
                    plan = _policy_plan(env, policy)
            frames, actions, states = _simulate(env, start, steps, plan)
            episodes.append(Episode(kind, frames, actions, states, start))
    finally:
        env.close()
    return episodes


def _pushing_episode(env: Any, rng: np.random.Generator, steps: int, clear_start: bool, tries: int = 50) -> Episode:
    """A `push` episode whose block really moves (>= 20 units or >= pi/9 by the end, the
    MPC benchmark's threshold): a lateral offset can make the agent slide past a thin stem."""
    for _ in range(tries):
        start, plan = push_start(rng, clear_start)
        frames, actions, states = _simulate(env, start, steps, plan)
        moved = float(np.hypot(*(states[-1, 2:4] - states[0, 2:4])))
        if moved >= 20.0 or abs(states[-1, 4] - states[0, 4]) >= np.pi / 9:
            return Episode("push", frames, actions, states, start)
    raise RuntimeError(f"no pushing episode in {tries} tries (steps={steps} may be too short)")


def _policy_plan(env: Any, policy: Policy) -> Plan:
    """Adapt a training-data policy (which looks at the live env) to a Plan."""
    return lambda step, _: policy(sim_of(env))


def generate_all(count: int, steps: int, seed: int, kinds: Sequence[str] = KINDS) -> dict[str, list[Episode]]:
    return {kind: generate(kind, count, steps, seed) for kind in kinds}
